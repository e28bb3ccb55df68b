/**
 * Errors of checkpoint loading.
 *
 * @packageDocumentation
 */

import { SafetensorsError } from '@statetune/tensor';

/**
 * A checkpoint file that cannot be read: malformed, truncated, of an unsupported kind, or
 * (for `pytorch_model.bin`) a pickle that asks for anything beyond plain tensors. The message
 * starts with the file it is about.
 */
export class CheckpointError extends Error {
  /** The file (path or name) the problem is in. */
  readonly source: string;

  constructor(source: string, problem: string, options?: { cause?: unknown }) {
    super(`${source}: ${problem}`, options);
    this.name = 'CheckpointError';
    this.source = source;
  }
}

/** One tensor whose shape differs from what the configuration implies. */
export interface MisshapedTensor {
  readonly name: string;
  readonly expected: readonly number[];
  readonly got: readonly number[];
}

/**
 * The tensors of a checkpoint do not match its configuration. Every problem is listed, by
 * canonical tensor name, in the message and in the fields.
 */
export class CheckpointValidationError extends CheckpointError {
  /** Tensors the configuration needs that the checkpoint lacks. */
  readonly missing: readonly string[];
  /** Tensors the checkpoint has that the configuration does not use. */
  readonly unexpected: readonly string[];
  /** Tensors present under the right name but with the wrong shape. */
  readonly misshaped: readonly MisshapedTensor[];

  constructor(
    source: string,
    missing: readonly string[],
    unexpected: readonly string[],
    misshaped: readonly MisshapedTensor[],
  ) {
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`missing ${missing.length}: ${missing.join(', ')}`);
    if (unexpected.length > 0) {
      parts.push(`unexpected ${unexpected.length}: ${unexpected.join(', ')}`);
    }
    if (misshaped.length > 0) {
      const items = misshaped.map(
        (m) => `${m.name} is [${m.got.join(', ')}], expected [${m.expected.join(', ')}]`,
      );
      parts.push(`wrong shape ${misshaped.length}: ${items.join('; ')}`);
    }
    super(source, `the tensors do not match config.json (${parts.join(' | ')})`);
    this.name = 'CheckpointValidationError';
    this.missing = missing;
    this.unexpected = unexpected;
    this.misshaped = misshaped;
  }
}

/**
 * The tensor core's `SafetensorsError` about `file` as a {@link CheckpointError}: the same
 * problem, one error type for every checkpoint problem. Other errors are returned unchanged.
 */
export function asCheckpointError(error: unknown, file: string): unknown {
  if (!(error instanceof SafetensorsError)) return error;
  return new CheckpointError(file, error.problem, { cause: error });
}
