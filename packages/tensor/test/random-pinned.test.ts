import { afterEach, describe, expect, it } from 'vitest';
import type { RandomKey } from '../src/backend.js';
import { disablePhiloxWasm, philoxWasm } from '../src/cpu/philox-wasm.js';
import { philox, philoxNormal, philoxUniform } from '../src/random.js';

/**
 * Values drawn by the first, straightforward implementation of `philoxNormal` (one
 * `philox` call per element, Box-Muller on words 0 and 1). The fast paths must reproduce
 * them bit for bit: checkpoints, tests and runs seeded before the change stay the same.
 */
const PINNED: { key: RandomKey; f64: number[]; f32: number[] }[] = [
  {
    key: { key0: 0, key1: 0, counter: 0 },
    f64: [
      0.9911374751458972, -0.1536381124388446, -1.1863567963076571, -0.5954068341175535,
      -0.12755167058099692, 1.2440060708871092,
    ],
    f32: [
      0.9911375045776367, -0.1536381095647812, -1.186356782913208, -0.5954068303108215,
      -0.12755167484283447, 1.2440060377120972,
    ],
  },
  {
    key: { key0: 12345, key1: 0, counter: 7 },
    f64: [
      -0.08444183020618148, -1.3718279545044658, -1.4444056675820425, -0.341538782397595,
      1.1749159330351124, 0.7867943528974504,
    ],
    f32: [
      -0.08444183319807053, -1.3718279600143433, -1.4444056749343872, -0.34153878688812256,
      1.1749159097671509, 0.7867943644523621,
    ],
  },
  {
    // Crosses the 2^32 boundary of the counter's low word.
    key: { key0: 4294967295, key1: 4660, counter: 4294967294 },
    f64: [
      0.3643844502167502, 0.3401967345656885, -0.41172002587437756, 0.31838355858202316,
      -0.17696517730335107, -0.5169516378449814,
    ],
    f32: [
      0.3643844425678253, 0.34019672870635986, -0.41172003746032715, 0.3183835446834564,
      -0.17696517705917358, -0.5169516205787659,
    ],
  },
  {
    key: { key0: 42, key1: 3, counter: 2 ** 40 + 5 },
    f64: [
      0.46272245188693334, 1.0097782915145201, 0.29493355886286327, 0.16046181960857805,
      0.32547234241962364, -0.20310028294382954,
    ],
    f32: [
      0.46272245049476624, 1.0097782611846924, 0.294933557510376, 0.16046181321144104,
      0.325472354888916, -0.2031002789735794,
    ],
  },
];

/** The reference definitions, written the plain way: one `philox` call per element. */
function referenceNormal(key: RandomKey, n: number): Float64Array {
  const out = new Float64Array(n);
  const w = new Uint32Array(4);
  for (let i = 0; i < n; i++) {
    const block = key.counter + i;
    philox(block % 2 ** 32, Math.floor(block / 2 ** 32), 0, 0, key.key0, key.key1, w);
    const u1 = ((w[0] >>> 8) + 1) / 2 ** 24;
    const u2 = (w[1] >>> 8) / 2 ** 24;
    out[i] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  return out;
}

function referenceUniform(key: RandomKey, n: number): Float64Array {
  const out = new Float64Array(n);
  const w = new Uint32Array(4);
  for (let i = 0; i < n; i++) {
    const block = key.counter + Math.floor(i / 4);
    philox(block % 2 ** 32, Math.floor(block / 2 ** 32), 0, 0, key.key0, key.key1, w);
    out[i] = (w[i % 4] >>> 8) / 2 ** 24;
  }
  return out;
}

const KEYS: RandomKey[] = [
  ...PINNED.map((p) => p.key),
  { key0: 0xdeadbeef, key1: 0xffffffff, counter: 2 ** 33 - 700 },
  { key0: 1, key1: 0, counter: 2 ** 52 },
];

describe('philoxNormal', () => {
  it.each(PINNED)('reproduces the pinned values for key $key', ({ key, f64, f32 }) => {
    const a = new Float64Array(f64.length);
    philoxNormal(key, a);
    expect(Array.from(a)).toEqual(f64);
    const b = new Float32Array(f32.length);
    philoxNormal(key, b);
    expect(Array.from(b)).toEqual(f32);
  });

  it.each(KEYS)('equals the one-block-per-element definition bit for bit (key $key)', (key) => {
    const n = 3001;
    const got = new Float64Array(n);
    philoxNormal(key, got);
    expect(got).toEqual(referenceNormal(key, n));
    const got32 = new Float32Array(n);
    philoxNormal(key, got32);
    expect(got32).toEqual(Float32Array.from(referenceNormal(key, n)));
  });
});

describe('philoxUniform', () => {
  it.each(KEYS)('equals the word-per-element definition bit for bit (key $key)', (key) => {
    for (const n of [1, 2, 3, 4, 5, 4099]) {
      const got = new Float64Array(n);
      philoxUniform(key, got);
      expect(got).toEqual(referenceUniform(key, n));
    }
  });
});

describe('the JS fallback (no WebAssembly)', () => {
  afterEach(() => disablePhiloxWasm(false));

  it('is what runs when WebAssembly is off, and draws the same values', () => {
    expect(philoxWasm()).not.toBeNull();
    for (const key of KEYS) {
      disablePhiloxWasm(true);
      expect(philoxWasm()).toBeNull();
      const normal = new Float64Array(1500);
      philoxNormal(key, normal);
      const uniform = new Float64Array(4099);
      philoxUniform(key, uniform);
      disablePhiloxWasm(false);
      expect(normal).toEqual(referenceNormal(key, normal.length));
      expect(uniform).toEqual(referenceUniform(key, uniform.length));
    }
  });
});
