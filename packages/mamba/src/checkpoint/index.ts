/**
 * Checkpoint loading, platform neutral: `config.json` plus safetensors (single or sharded) or
 * `pytorch_model.bin` weights, in the Hugging Face or original state-spaces layout, read
 * lazily from any random-access byte source. Node's file-system opener is in `./node.ts`.
 *
 * @packageDocumentation
 */

import { type Checkpoint, type CheckpointFiles, openCheckpointFiles } from './checkpoint.js';
import { openWeightSource } from './formats.js';
import { type ByteSource, blobSource, bytesSource } from './source.js';

export {
  type Checkpoint,
  type CheckpointTensorInfo,
  validateCheckpoint,
} from './checkpoint.js';
export type { CheckpointDType } from './convert.js';
export { CheckpointError, CheckpointValidationError, type MisshapedTensor } from './errors.js';
export { canonicalTensorName, expectedTensors } from './names.js';
export { type ByteSource, blobSource, bytesSource } from './source.js';

/**
 * Where a checkpoint's files come from: a directory on disk, a set of fetched buffers, a
 * server answering HTTP range requests...
 */
export interface CheckpointStore {
  /** Names the checkpoint in messages (a directory, URL or `<memory>`). */
  readonly name: string;
  /**
   * Opens one file of the checkpoint (`config.json`, `model.safetensors`, a shard,
   * `pytorch_model.bin`, ...) for reading by range, or returns undefined when it does not
   * exist.
   */
  open(file: string): Promise<ByteSource | undefined>;
}

/**
 * Opens a checkpoint from a {@link CheckpointStore}: reads and validates `config.json`
 * (either layout), then finds the weights (`model.safetensors.index.json` and its shards,
 * `model.safetensors`, `pytorch_model.bin.index.json` and its shards, or
 * `pytorch_model.bin`, in that order) and reads their headers. Tensors are read on demand
 * by {@link Checkpoint.read}.
 *
 * @throws {@link CheckpointError} naming the file for a missing, malformed, truncated or
 *   hostile file; `MambaConfigError` for an invalid or unsupported configuration.
 */
export async function openCheckpointFromStore(store: CheckpointStore): Promise<Checkpoint> {
  const describe = (file: string) => `${store.name}/${file}`;
  const files: CheckpointFiles = {
    name: store.name,
    describe,
    async readText(file) {
      const source = await store.open(file);
      if (source === undefined) return undefined;
      try {
        const bytes = await source.read(0, source.size);
        return new TextDecoder().decode(bytes);
      } finally {
        await source.close?.();
      }
    },
    async openWeights(file, format) {
      const source = await store.open(file);
      return source === undefined ? undefined : openWeightSource(source, format);
    },
  };
  return openCheckpointFiles(files);
}

/**
 * Opens a checkpoint whose files are in memory, e.g. fetched in a browser or picked by the
 * user: keys are file names (`config.json`, `model.safetensors`, ...), values their bytes or
 * `Blob`s (which are read by slices, never whole).
 *
 * @example
 * ```ts
 * const ckpt = await openCheckpointFromFiles({
 *   'config.json': await (await fetch(`${url}/config.json`)).arrayBuffer(),
 *   'model.safetensors': await (await fetch(`${url}/model.safetensors`)).blob(),
 * });
 * ```
 */
export function openCheckpointFromFiles(
  files: Readonly<Record<string, Uint8Array | ArrayBuffer | Blob>>,
  name = '<memory>',
): Promise<Checkpoint> {
  return openCheckpointFromStore({
    name,
    async open(file) {
      if (!Object.hasOwn(files, file)) return undefined;
      const data = files[file];
      const label = `${name}/${file}`;
      return data instanceof Uint8Array || data instanceof ArrayBuffer
        ? bytesSource(data, label)
        : blobSource(data, label);
    },
  });
}
