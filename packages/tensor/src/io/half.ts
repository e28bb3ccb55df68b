/**
 * IEEE float16 (binary16) and bfloat16 conversions to and from JavaScript numbers.
 *
 * Encoding rounds the exact value of the input to the nearest representable value, ties to
 * even, the way IEEE 754 conversions do; values beyond the largest finite value (after
 * rounding) become infinity, values below the smallest subnormal round to signed zero, and
 * every NaN becomes the canonical quiet NaN. Decoding is exact: every float16 and bfloat16
 * value is a float32 value.
 *
 * @packageDocumentation
 */

/** The layout of a small binary floating point format: one sign bit, then exponent, then mantissa. */
interface HalfFormat {
  readonly exponentBits: number;
  readonly mantissaBits: number;
  /** The bits written for any NaN. */
  readonly quietNaN: number;
}

const FLOAT16: HalfFormat = { exponentBits: 5, mantissaBits: 10, quietNaN: 0x7e00 };
const BFLOAT16: HalfFormat = { exponentBits: 8, mantissaBits: 7, quietNaN: 0x7fc0 };

// Reading the exponent from the float64 bits is exact where Math.log2 can be off by one
// next to powers of two.
const scratch = new DataView(new ArrayBuffer(8));

/** The unbiased binary exponent of a positive, normal float64. */
function exponentOf(x: number): number {
  scratch.setFloat64(0, x);
  return ((scratch.getUint16(0) >>> 4) & 0x7ff) - 1023;
}

/** 2^k, exactly, for k in the normal float64 range. */
function pow2(k: number): number {
  scratch.setUint32(0, (k + 1023) << 20);
  scratch.setUint32(4, 0);
  return scratch.getFloat64(0);
}

/** Rounds a non-negative number to an integer, ties to even. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor; // exact: x has few enough bits here
  if (rest > 0.5 || (rest === 0.5 && floor % 2 === 1)) return floor + 1;
  return floor;
}

function encode(x: number, format: HalfFormat): number {
  const { exponentBits, mantissaBits } = format;
  if (Number.isNaN(x)) return format.quietNaN;
  const signBit = x < 0 || Object.is(x, -0) ? 1 << (exponentBits + mantissaBits) : 0;
  const magnitude = Math.abs(x);
  const bias = (1 << (exponentBits - 1)) - 1;
  const minExponent = 1 - bias;
  const infinity = signBit | (((1 << exponentBits) - 1) << mantissaBits);
  const implicitOne = 1 << mantissaBits;

  if (magnitude < pow2(minExponent)) {
    // Subnormal (or zero): the mantissa counts multiples of the smallest subnormal. Rounding up
    // to 2^mantissaBits gives exactly the bits of the smallest normal number.
    return signBit | roundHalfEven(magnitude * pow2(mantissaBits - minExponent));
  }
  if (magnitude === Number.POSITIVE_INFINITY) return infinity;
  let exponent = exponentOf(magnitude);
  if (exponent > bias) return infinity;
  let mantissa = roundHalfEven(magnitude * pow2(mantissaBits - exponent));
  if (mantissa === 2 * implicitOne) {
    exponent += 1;
    mantissa = implicitOne;
  }
  if (exponent > bias) return infinity;
  return signBit | ((exponent + bias) << mantissaBits) | (mantissa - implicitOne);
}

function decode(bits: number, format: HalfFormat): number {
  const { exponentBits, mantissaBits } = format;
  const sign = (bits >>> (exponentBits + mantissaBits)) & 1 ? -1 : 1;
  const biasedExponent = (bits >>> mantissaBits) & ((1 << exponentBits) - 1);
  const mantissa = bits & ((1 << mantissaBits) - 1);
  const bias = (1 << (exponentBits - 1)) - 1;
  if (biasedExponent === (1 << exponentBits) - 1) {
    return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  }
  if (biasedExponent === 0) return sign * mantissa * pow2(1 - bias - mantissaBits);
  return sign * (mantissa + (1 << mantissaBits)) * pow2(biasedExponent - bias - mantissaBits);
}

/**
 * Encodes a number as float16 bits, rounding to nearest, ties to even.
 *
 * @param value - Any number; it is rounded once, from its exact value (no detour through float32).
 * @returns The 16 bits, in the low half of the result. Overflow gives ±infinity (0x7c00 /
 * 0xfc00), NaN gives 0x7e00.
 */
export function float32ToFloat16Bits(value: number): number {
  return encode(value, FLOAT16);
}

/**
 * Decodes float16 bits (the low 16 bits of `bits`) to a number, exactly.
 *
 * @returns The value, which is always representable as a float32.
 */
export function float16BitsToFloat32(bits: number): number {
  return decode(bits & 0xffff, FLOAT16);
}

/**
 * Encodes a number as bfloat16 bits, rounding to nearest, ties to even.
 *
 * @param value - Any number; it is rounded once, from its exact value (no detour through float32).
 * @returns The 16 bits, in the low half of the result. Overflow gives ±infinity (0x7f80 /
 * 0xff80), NaN gives 0x7fc0.
 */
export function float32ToBfloat16Bits(value: number): number {
  return encode(value, BFLOAT16);
}

/**
 * Decodes bfloat16 bits (the low 16 bits of `bits`) to a number, exactly.
 *
 * @returns The value, which is always representable as a float32.
 */
export function bfloat16BitsToFloat32(bits: number): number {
  return decode(bits & 0xffff, BFLOAT16);
}

/**
 * Encodes every value as float16 bits (see {@link float32ToFloat16Bits}).
 *
 * @param values - Float32 or float64 values.
 */
export function encodeFloat16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = encode(values[i], FLOAT16);
  return out;
}

/**
 * Decodes float16 bits to float32 values, exactly.
 *
 * @param bits - One float16 value per element.
 */
export function decodeFloat16(bits: ArrayLike<number>): Float32Array {
  const table = float16Table();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i] & 0xffff];
  return out;
}

let float16Values: Float32Array | undefined;

/** Every float16 value by bit pattern (256 KiB, built on first use): a lookup per element is
 * several times faster than decoding, which matters for multi-gigabyte F16 checkpoints. */
function float16Table(): Float32Array {
  if (!float16Values) {
    float16Values = new Float32Array(0x10000);
    for (let bits = 0; bits < 0x10000; bits++) float16Values[bits] = decode(bits, FLOAT16);
  }
  return float16Values;
}

/**
 * Encodes every value as bfloat16 bits (see {@link float32ToBfloat16Bits}).
 *
 * @param values - Float32 or float64 values.
 */
export function encodeBfloat16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = encode(values[i], BFLOAT16);
  return out;
}

/**
 * Decodes bfloat16 bits to float32 values, exactly (NaN payloads included).
 *
 * @param bits - One bfloat16 value per element.
 */
export function decodeBfloat16(bits: ArrayLike<number>): Float32Array {
  const out = new Float32Array(bits.length);
  // bfloat16 is the upper half of a float32, so decoding is a shift of the bits.
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = (bits[i] & 0xffff) << 16;
  return out;
}
