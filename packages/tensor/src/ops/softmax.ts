import { record } from '../autograd.js';
import { normalizeAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { requireFloat, wrap } from './util.js';

function softmaxAlong(x: Tensor, axis: number, log: boolean): Tensor {
  const op = log ? 'logSoftmax' : 'softmax';
  requireFloat(op, 'input', x);
  const a = normalizeAxis(op, axis, Math.max(x.rank, 1));
  if (x.rank === 0) return softmaxAlong(x.reshape(1), 0, log).reshape([]);
  // The kernel works on the last axis of contiguous rows; other axes move there and back.
  const last = x.rank - 1;
  const moved = a === last ? x : x.transpose(a, last);
  const src = moved.contiguous();
  const cols = src.shape[last];
  const rows = cols === 0 ? 0 : src.size / cols;
  const backend = src.backend;
  const y = wrap(backend, backend.softmax(src.kernelView(), rows, cols, log), src.shape, src.dtype);
  record(op, [src], y, (g) => [
    wrap(
      backend,
      backend.softmaxGrad(y.kernelView(), g.contiguous().kernelView(), rows, cols, log),
      src.shape,
      src.dtype,
    ),
  ]);
  return a === last ? y : y.transpose(a, last);
}

/** exp(x) / sum(exp(x)) along `axis`, computed stably. */
export function softmax(x: Tensor, axis = -1): Tensor {
  return softmaxAlong(x, axis, false);
}

/** x - logsumexp(x) along `axis`. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return softmaxAlong(x, axis, true);
}
