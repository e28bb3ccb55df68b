import { recordMulti } from '../autograd.js';
import { fmtShape, TensorError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { requireFloat, sameBackend, wrap } from './util.js';

/**
 * Root-mean-square normalisation over the last axis: x / sqrt(mean(x^2) + eps) * weight,
 * with no mean subtraction and no bias (Mamba's RMSNorm).
 */
export function rmsNorm(x: Tensor, weight: Tensor | null, eps = 1e-5): Tensor {
  const backend = sameBackend('rmsNorm', x, weight);
  requireFloat('rmsNorm', 'input', x);
  if (x.rank === 0) throw new TensorError('rmsNorm', 'input needs at least one axis');
  const cols = x.shape[x.rank - 1];
  if (weight && (weight.rank !== 1 || weight.shape[0] !== cols || weight.dtype !== x.dtype)) {
    throw new TensorError(
      'rmsNorm',
      `weight must be ${x.dtype} of shape [${cols}] to match input ${fmtShape(x.shape)}, got ${weight.dtype} ${fmtShape(weight.shape)}`,
    );
  }
  if (!(eps >= 0)) throw new TensorError('rmsNorm', `eps must be non-negative, got ${eps}`);
  const src = x.contiguous();
  const rows = cols === 0 ? 0 : src.size / cols;
  const w = weight?.contiguous() ?? null;
  const r = backend.rmsNorm(src.kernelView(), w?.kernelView() ?? null, rows, cols, eps);
  const y = wrap(backend, r.y, src.shape, src.dtype);
  const rstd = wrap(backend, r.rstd, [rows], src.dtype);
  recordMulti('rmsNorm', [src, w], [y], (grads) => {
    const g = grads[0];
    if (!g) return [null, null];
    const d = backend.rmsNormGrad(
      src.kernelView(),
      w?.kernelView() ?? null,
      rstd.kernelView(),
      g.contiguous().kernelView(),
      rows,
      cols,
    );
    return [
      wrap(backend, d.dx, src.shape, src.dtype),
      d.dweight && w ? wrap(backend, d.dweight, w.shape, w.dtype) : null,
    ];
  });
  return y;
}
