import { IGNORE_INDEX, type LmExample } from '../tasks/tokenize.js';

/**
 * What to do with an example longer than `maxLength`: `'drop'` it, cut it to its first
 * `maxLength` positions (`'truncate-right'`, losing the end of the label), keep its last
 * `maxLength` positions (`'truncate-left'`, losing the start of the prompt), or throw
 * (`'error'`).
 */
export type OverflowPolicy = 'drop' | 'truncate-right' | 'truncate-left' | 'error';

/** Options of {@link applyMaxLength}. */
export interface MaxLengthOptions {
  /** Longest model input allowed (positions of `inputIds`). */
  readonly maxLength: number;
  /** Default `'drop'`. */
  readonly policy?: OverflowPolicy;
}

/** The examples that fit, and what happened to the others. */
export interface MaxLengthResult {
  readonly examples: LmExample[];
  /** Ids of dropped examples (including truncated ones that were left with no label token). */
  readonly dropped: string[];
  /** Ids of truncated examples. */
  readonly truncated: string[];
}

/** Applies a max-length policy to training examples, counting what it drops or cuts. */
export function applyMaxLength(
  examples: readonly LmExample[],
  options: MaxLengthOptions,
): MaxLengthResult {
  const { maxLength } = options;
  const policy = options.policy ?? 'drop';
  if (!Number.isInteger(maxLength) || maxLength < 1) {
    throw new RangeError(`applyMaxLength: maxLength must be a positive integer, got ${maxLength}`);
  }
  const kept: LmExample[] = [];
  const dropped: string[] = [];
  const truncated: string[] = [];
  for (const ex of examples) {
    const n = ex.inputIds.length;
    if (n <= maxLength) {
      kept.push(ex);
      continue;
    }
    if (policy === 'error') {
      throw new RangeError(
        `applyMaxLength: example ${ex.id} has ${n} positions, more than maxLength ${maxLength}`,
      );
    }
    if (policy === 'drop') {
      dropped.push(ex.id);
      continue;
    }
    const start = policy === 'truncate-left' ? n - maxLength : 0;
    const labels = ex.labels.slice(start, start + maxLength);
    if (labels.every((l) => l === IGNORE_INDEX)) {
      dropped.push(ex.id);
      continue;
    }
    truncated.push(ex.id);
    kept.push({ id: ex.id, inputIds: ex.inputIds.slice(start, start + maxLength), labels });
  }
  return { examples: kept, dropped, truncated };
}
