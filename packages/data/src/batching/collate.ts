import { IGNORE_INDEX, type LmExample } from '../tasks/tokenize.js';

/**
 * A padded batch, row-major `[batchSize, seqLen]`. Right padding: inputs with `padId`
 * (0 = `<|endoftext|>`), labels with -100, so padding never enters the loss.
 */
export interface Batch {
  readonly inputIds: Int32Array;
  readonly labels: Int32Array;
  /** `[batchSize, seqLen]`. */
  readonly shape: readonly [number, number];
  /** Unpadded length of each row. */
  readonly lengths: Int32Array;
  /** Example ids, in row order. */
  readonly ids: readonly string[];
  /** Number of label tokens that are not -100 (the loss's denominator). */
  readonly labelTokens: number;
}

/** Options of {@link collate}. */
export interface CollateOptions {
  /** Input padding id (default 0). */
  readonly padId?: number;
  /** Round the padded length up to a multiple of this (default 1). */
  readonly padToMultipleOf?: number;
}

/** Right-pads examples into a {@link Batch}, as the paper's collator does. */
export function collate(examples: readonly LmExample[], options: CollateOptions = {}): Batch {
  if (examples.length === 0) throw new RangeError('collate: no examples');
  const padId = options.padId ?? 0;
  const multiple = options.padToMultipleOf ?? 1;
  if (!Number.isInteger(multiple) || multiple < 1) {
    throw new RangeError(`collate: padToMultipleOf must be a positive integer, got ${multiple}`);
  }
  let max = 0;
  for (const ex of examples) {
    if (ex.inputIds.length !== ex.labels.length) {
      throw new RangeError(
        `collate: example ${ex.id} has ${ex.inputIds.length} inputs but ${ex.labels.length} labels`,
      );
    }
    max = Math.max(max, ex.inputIds.length);
  }
  const seqLen = Math.ceil(max / multiple) * multiple;
  const b = examples.length;
  const inputIds = new Int32Array(b * seqLen).fill(padId);
  const labels = new Int32Array(b * seqLen).fill(IGNORE_INDEX);
  const lengths = new Int32Array(b);
  let labelTokens = 0;
  examples.forEach((ex, i) => {
    inputIds.set(ex.inputIds, i * seqLen);
    labels.set(ex.labels, i * seqLen);
    lengths[i] = ex.inputIds.length;
    for (const l of ex.labels) if (l !== IGNORE_INDEX) labelTokens++;
  });
  return {
    inputIds,
    labels,
    shape: [b, seqLen],
    lengths,
    ids: examples.map((e) => e.id),
    labelTokens,
  };
}
