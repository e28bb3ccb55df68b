/**
 * `pytorch_model.bin` (a `torch.save` zip archive) as a lazy {@link WeightFile}: the pickle is
 * read with the restricted unpickler, each tensor's storage by range on demand.
 *
 * @packageDocumentation
 */

import { type CheckpointDType, decodeFloats, ITEM_SIZE } from './convert.js';
import { CheckpointError } from './errors.js';
import { type TensorRef, unpickleStateDict } from './pickle.js';
import type { ByteSource } from './source.js';
import { numel, type StoredTensor, type WeightFile } from './weights.js';
import { type ZipEntry, ZipReader } from './zip.js';

/**
 * Largest `data.pkl` read (64 MiB). A state dict's pickle takes a few hundred bytes per
 * tensor, so this leaves room for any model while a deflated pickle cannot inflate to
 * gigabytes.
 */
const MAX_PICKLE_BYTES = 64 * 2 ** 20;

interface TorchTensor extends StoredTensor {
  readonly ref: TensorRef;
  readonly entry: ZipEntry;
}

/**
 * Opens a `torch.save` zip archive holding a state dict of float tensors.
 *
 * @throws {@link CheckpointError} naming the file for a file that is not such an archive, a
 *   pickle that needs anything beyond tensors (see `unpickleStateDict`), missing or short
 *   storages, views outside their storage, and non-float tensors.
 */
export async function openTorchWeights(source: ByteSource): Promise<WeightFile> {
  const file = source.name;
  const zip = await ZipReader.open(source);
  const pickles = [...zip.entries.keys()].filter(
    (n) => n === 'data.pkl' || n.endsWith('/data.pkl'),
  );
  if (pickles.length !== 1) {
    throw new CheckpointError(
      file,
      pickles.length === 0
        ? 'zip archive has no data.pkl entry; it is not a torch.save checkpoint'
        : `zip archive has ${pickles.length} data.pkl entries (${pickles.join(', ')}); expected one`,
    );
  }
  const prefix = pickles[0].slice(0, -'data.pkl'.length);
  let littleEndian = true;
  const order = zip.entries.get(`${prefix}byteorder`);
  if (order !== undefined) {
    const text = new TextDecoder().decode(await zip.read(order)).trim();
    if (text !== 'little' && text !== 'big') {
      throw new CheckpointError(
        file,
        `${prefix}byteorder is ${JSON.stringify(text)}, expected "little" or "big"`,
      );
    }
    littleEndian = text === 'little';
  }
  const pickleEntry = zip.entry(pickles[0]);
  if (pickleEntry.size > MAX_PICKLE_BYTES) {
    throw new CheckpointError(
      file,
      `${pickles[0]} is ${pickleEntry.size} bytes; a state dict pickle only describes tensors (their data is in other entries) and is refused above ${MAX_PICKLE_BYTES} bytes`,
    );
  }
  const pickle = await zip.read(pickleEntry);
  const refs = unpickleStateDict(pickle, `${file} (${pickles[0]})`);

  const tensors = new Map<string, TorchTensor>();
  for (const [name, ref] of refs) {
    const what = `tensor "${name}"`;
    const { storage } = ref;
    if (typeof storage.dtype !== 'string') {
      throw new CheckpointError(
        file,
        `${what} is stored as torch.${storage.dtype.unsupported}; model weights must be float32, float16, bfloat16 or float64`,
      );
    }
    const dtype: CheckpointDType = storage.dtype;
    const entryName = `${prefix}data/${storage.key}`;
    const entry = zip.entries.get(entryName);
    if (entry === undefined) {
      throw new CheckpointError(
        file,
        `${what} points to storage "${storage.key}", but the archive has no entry ${entryName}`,
      );
    }
    const storageBytes = storage.numel * ITEM_SIZE[dtype];
    if (entry.size < storageBytes) {
      throw new CheckpointError(
        file,
        `${what}: storage ${entryName} holds ${entry.size} bytes, but its ${storage.numel} ${dtype} elements need ${storageBytes}`,
      );
    }
    const count = numel(ref.shape);
    if (count > storage.numel) {
      // Only a view that repeats elements (an expanded tensor, stride 0) has more elements
      // than its storage; no weight is saved that way, and reading one could allocate far
      // more than the file holds.
      throw new CheckpointError(
        file,
        `${what} (shape [${ref.shape.join(', ')}], stride [${ref.stride.join(', ')}]) has ${count} elements, more than its storage of ${storage.numel}; views that repeat elements are not supported`,
      );
    }
    if (count > 0) {
      let last = ref.offset;
      for (let i = 0; i < ref.shape.length; i++) last += (ref.shape[i] - 1) * ref.stride[i];
      if (last >= storage.numel) {
        throw new CheckpointError(
          file,
          `${what} (shape [${ref.shape.join(', ')}], stride [${ref.stride.join(', ')}], offset ${ref.offset}) reaches element ${last}, outside its storage of ${storage.numel} elements`,
        );
      }
    }
    tensors.set(name, { name, dtype, shape: ref.shape, ref, entry });
  }

  return {
    name: file,
    format: 'pytorch',
    tensors,
    async read(name) {
      const t = tensors.get(name);
      if (t === undefined) throw new CheckpointError(file, `no tensor named "${name}"`);
      const { ref, entry, dtype } = t;
      const count = numel(ref.shape);
      if (count === 0) return new Float32Array(0);
      const item = ITEM_SIZE[dtype];
      // The elements the view touches lie in [offset, last]; read only that range.
      let last = ref.offset;
      for (let i = 0; i < ref.shape.length; i++) last += (ref.shape[i] - 1) * ref.stride[i];
      const bytes = await zip.read(entry, ref.offset * item, (last - ref.offset + 1) * item);
      const span = decodeFloats(bytes, dtype, last - ref.offset + 1, littleEndian);
      return isContiguous(ref.shape, ref.stride) ? span : gather(span, ref.shape, ref.stride);
    },
    close: async () => {
      await source.close?.();
    },
  };
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

/** Copies a strided view (offsets relative to `span`) into C order. */
function gather(
  span: Float32Array,
  shape: readonly number[],
  stride: readonly number[],
): Float32Array {
  const out = new Float32Array(numel(shape));
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  let src = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = span[src];
    for (let d = rank - 1; d >= 0; d--) {
      index[d]++;
      src += stride[d];
      if (index[d] < shape[d]) break;
      src -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}
