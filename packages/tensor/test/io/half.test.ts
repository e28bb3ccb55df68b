import { describe, expect, it } from 'vitest';
import {
  bfloat16BitsToFloat32,
  decodeBfloat16,
  decodeFloat16,
  encodeBfloat16,
  encodeFloat16,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
} from '../../src/io/half.js';
import { randomUint32 } from '../helpers.js';

const F16_INFINITY = 0x7c00;
const BF16_INFINITY = 0x7f80;

function float32FromBits(bits: number): number {
  return new Float32Array(new Uint32Array([bits]).buffer)[0];
}

function float32Bits(value: number): number {
  return new Uint32Array(new Float32Array([value]).buffer)[0];
}

/**
 * Round to nearest, ties to even, by search: the two finite neighbours of |x| in the table of
 * all positive values, the nearer one winning and a tie going to the even bit pattern. Past the
 * largest finite value the next "value" is the infinity bits standing for 2^(maxExponent + 1),
 * as IEEE 754 rounding prescribes.
 */
function nearestBits(x: number, decode: (bits: number) => number, infinity: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const magnitude = Math.abs(x);
  const beyond = 2 * decode(infinity - 1) - decode(infinity - 2); // one ulp past the maximum
  if (magnitude >= beyond) return sign | infinity;
  let low = 0;
  let high = infinity - 1;
  while (low < high) {
    const mid = (low + high + 1) >>> 1;
    if (decode(mid) <= magnitude) low = mid;
    else high = mid - 1;
  }
  const below = decode(low);
  if (below === magnitude) return sign | low;
  const above = low + 1 === infinity ? beyond : decode(low + 1);
  const toBelow = magnitude - below;
  const toAbove = above - magnitude;
  const pick = toBelow < toAbove || (toBelow === toAbove && low % 2 === 0) ? low : low + 1;
  return sign | pick;
}

