import { TensorError } from '../errors.js';
import { blocksFor, defaultGenerator, type Generator } from '../random.js';
import { Tensor } from '../tensor.js';
import { requireFloat } from './util.js';

/** Options of {@link dropout}. */
export interface DropoutOptions {
  /** Off at evaluation: the input passes through (default true). */
  readonly training?: boolean;
  /** The stream the mask is drawn from (default: the global generator). */
  readonly generator?: Generator;
}

/**
 * Zeroes each element with probability p and scales the rest by 1 / (1 - p) (inverted
 * dropout, as PyTorch). The mask comes from a seeded generator, so a run is repeatable.
 */
export function dropout(x: Tensor, p: number, options: DropoutOptions = {}): Tensor {
  requireFloat('dropout', 'input', x);
  if (!(p >= 0 && p <= 1)) throw new TensorError('dropout', `p must be in [0, 1], got ${p}`);
  if (options.training === false || p === 0) return x;
  if (p === 1) return x.mul(0);
  const key = (options.generator ?? defaultGenerator).take(blocksFor('uniform', x.size));
  const u = Tensor.fromData(
    x.backend.random('uniform', x.dtype, x.size, key),
    x.shape,
    x.dtype,
    x.backend,
  );
  const mask = u
    .ge(p)
    .cast(x.dtype)
    .mul(1 / (1 - p));
  return x.mul(mask);
}
