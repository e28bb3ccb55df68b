import { describe, expect, it } from 'vitest';
import { defaultGenerator, Generator, manualSeed, rand, randn, TensorError } from '../src/index.js';
import { blocksFor, philox } from '../src/random.js';
import { values } from './helpers.js';

/**
 * Random123's known-answer vectors for Philox-4x32-10 (tests/kat_vectors of the reference
 * distribution; the third is the leading hex digits of pi): counter, key, output.
 */
const KAT: [number[], number[], number[]][] = [
  [
    [0, 0, 0, 0],
    [0, 0],
    [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
  ],
  [
    [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
    [0xffffffff, 0xffffffff],
    [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  ],
  [
    [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
    [0xa4093822, 0x299f31d0],
    [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
  ],
];

function block(c0: number, c1: number, k0: number, k1: number): Uint32Array {
  const out = new Uint32Array(4);
  philox(c0, c1, 0, 0, k0, k1, out);
  return out;
}

function moments(xs: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  const mean = s / xs.length;
  let q = 0;
  for (let i = 0; i < xs.length; i++) q += (xs[i] - mean) ** 2;
  return { mean, std: Math.sqrt(q / xs.length) };
}

describe('philox', () => {
  it.each(KAT)('matches Random123 for counter %j key %j', (ctr, key, expected) => {
    const out = new Uint32Array(4);
    philox(ctr[0], ctr[1], ctr[2], ctr[3], key[0], key[1], out);
    expect([...out]).toEqual(expected);
  });

  it('accepts counters and keys given as signed 32-bit integers', () => {
    const out = new Uint32Array(4);
    philox(-1, -1, -1, -1, -1, -1, out);
    expect([...out]).toEqual(KAT[1][2]);
  });
});

describe('Generator', () => {
  it('lays uniform draws out as word i % 4 of block floor(i / 4), 24 bits each', () => {
    const g = new Generator(7);
    const got = values(rand([10], { generator: g, dtype: 'float64' }));
    const expected = Array.from({ length: 10 }, (_, i) => {
      const w = block(Math.floor(i / 4), 0, 7, 0)[i % 4];
      return (w >>> 8) / 2 ** 24;
    });
    expect(got).toEqual(expected);
    // The next draw starts at the next unused block (ceil(10 / 4) = 3).
    const next = values(rand([1], { generator: g, dtype: 'float64' }));
    expect(next[0]).toBe((block(3, 0, 7, 0)[0] >>> 8) / 2 ** 24);
  });

  it('uses a seed above 2^32 as both key words', () => {
    const seed = 2 ** 40 + 3;
    const g = new Generator(seed);
    const got = values(rand([1], { generator: g, dtype: 'float64' }))[0];
    expect(got).toBe((block(0, 0, 3, 2 ** 8)[0] >>> 8) / 2 ** 24);
    expect(g.seed).toBe(seed);
  });

  it('gives the same values for the same seed and different values for different seeds', () => {
    const a = values(randn([64], { generator: new Generator(123) }));
    const b = values(randn([64], { generator: new Generator(123) }));
    const c = values(randn([64], { generator: new Generator(124) }));
    expect(a).toEqual(b);
    expect(new Set(a).size).toBe(64);
    const same = a.filter((v, i) => v === c[i]).length;
    expect(same).toBe(0);
  });

  it('advances the stream: consecutive draws differ and add up to one long draw', () => {
    const g = new Generator(5);
    const first = values(rand([8], { generator: g }));
    const second = values(rand([8], { generator: g }));
    expect(first).not.toEqual(second);
    const whole = values(rand([16], { generator: new Generator(5) }));
    expect([...first, ...second]).toEqual(whole);
    // A normal draw takes one block per element, so its values do not depend on the draw size.
    const n1 = values(randn([3], { generator: new Generator(9) }));
    const n2 = values(randn([5], { generator: new Generator(9) }));
    expect(n2.slice(0, 3)).toEqual(n1);
    expect(blocksFor('normal', 5)).toBe(5);
    expect(blocksFor('uniform', 5)).toBe(2);
  });

  it('resumes exactly from getState / setState', () => {
    const g = new Generator(42);
    rand([13], { generator: g });
    randn([3], { generator: g });
    const saved = g.getState();
    expect(saved).toEqual({ seed: 42, offset: Math.ceil(13 / 4) + 3 });
    const expected = [
      ...values(randn([6], { generator: g })),
      ...values(rand([5], { generator: g })),
    ];

    const h = new Generator(1);
    randn([100], { generator: h });
    h.setState(saved);
    const resumed = [
      ...values(randn([6], { generator: h })),
      ...values(rand([5], { generator: h })),
    ];
    expect(resumed).toEqual(expected);
  });

  it('restarts the stream on manualSeed', () => {
    const g = new Generator(3);
    const a = values(rand([6], { generator: g }));
    g.manualSeed(3);
    expect(values(rand([6], { generator: g }))).toEqual(a);
    expect(g.getState()).toEqual({ seed: 3, offset: 2 });
  });

  it('rejects seeds and offsets that are not non-negative safe integers', () => {
    expect(() => new Generator(-1)).toThrow(/seed must be a non-negative safe integer, got -1/);
    expect(() => new Generator(1.5)).toThrow(/got 1.5/);
    expect(() => new Generator(2 ** 53)).toThrow(TensorError);
    expect(() => new Generator(0).setState({ seed: 1, offset: -2 })).toThrow(/offset .* got -2/);
  });

  it('draws from the default generator, which manualSeed reseeds', () => {
    manualSeed(2024);
    const a = values(randn([7]));
    const b = values(rand([5]));
    expect(defaultGenerator.getState()).toEqual({ seed: 2024, offset: 7 + 2 });
    manualSeed(2024);
    expect(values(randn([7]))).toEqual(a);
    expect(values(rand([5]))).toEqual(b);
    expect(values(randn([7], { generator: new Generator(2024) }))).toEqual(a);
  });
});

describe('distributions', () => {
  const n = 100_000;
  // Standard errors for n samples: mean sigma / sqrt(n), std about sigma / sqrt(2n); allow 5 of them.
  const se = 5 / Math.sqrt(n);

  it('randn has mean 0 and std 1, or the requested mean and std', () => {
    const g = new Generator(11);
    const s = moments(randn([n], { generator: g }).dataSync());
    expect(Math.abs(s.mean)).toBeLessThan(se);
    expect(Math.abs(s.std - 1)).toBeLessThan(se / Math.SQRT2);

    const t = moments(randn([n], { generator: g, mean: 3, std: 0.5 }).dataSync());
    expect(Math.abs(t.mean - 3)).toBeLessThan(0.5 * se);
    expect(Math.abs(t.std - 0.5)).toBeLessThan((0.5 * se) / Math.SQRT2);
  });

  it('randn has normal tails: about 4.55% of values beyond 2 std', () => {
    const xs = randn([n], { generator: new Generator(12), dtype: 'float64' }).dataSync();
    let beyond = 0;
    for (const x of xs) if (Math.abs(x) > 2) beyond++;
    const p = 0.0455;
    expect(Math.abs(beyond / n - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
    expect(xs.every(Number.isFinite)).toBe(true);
  });

  it('rand is uniform on [0, 1) with mean 1/2 and std 1/sqrt(12)', () => {
    const xs = rand([n], { generator: new Generator(13) }).dataSync();
    const s = moments(xs);
    const sigma = 1 / Math.sqrt(12);
    expect(Math.abs(s.mean - 0.5)).toBeLessThan(sigma * se);
    expect(Math.abs(s.std - sigma)).toBeLessThan(sigma * se);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    // Each tenth of the interval holds about a tenth of the values.
    const bins = new Array<number>(10).fill(0);
    for (const x of xs) bins[Math.floor(x * 10)]++;
    for (const b of bins) expect(Math.abs(b / n - 0.1)).toBeLessThan(5 * Math.sqrt(0.09 / n));
  });

  it('rand with low and high spans [low, high) with the scaled moments', () => {
    const low = -3;
    const high = 5;
    const g = new Generator(14);
    const xs = rand([n], { generator: g, low, high, dtype: 'float64' }).dataSync();
    const s = moments(xs);
    const sigma = (high - low) / Math.sqrt(12);
    expect(Math.abs(s.mean - 1)).toBeLessThan(sigma * se);
    expect(Math.abs(s.std - sigma)).toBeLessThan(sigma * se);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(low);
    expect(Math.max(...xs)).toBeLessThan(high);
    expect(Math.min(...xs)).toBeLessThan(low + 0.01);
    expect(Math.max(...xs)).toBeGreaterThan(high - 0.01);
    // The same uniform draw, scaled: low + (high - low) u.
    const u = values(rand([4], { generator: new Generator(15), dtype: 'float64' }));
    const scaled = values(rand([4], { generator: new Generator(15), low, high, dtype: 'float64' }));
    scaled.forEach((v, i) => {
      expect(v).toBeCloseTo(low + (high - low) * u[i], 12);
    });
  });

  it('rejects integer dtypes', () => {
    expect(() => rand([2], { dtype: 'int32' })).toThrow(/float dtype/);
    expect(() => randn([2], { dtype: 'int32' })).toThrow(/float dtype/);
  });
});
