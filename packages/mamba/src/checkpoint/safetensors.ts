/**
 * A lazy safetensors reader over a {@link ByteSource}: the header is read and validated on
 * open by the tensor core's parser, each tensor's byte range on demand. (In Node,
 * `openCheckpoint` uses the tensor core's `SafetensorsFile` instead; this one serves browsers
 * and in-memory bytes.)
 *
 * @packageDocumentation
 */

import {
  decodeSafetensorsTensor,
  parseSafetensorsHeader,
  readSafetensorsHeaderLength,
  type SafetensorsEntry,
  type SafetensorsHeader,
} from '@statetune/tensor';
import { isCheckpointDType } from './convert.js';
import { asCheckpointError, CheckpointError } from './errors.js';
import { type ByteSource, readExactly } from './source.js';
import type { StoredTensor, WeightFile } from './weights.js';

/** Runs `fn`, turning the tensor core's safetensors errors into checkpoint errors for `file`. */
function orCheckpointError<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw asCheckpointError(error, file);
  }
}

/**
 * The tensors of a safetensors header as stored tensors, refusing any that is not a float
 * (model weights are F32, F16, BF16 or F64).
 *
 * @throws {@link CheckpointError} naming the file and the first non-float tensor.
 */
export function floatTensors(
  entries: Iterable<SafetensorsEntry>,
  file: string,
): Map<string, StoredTensor> {
  const tensors = new Map<string, StoredTensor>();
  for (const { name, dtype, shape } of entries) {
    if (!isCheckpointDType(dtype)) {
      throw new CheckpointError(
        file,
        `tensor "${name}" has dtype ${dtype}; model weights must be F32, F16, BF16 or F64`,
      );
    }
    tensors.set(name, { name, dtype, shape });
  }
  return tensors;
}

/**
 * Opens a safetensors file for lazy reading, checking the header as the reference
 * implementation does (known dtypes, byte ranges that match the shapes and tile the data
 * section exactly).
 *
 * @throws {@link CheckpointError} naming the file for a malformed or truncated file, and for
 *   tensors that are not F32, F16, BF16 or F64.
 */
export async function openSafetensorsWeights(source: ByteSource): Promise<WeightFile> {
  const file = source.name;
  if (source.size < 8) {
    throw new CheckpointError(
      file,
      `file is ${source.size} bytes long, shorter than the 8-byte header length of a safetensors file`,
    );
  }
  const prefix = await readExactly(source, 0, 8, 'the header length');
  const headerLength = orCheckpointError(file, () =>
    readSafetensorsHeaderLength(prefix, file, source.size),
  );
  const headerBytes = await readExactly(source, 0, 8 + headerLength, 'the header');
  const header: SafetensorsHeader = orCheckpointError(file, () =>
    parseSafetensorsHeader(headerBytes, file, source.size),
  );
  const tensors = floatTensors(header.entries.values(), file);
  return {
    name: file,
    format: 'safetensors',
    tensors,
    async read(name) {
      const entry = header.entries.get(name);
      if (entry === undefined) throw new CheckpointError(file, `no tensor named "${name}"`);
      const bytes = await readExactly(
        source,
        header.dataStart + entry.begin,
        entry.end - entry.begin,
        `tensor "${name}"`,
      );
      const { values } = orCheckpointError(file, () => decodeSafetensorsTensor(entry, bytes, file));
      return values instanceof Float32Array ? values : Float32Array.from(values);
    },
    close: async () => {
      await source.close?.();
    },
  };
}
