/**
 * Opening checkpoints from a directory on disk (Node only).
 *
 * @packageDocumentation
 */

import { type FileHandle, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SafetensorsFile } from '@statetune/tensor/node';
import { type Checkpoint, openCheckpointFiles } from './checkpoint.js';
import { asCheckpointError, CheckpointError } from './errors.js';
import { openWeightSource } from './formats.js';
import { floatTensors } from './safetensors.js';
import type { ByteSource } from './source.js';
import type { StoredTensor, WeightFile } from './weights.js';

function isMissing(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === 'ENOENT';
}

/**
 * A {@link ByteSource} over a file, read by range through one file handle.
 *
 * @returns undefined when the file does not exist.
 */
export async function fileSource(path: string): Promise<ByteSource | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
  const { size } = await handle.stat();
  let closed = false;
  return {
    name: path,
    size,
    async read(offset, length) {
      if (closed) throw new CheckpointError(path, 'cannot read: the file is closed');
      const end = Math.min(offset + length, size);
      const bytes = new Uint8Array(Math.max(0, end - offset));
      let filled = 0;
      while (filled < bytes.length) {
        const { bytesRead } = await handle.read(
          bytes,
          filled,
          bytes.length - filled,
          offset + filled,
        );
        if (bytesRead === 0) return bytes.subarray(0, filled);
        filled += bytesRead;
      }
      return bytes;
    },
    async close() {
      if (closed) return;
      closed = true;
      await handle.close();
    },
  };
}

/** A safetensors file through the tensor core's `SafetensorsFile` (header checks included). */
async function openSafetensorsFile(path: string): Promise<WeightFile | undefined> {
  let file: SafetensorsFile;
  try {
    file = await SafetensorsFile.open(path);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw asCheckpointError(error, path);
  }
  let tensors: Map<string, StoredTensor>;
  try {
    tensors = floatTensors(file.header.entries.values(), path);
  } catch (error) {
    await file.close();
    throw error;
  }
  return {
    name: path,
    format: 'safetensors',
    tensors,
    async read(name) {
      const { values } = await file.read(name).catch((error: unknown) => {
        throw asCheckpointError(error, path);
      });
      // F32, F16 and BF16 decode to float32 exactly; F64 rounds.
      return values instanceof Float32Array ? values : Float32Array.from(values);
    },
    close: () => file.close(),
  };
}

/**
 * Opens a model directory: `config.json` (Hugging Face or state-spaces layout) and the
 * weights, `model.safetensors`, sharded `model.safetensors.index.json` with its shards,
 * `pytorch_model.bin` or sharded `pytorch_model.bin.index.json`. Only headers are read now;
 * each tensor is read from disk by range when asked for, so a large checkpoint is never held
 * in memory whole. Close the checkpoint when done.
 *
 * @example
 * ```ts
 * const ckpt = await openCheckpoint('models/mamba-130m');
 * validateCheckpoint(ckpt);
 * const embedding = await ckpt.read('backbone.embeddings.weight');
 * await ckpt.close();
 * ```
 * @throws {@link CheckpointError} naming the file for a missing, malformed, truncated or
 *   hostile file; `MambaConfigError` for an invalid or unsupported configuration.
 */
export async function openCheckpoint(dir: string): Promise<Checkpoint> {
  return openCheckpointFiles({
    name: dir,
    describe: (file) => join(dir, file),
    async readText(file) {
      try {
        return await readFile(join(dir, file), 'utf8');
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
    },
    async openWeights(file, format) {
      const path = join(dir, file);
      if (format === 'safetensors') return openSafetensorsFile(path);
      const source = await fileSource(path);
      return source === undefined ? undefined : openWeightSource(source, 'pytorch');
    },
  });
}