describe('float16', () => {
  // Hand-computed: sign | exponent (bias 15) << 10 | mantissa.
  const cases: [string, number, number][] = [
    ['1.0', 1, 0x3c00],
    ['-2.5 = -1.25 * 2^1', -2.5, 0xc100],
    ['65504, the largest finite', 65504, 0x7bff],
    ['2^-24, the smallest subnormal', 2 ** -24, 0x0001],
    ['1023 * 2^-24, the largest subnormal', 1023 * 2 ** -24, 0x03ff],
    ['2^-14, the smallest normal', 2 ** -14, 0x0400],
    ['0.099975586 (0.1 in float16)', 0.0999755859375, 0x2e66],
    ['0', 0, 0x0000],
    ['-0', -0, 0x8000],
    ['Infinity', Number.POSITIVE_INFINITY, 0x7c00],
    ['-Infinity', Number.NEGATIVE_INFINITY, 0xfc00],
  ];

  it.each(cases)('encodes and decodes %s', (_, value, bits) => {
    expect(float32ToFloat16Bits(value)).toBe(bits);
    expect(Object.is(float16BitsToFloat32(bits), value)).toBe(true);
  });

  it('encodes NaN as the canonical quiet NaN and decodes every NaN pattern to NaN', () => {
    expect(float32ToFloat16Bits(Number.NaN)).toBe(0x7e00);
    for (const bits of [0x7e00, 0x7c01, 0xfe00, 0x7fff]) {
      expect(float16BitsToFloat32(bits)).toBeNaN();
    }
  });

  it('rounds ties to even', () => {
    // Between 1 (0x3c00) and 1 + 2^-10 (0x3c01): the tie goes down to the even 0x3c00.
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00);
    // Between 0x3c01 and 0x3c02: the tie goes up to the even 0x3c02.
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    // Just above a tie rounds up.
    expect(float32ToFloat16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    // Among subnormals: half the smallest subnormal goes to 0, 1.5 of it to 2 of it.
    expect(float32ToFloat16Bits(2 ** -25)).toBe(0x0000);
    expect(float32ToFloat16Bits(-(2 ** -25))).toBe(0x8000);
    expect(float32ToFloat16Bits(3 * 2 ** -25)).toBe(0x0002);
    expect(float32ToFloat16Bits(2 ** -25 + 2 ** -40)).toBe(0x0001);
    // Rounding up out of the subnormals gives the smallest normal.
    expect(float32ToFloat16Bits(1023.5 * 2 ** -24)).toBe(0x0400);
  });

  it('overflows to infinity from 65520 (the tie above 65504) on', () => {
    expect(float32ToFloat16Bits(65519.99)).toBe(0x7bff);
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00);
    expect(float32ToFloat16Bits(1e6)).toBe(0x7c00);
    expect(float32ToFloat16Bits(-1e6)).toBe(0xfc00);
    expect(float32ToFloat16Bits(3.4028234663852886e38)).toBe(0x7c00);
    expect(float32ToFloat16Bits(Number.MAX_VALUE)).toBe(0x7c00);
  });

  it('underflows to signed zero below half the smallest subnormal', () => {
    expect(float32ToFloat16Bits(1e-10)).toBe(0x0000);
    expect(float32ToFloat16Bits(-1e-10)).toBe(0x8000);
    expect(float32ToFloat16Bits(Number.MIN_VALUE)).toBe(0x0000);
  });

  it('decodes and re-encodes every non-NaN bit pattern to itself', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = float16BitsToFloat32(bits);
      if (Number.isNaN(value)) continue;
      expect(Math.fround(value)).toBe(value);
      if (float32ToFloat16Bits(value) !== bits) {
        expect(float32ToFloat16Bits(value), `bits 0x${bits.toString(16)}`).toBe(bits);
      }
    }
  });

  it('sends every midpoint between neighbours to the even one, and nudged midpoints to the nearer', () => {
    for (let bits = 0; bits < F16_INFINITY - 1; bits++) {
      for (const sign of [1, -1]) {
        const low = float16BitsToFloat32(bits);
        const high = float16BitsToFloat32(bits + 1);
        const mid = (sign * (low + high)) / 2;
        const signBit = sign < 0 ? 0x8000 : 0;
        const even = bits % 2 === 0 ? bits : bits + 1;
        const nudge = (high - low) / 1024;
        const got = [
          float32ToFloat16Bits(mid),
          float32ToFloat16Bits(mid - sign * nudge),
          float32ToFloat16Bits(mid + sign * nudge),
        ];
        const want = [signBit | even, signBit | bits, signBit | (bits + 1)];
        if (got.some((g, i) => g !== want[i]))
          expect(got, `bits 0x${bits.toString(16)}`).toEqual(want);
      }
    }
  });

  it('rounds random float32 values like a nearest-neighbour search', () => {
    const next = randomUint32(16);
    for (let i = 0; i < 100_000; i++) {
      const value = float32FromBits(next());
      if (Number.isNaN(value)) continue;
      const want = nearestBits(value, float16BitsToFloat32, F16_INFINITY);
      if (float32ToFloat16Bits(value) !== want) {
        expect(float32ToFloat16Bits(value), `value ${value}`).toBe(want);
      }
    }
  });

  it('rounds float64 values once, from their exact value', () => {
    // 1 + 2^-11 + 2^-40 is above the tie; rounding to float32 first would land on the tie
    // (1 + 2^-11) and then round down to 1.
    expect(float32ToFloat16Bits(1 + 2 ** -11 + 2 ** -40)).toBe(0x3c01);
  });

  it('bulk encoding and decoding agree with the scalar functions', () => {
    const values = new Float32Array([1, -2.5, 65504, 2 ** -24, 1e6, Number.NaN, -0]);
    const bits = encodeFloat16(values);
    expect([...bits]).toEqual([...values].map(float32ToFloat16Bits));
    const back = decodeFloat16(bits);
    expect(back).toBeInstanceOf(Float32Array);
    expect([...back]).toEqual([...bits].map(float16BitsToFloat32));
  });
});

