/**
 * Host-side processing of one row of next-token logits: log-softmax, the sampling warpers
 * of Hugging Face (temperature, top-k, top-p, in that order) and drawing a token.
 */

import { MambaModelError } from '../model/errors.js';

/** log-softmax of `row` in float64 (-Infinity stays -Infinity). */
export function logSoftmax(row: ArrayLike<number>): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  const out = new Float64Array(row.length);
  if (max === Number.NEGATIVE_INFINITY) return out.fill(Number.NEGATIVE_INFINITY);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  const lse = max + Math.log(sum);
  for (let i = 0; i < row.length; i++) out[i] = row[i] - lse;
  return out;
}

/** Index of the largest value (the first one on ties). */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Options of {@link warp}. */
export interface WarpOptions {
  /** Divides the logits (must be > 0); 1 leaves them. */
  readonly temperature?: number;
  /** Keeps the k largest logits (ties with the k-th kept too); 0 or undefined keeps all. */
  readonly topK?: number;
  /** Keeps the smallest set of most likely tokens whose probability reaches topP (0, 1]. */
  readonly topP?: number;
}

/**
 * Applies temperature, top-k and top-p to a copy of `row`, setting removed tokens to
 * -Infinity, as Hugging Face's `TemperatureLogitsWarper`, `TopKLogitsWarper` and
 * `TopPLogitsWarper` (min_tokens_to_keep 1) do.
 */
export function warp(row: ArrayLike<number>, options: WarpOptions): Float64Array {
  const out = Float64Array.from(row);
  const temperature = options.temperature ?? 1;
  if (temperature !== 1) for (let i = 0; i < out.length; i++) out[i] /= temperature;
  const k = options.topK ?? 0;
  if (k > 0 && k < out.length) {
    const kth = Float64Array.from(out).sort().reverse()[k - 1];
    for (let i = 0; i < out.length; i++) if (out[i] < kth) out[i] = Number.NEGATIVE_INFINITY;
  }
  const p = options.topP ?? 1;
  if (p < 1) {
    // Ascending order; drop the low tail whose total probability is at most 1 - p.
    const order = Array.from(out.keys()).sort((a, b) => out[a] - out[b] || b - a);
    const probs = softmax(out);
    let cum = 0;
    for (let j = 0; j < order.length - 1; j++) {
      cum += probs[order[j]];
      if (cum <= 1 - p) out[order[j]] = Number.NEGATIVE_INFINITY;
      else break;
    }
  }
  return out;
}

/** softmax of `row` in float64. */
export function softmax(row: ArrayLike<number>): Float64Array {
  const out = logSoftmax(row);
  for (let i = 0; i < out.length; i++) out[i] = Math.exp(out[i]);
  return out;
}

/** Draws an index from the distribution softmax(row) with a uniform u in [0, 1). */
export function sampleIndex(row: ArrayLike<number>, u: number): number {
  const probs = softmax(row);
  let total = 0;
  for (let i = 0; i < probs.length; i++) total += probs[i];
  const target = u * total;
  let cum = 0;
  let last = -1;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] <= 0) continue;
    cum += probs[i];
    last = i;
    if (cum > target) return i;
  }
  if (last < 0) {
    throw new MambaModelError('sampling: every token has probability 0 after the warpers');
  }
  return last;
}
