import { noGrad, tidy } from '../engine.js';
import { TensorError } from '../errors.js';
import { stack } from '../ops/views.js';
import type { Tensor } from '../tensor.js';

/**
 * Scales the gradients of `params` in place so that their global L2 norm is at most
 * `maxNorm` (torch.nn.utils.clip_grad_norm_: coefficient min(1, maxNorm / (norm + 1e-6))).
 * Returns the norm before clipping as a one-element tensor (float64 when any gradient is,
 * else float32); nothing is read back, so on a device the step never waits for the host.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): Tensor {
  if (!(maxNorm > 0))
    throw new TensorError('clipGradNorm', `maxNorm must be positive, got ${maxNorm}`);
  const grads = [...params].map((p) => p.grad).filter((g): g is Tensor => g !== null);
  if (grads.length === 0) throw new TensorError('clipGradNorm', 'no parameter has a gradient');
  // float32 unless a gradient is float64, so float64 training clips at float64 precision.
  const dtype = grads.some((g) => g.dtype === 'float64') ? 'float64' : 'float32';
  return noGrad(() =>
    tidy(() => {
      const norm = stack(grads.map((g) => g.square().sum().cast(dtype)))
        .sum()
        .sqrt();
      const coef = norm.add(1e-6).reciprocal().mul(maxNorm).minimum(1);
      for (const g of grads) g.assign(g.mul(coef.cast(g.dtype)));
      return norm;
    }),
  );
}
