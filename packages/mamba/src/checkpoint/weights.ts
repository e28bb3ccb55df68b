/**
 * The view every weight-file reader gives of its file: tensor descriptions by the names in the
 * file, and lazy reads converted to float32.
 *
 * @packageDocumentation
 */

import type { CheckpointDType } from './convert.js';

/** One tensor as a weight file stores it. */
export interface StoredTensor {
  /** The name in the file. */
  readonly name: string;
  readonly dtype: CheckpointDType;
  readonly shape: readonly number[];
}

/** An opened weight file (one safetensors file, shard, or `pytorch_model.bin`). */
export interface WeightFile {
  /** The file name used in error messages. */
  readonly name: string;
  readonly format: 'safetensors' | 'pytorch';
  /** The tensors by their name in the file. */
  readonly tensors: ReadonlyMap<string, StoredTensor>;
  /** Reads one tensor, converted to float32, in C order. */
  read(name: string): Promise<Float32Array>;
  close(): Promise<void>;
}

/** The number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
