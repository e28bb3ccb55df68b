import { record } from '../autograd.js';
import { fmtShape, TensorError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { requireFloat, sameBackend, wrap } from './util.js';

/** Options of {@link crossEntropy}. */
export interface CrossEntropyOptions {
  /** Targets equal to this contribute nothing (default -100, as PyTorch). */
  readonly ignoreIndex?: number;
  /** `mean` over non-ignored targets (default), `sum`, or `none` (one loss per target, 0 where ignored). */
  readonly reduction?: 'mean' | 'sum' | 'none';
}

/**
 * Cross-entropy between logits (..., classes) and int32 class targets (...), computed from
 * the log-sum-exp of each row without materialising the softmax. With `mean`, a batch whose
 * targets are all ignored gives NaN, as PyTorch does.
 */
export function crossEntropy(
  logits: Tensor,
  targets: Tensor,
  options: CrossEntropyOptions = {},
): Tensor {
  const ignoreIndex = options.ignoreIndex ?? -100;
  const reduction = options.reduction ?? 'mean';
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
    throw new TensorError(
      'crossEntropy',
      `reduction must be 'mean', 'sum' or 'none', got ${JSON.stringify(reduction)}`,
    );
  }
  if (!Number.isInteger(ignoreIndex)) {
    throw new TensorError('crossEntropy', `ignoreIndex must be an integer, got ${ignoreIndex}`);
  }
  const backend = sameBackend('crossEntropy', logits, targets);
  requireFloat('crossEntropy', 'logits', logits);
  if (targets.dtype !== 'int32') {
    throw new TensorError(
      'crossEntropy',
      `targets must be int32 class indices, got ${targets.dtype}`,
    );
  }
  const lead = logits.shape.slice(0, -1);
  if (
    logits.rank < 1 ||
    targets.rank !== lead.length ||
    targets.shape.some((d, i) => d !== lead[i])
  ) {
    throw new TensorError(
      'crossEntropy',
      `targets of shape ${fmtShape(targets.shape)} must match the logits ${fmtShape(logits.shape)} without the class axis, i.e. ${fmtShape(lead)}`,
    );
  }
  const cols = logits.shape[logits.rank - 1];
  const rows = targets.size;
  const src = logits.contiguous();
  const tgt = targets.contiguous();
  const { loss, lse } = backend.crossEntropy(
    src.kernelView(),
    tgt.kernelView(),
    rows,
    cols,
    ignoreIndex,
  );
  const lseT = wrap(backend, lse, [rows], src.dtype);
  const perRow = wrap(backend, loss, targets.shape, src.dtype);
  record('crossEntropy', [src], perRow, (g) => [
    wrap(
      backend,
      backend.crossEntropyGrad(
        src.kernelView(),
        lseT.kernelView(),
        tgt.kernelView(),
        g.contiguous().kernelView(),
        rows,
        cols,
        ignoreIndex,
      ),
      src.shape,
      src.dtype,
    ),
  ]);
  if (reduction === 'none') return perRow;
  const total = perRow.sum();
  if (reduction === 'sum') return total;
  const count = targets.ne(ignoreIndex).sum().cast(src.dtype);
  return total.div(count);
}
