import { MetricError } from '../errors.js';

/** What the batching of both loops needs from their options. */
export interface BatchOptions {
  /** Prompts per model call. Default 1, as the paper evaluates. */
  batchSize?: number;
  /** Called after each batch with the number of examples done and the total. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Feeds the prompts of `examples` to `call`, `batchSize` at a time and in order, and hands
 * each output to `each` with its example's index as soon as its batch returns (so logits
 * rows need not all be held at once).
 *
 * @param what names the call and its outputs for errors, e.g. `['model.logits', 'rows']`.
 * @throws {@link MetricError} on no examples, an empty or non-array prompt, a bad batch
 * size, or a call that returns the wrong number of outputs.
 */
export async function forEachBatch<R>(
  fn: string,
  examples: readonly { promptIds: readonly number[] }[],
  options: BatchOptions,
  what: readonly [call: string, outputs: string],
  call: (prompts: (readonly number[])[]) => Promise<readonly R[]>,
  each: (output: R, index: number) => void,
): Promise<void> {
  if (!Array.isArray(examples) || examples.length === 0) {
    throw new MetricError(fn, 'no examples to evaluate');
  }
  examples.forEach((ex, i) => {
    if (!Array.isArray(ex?.promptIds) || ex.promptIds.length === 0) {
      throw new MetricError(fn, `examples[${i}].promptIds must be a non-empty array of token ids`);
    }
  });
  const batchSize = options.batchSize ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new MetricError(fn, `batchSize must be a positive integer, got ${batchSize}`);
  }
  for (let start = 0; start < examples.length; start += batchSize) {
    const batch = examples.slice(start, start + batchSize);
    const outs = await call(batch.map((e) => e.promptIds));
    if (!outs || outs.length !== batch.length) {
      throw new MetricError(
        fn,
        `${what[0]} returned ${outs ? outs.length : 'nothing'} ${what[1]} for a batch of ${batch.length} prompts (examples ${start}..${start + batch.length - 1})`,
      );
    }
    for (let k = 0; k < outs.length; k++) each(outs[k], start + k);
    options.onProgress?.(Math.min(start + batchSize, examples.length), examples.length);
  }
}