describe('bfloat16', () => {
  // Hand-computed: the upper 16 bits of the float32, i.e. sign | exponent (bias 127) << 7 | mantissa.
  const cases: [string, number, number][] = [
    ['1.0', 1, 0x3f80],
    ['-2.5', -2.5, 0xc020],
    ['(2 - 2^-7) * 2^127, the largest finite', (2 - 2 ** -7) * 2 ** 127, 0x7f7f],
    ['2^-133, the smallest subnormal', 2 ** -133, 0x0001],
    ['2^-126, the smallest normal', 2 ** -126, 0x0080],
    ['0', 0, 0x0000],
    ['-0', -0, 0x8000],
    ['Infinity', Number.POSITIVE_INFINITY, 0x7f80],
    ['-Infinity', Number.NEGATIVE_INFINITY, 0xff80],
  ];

  it.each(cases)('encodes and decodes %s', (_, value, bits) => {
    expect(float32ToBfloat16Bits(value)).toBe(bits);
    expect(Object.is(bfloat16BitsToFloat32(bits), value)).toBe(true);
  });

  it('encodes NaN as the canonical quiet NaN', () => {
    expect(float32ToBfloat16Bits(Number.NaN)).toBe(0x7fc0);
    expect(bfloat16BitsToFloat32(0x7fc0)).toBeNaN();
    expect(bfloat16BitsToFloat32(0xff81)).toBeNaN();
  });

  it('rounds ties to even and overflows to infinity', () => {
    expect(float32ToBfloat16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(float32ToBfloat16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(float32ToBfloat16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    // float32's largest finite value is above bfloat16's overflow tie (2 - 2^-8) * 2^127.
    expect(float32ToBfloat16Bits(3.4028234663852886e38)).toBe(0x7f80);
    expect(float32ToBfloat16Bits((2 - 2 ** -8) * 2 ** 127)).toBe(0x7f80);
    expect(float32ToBfloat16Bits(-1e39)).toBe(0xff80);
  });

  it('decodes and re-encodes every non-NaN bit pattern to itself', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = bfloat16BitsToFloat32(bits);
      if (Number.isNaN(value)) continue;
      if (float32ToBfloat16Bits(value) !== bits) {
        expect(float32ToBfloat16Bits(value), `bits 0x${bits.toString(16)}`).toBe(bits);
      }
    }
  });

  it('matches the integer rounding used by PyTorch and TensorFlow on random float32 values', () => {
    const next = randomUint32(7);
    for (let i = 0; i < 100_000; i++) {
      const bits = next();
      const value = float32FromBits(bits);
      if (Number.isNaN(value)) continue;
      const want = ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
      if (float32ToBfloat16Bits(value) !== want) {
        expect(float32ToBfloat16Bits(value), `bits 0x${bits.toString(16)}`).toBe(want);
      }
    }
  });

  it('rounds random float32 values like a nearest-neighbour search', () => {
    const next = randomUint32(99);
    for (let i = 0; i < 20_000; i++) {
      const value = float32FromBits(next());
      if (Number.isNaN(value)) continue;
      expect(float32ToBfloat16Bits(value)).toBe(
        nearestBits(value, bfloat16BitsToFloat32, BF16_INFINITY),
      );
    }
  });

  it('bulk decoding is the float32 with the low 16 bits zero, NaN payloads included', () => {
    const bits = new Uint16Array([0x3f80, 0xc020, 0x7f80, 0x7fc1, 0x8001]);
    const values = decodeBfloat16(bits);
    expect([...values].map(float32Bits)).toEqual([...bits].map((b) => (b << 16) >>> 0));
    expect([...encodeBfloat16(new Float64Array([1, -2.5, 1 + 3 * 2 ** -8]))]).toEqual([
      0x3f80, 0xc020, 0x3f82,
    ]);
  });
});
