import { record } from '../autograd.js';
import { isFloat } from '../dtype.js';
import { fmtShape, TensorError } from '../errors.js';
import { normalizeAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { sameBackend, wrap } from './util.js';

/**
 * Picks slices of `x` along `axis` by int32 indices of any shape; the output replaces that
 * axis by the index shape. Its gradient adds each output slice back at its index
 * (scatter-add), so repeated indices accumulate.
 */
export function indexSelect(x: Tensor, axis: number, index: Tensor): Tensor {
  const backend = sameBackend('indexSelect', x, index);
  if (index.dtype !== 'int32') {
    throw new TensorError('indexSelect', `indices must be int32, got ${index.dtype}`);
  }
  const a = normalizeAxis('indexSelect', axis, x.rank);
  const outer = x.shape.slice(0, a).reduce((p, d) => p * d, 1);
  const n = x.shape[a];
  const inner = x.shape.slice(a + 1).reduce((p, d) => p * d, 1);
  const src = x.contiguous();
  const idx = index.contiguous();
  const shape = [...x.shape.slice(0, a), ...index.shape, ...x.shape.slice(a + 1)];
  const out = wrap(
    backend,
    backend.indexSelect(src.kernelView(), outer, n, inner, idx.kernelView()),
    shape,
    x.dtype,
  );
  if (!isFloat(x.dtype)) return out;
  return record('indexSelect', [x], out, (g) => [
    wrap(
      backend,
      backend.indexAdd(g.contiguous().kernelView(), outer, n, inner, idx.kernelView()),
      x.shape,
      x.dtype,
    ),
  ]);
}

/** Embedding lookup: rows of `weight` (vocab, dim) for int32 token ids of any shape. */
export function embedding(weight: Tensor, ids: Tensor): Tensor {
  if (weight.rank !== 2) {
    throw new TensorError(
      'embedding',
      `weight must have shape (vocab, dim), got ${fmtShape(weight.shape)}`,
    );
  }
  return indexSelect(weight, 0, ids);
}
