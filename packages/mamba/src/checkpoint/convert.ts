/**
 * Conversion of stored float tensors (F32, F16, BF16, F64, either byte order) to float32.
 *
 * @packageDocumentation
 */

/** The float element types a checkpoint tensor may be stored as. */
export type CheckpointDType = 'F32' | 'F16' | 'BF16' | 'F64';

/** Bytes per element of each {@link CheckpointDType}. */
export const ITEM_SIZE: Readonly<Record<CheckpointDType, number>> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
};

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let halfTable: Float32Array | undefined;

/** Every float16 value by bit pattern, built on first use: one lookup per element is fast and exact. */
function float16Table(): Float32Array {
  if (halfTable === undefined) {
    halfTable = new Float32Array(0x10000);
    for (let bits = 0; bits < 0x10000; bits++) {
      const sign = bits & 0x8000 ? -1 : 1;
      const exponent = (bits >> 10) & 0x1f;
      const mantissa = bits & 0x3ff;
      halfTable[bits] =
        exponent === 0x1f
          ? mantissa === 0
            ? sign * Number.POSITIVE_INFINITY
            : Number.NaN
          : exponent === 0
            ? sign * mantissa * 2 ** -24
            : sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
    }
  }
  return halfTable;
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
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  switch (dtype) {
    case 'F32':
      if (littleEndian && bytes.byteOffset % 4 === 0 && HOST_LITTLE_ENDIAN) {
        out.set(new Float32Array(bytes.buffer, bytes.byteOffset, count));
      } else {
        for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, littleEndian);
      }
      break;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, littleEndian);
      break;
    case 'F16': {
      const table = float16Table();
      for (let i = 0; i < count; i++) out[i] = table[view.getUint16(2 * i, littleEndian)];
      break;
    }
    case 'BF16': {
      // bfloat16 is the upper half of a float32, so decoding is a shift of the bits.
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) outBits[i] = view.getUint16(2 * i, littleEndian) << 16;
      break;
    }
  }
  return out;
}
