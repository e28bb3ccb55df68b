/**
 * Conversion of stored float tensors (F32, F16, BF16, F64, either byte order) to float32,
 * through the tensor core's safetensors decoder (the same exact F16/BF16 conversion).
 *
 * @packageDocumentation
 */

import { decodeSafetensorsTensor } from '@statetune/tensor';

/** The float element types a checkpoint tensor may be stored as. */
export type CheckpointDType = 'F32' | 'F16' | 'BF16' | 'F64';

/** Bytes per element of each {@link CheckpointDType}. */
export const ITEM_SIZE: Readonly<Record<CheckpointDType, number>> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
};

/** Whether a stored dtype name is one of the {@link CheckpointDType}s. */
export function isCheckpointDType(dtype: string): dtype is CheckpointDType {
  return Object.hasOwn(ITEM_SIZE, dtype);
}

/**
 * Decodes `count` elements of `dtype` from `bytes` (which may start at any offset) into a new
 * float32 array. F16 and BF16 convert exactly; F64 rounds to the nearest float32.
 *
 * @param littleEndian - the byte order of the stored elements.
 */
export function decodeFloats(
  bytes: Uint8Array,
  dtype: CheckpointDType,
  count: number,
  littleEndian = true,
): Float32Array {
  const size = ITEM_SIZE[dtype];
  let data = bytes.subarray(0, count * size);
  if (!littleEndian) {
    // Big-endian archives (torch's `byteorder` entry): reverse each element's bytes.
    const swapped = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i += size) {
      for (let k = 0; k < size; k++) swapped[i + k] = data[i + size - 1 - k];
    }
    data = swapped;
  }
  const entry = { name: '', dtype, shape: [count], begin: 0, end: data.length };
  const { values } = decodeSafetensorsTensor(entry, data, '<checkpoint storage>');
  return values instanceof Float32Array ? values : Float32Array.from(values);
}
