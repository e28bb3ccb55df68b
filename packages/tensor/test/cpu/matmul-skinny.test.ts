import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { matmulF32, setSkinnyMatmul } from '../../src/cpu/matmul.js';
import { createMatmulF32Kernel } from '../../src/cpu/matmul-kernel.js';
import { buildMatmulWasm } from '../../src/cpu/matmul-wasm.js';
import { poolStats, setCpuThreads, shutdownPool } from '../../src/cpu/pool.js';
import { randomFloats } from '../helpers.js';

// The few-row path of matmulF32 (m <= 8) against the packed path it replaces and a float64
// reference: both orientations of each operand, batches with broadcast (stride-0) operands,
// k off the SIMD width, n below and across the chunk sizes, and the same bits whatever the
// thread count or column split.

interface Case {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  aOffsets: number[];
  bOffsets: number[];
  outOffset: number;
}

const single = (m: number, n: number, k: number, transA: boolean, transB: boolean): Case => ({
  m,
  n,
  k,
  transA,
  transB,
  aOffsets: [0],
  bOffsets: [0],
  outOffset: 0,
});

const SENTINEL = 12345;

/** `matmulF32` of the case into a sentinel-filled array, the skinny path on or off. */
function run(c: Case, a: Float32Array, b: Float32Array, skinny: boolean): Float32Array {
  const size = c.aOffsets.length * c.m * c.n;
  const out = new Float32Array(c.outOffset + size + 3).fill(SENTINEL);
  setSkinnyMatmul(skinny ? 'always' : 'off');
  try {
    matmulF32(out, c.outOffset, a, c.aOffsets, c.transA, b, c.bOffsets, c.transB, c.m, c.n, c.k);
  } finally {
    setSkinnyMatmul('auto');
  }
  return out;
}

function operands(c: Case, seed: number, shared = false) {
  const a = randomFloats(Math.max(...c.aOffsets) + c.m * c.k + 1, seed, shared);
  const b = randomFloats(Math.max(...c.bOffsets) + c.k * c.n + 1, seed + 1, shared);
  return { a, b };
}

/**
 * Checks the skinny result against the float64 sum and the packed path: each element within
 * 2 k 2^-24 sum_p |a_ip b_pj| of both (a float32 summation's error bound), bit for bit equal
 * to the packed path when b is not transposed (same operations in the same order), and the
 * margins of `out` untouched.
 */
function check(c: Case, seed: number): void {
  const { a, b } = operands(c, seed);
  const got = run(c, a, b, true);
  const packed = run(c, a, b, false);
  const { m, n, k } = c;
  c.aOffsets.forEach((ao, batch) => {
    const bo = c.bOffsets[batch];
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        let abs = 0;
        for (let p = 0; p < k; p++) {
          const av = c.transA ? a[ao + p * m + i] : a[ao + i * k + p];
          const bv = c.transB ? b[bo + j * k + p] : b[bo + p * n + j];
          sum += av * bv;
          abs += Math.abs(av * bv);
        }
        const at = c.outOffset + batch * m * n + i * n + j;
        const bound = 2 * k * 2 ** -24 * abs;
        if (!(Math.abs(got[at] - sum) <= bound) || !(Math.abs(got[at] - packed[at]) <= bound)) {
          throw new Error(
            `${label(c)} [${batch}, ${i}, ${j}]: got ${got[at]}, packed ${packed[at]}, exact ${sum}`,
          );
        }
      }
    }
  });
  if (!c.transB) expect(got).toEqual(packed);
  const size = c.aOffsets.length * m * n;
  for (let i = 0; i < c.outOffset; i++) expect(got[i]).toBe(SENTINEL);
  for (let i = c.outOffset + size; i < got.length; i++) expect(got[i]).toBe(SENTINEL);
}

const label = (c: Case) =>
  `${c.m}x${c.n}x${c.k} transA=${c.transA} transB=${c.transB} batch=${c.aOffsets.length}`;

const TRANS: readonly [boolean, boolean][] = [
  [false, true],
  [false, false],
  [true, true],
  [true, false],
];

describe('matmulF32 with few rows (the skinny path), one thread', () => {
  beforeAll(() => setCpuThreads(1));
  afterAll(() => setCpuThreads('auto'));

  for (const [transA, transB] of TRANS) {
    it(`m = 1..8, k off the SIMD width, n small and large (transA=${transA}, transB=${transB})`, () => {
      for (let m = 1; m <= 8; m++) {
        for (const [n, k] of [
          [3, 5],
          [17, 8],
          [9, 13],
          [70, 33],
          [600, 7],
          [5, 300],
        ]) {
          check(single(m, n, k, transA, transB), m * 100 + n + k);
        }
      }
    });
  }

  it('crosses the column chunks (2100 columns, k = 768 and 770), both orientations of b', () => {
    for (const [transA, transB] of TRANS) {
      check(single(1, 2100, 768, transA, transB), 1);
      check(single(3, 2100, 770, transA, transB), 2);
    }
  });

  it('handles k = 1 and k above the k block (700), and k past the skinny limit (9000)', () => {
    for (const [transA, transB] of TRANS) {
      check(single(2, 40, 1, transA, transB), 3);
      check(single(5, 45, 700, transA, transB), 4);
      check(single(1, 3, 9000, transA, transB), 5);
    }
  });

  it('runs batches, broadcasting either operand (stride-0 offsets) and honouring offsets', () => {
    for (const [transA, transB] of TRANS) {
      const [m, n, k] = [3, 37, 21];
      check(
        {
          m,
          n,
          k,
          transA,
          transB,
          aOffsets: [5, 5, 5],
          bOffsets: [2, 2 + k * n + 1, 2],
          outOffset: 7,
        },
        6,
      );
      check(
        { m, n, k, transA, transB, aOffsets: [1, 1 + m * k, 3], bOffsets: [0, 0, 0], outOffset: 1 },
        7,
      );
    }
  });

  it('reads b in place: a column range of the kernel equals the same columns of the whole', () => {
    const kernel = createMatmulF32Kernel();
    const eng = kernel.createEngine(buildMatmulWasm());
    for (const transB of [true, false]) {
      const [m, n, k] = [4, 1100, 90];
      const a = randomFloats(m * k, 8);
      const b = randomFloats(n * k, 9);
      const whole = new Float32Array(m * n);
      kernel.skinnyTile(eng, whole, 0, a, 0, false, b, 0, transB, m, n, k, 0, n);
      const parts = new Float32Array(m * n).fill(SENTINEL);
      for (const [j0, j1] of [
        [0, 3],
        [3, 517],
        [517, 1099],
        [1099, 1100],
      ]) {
        kernel.skinnyTile(eng, parts, 0, a, 0, false, b, 0, transB, m, n, k, j0, j1);
      }
      expect(parts).toEqual(whole);
      const some = new Float32Array(m * n).fill(SENTINEL);
      kernel.skinnyTile(eng, some, 0, a, 0, false, b, 0, transB, m, n, k, 10, 20);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          expect(some[i * n + j]).toBe(j >= 10 && j < 20 ? whole[i * n + j] : SENTINEL);
        }
      }
    }
  });

  it('refuses engines without the SIMD kernels, and shapes past its limits', () => {
    const kernel = createMatmulF32Kernel();
    const js = kernel.createEngine(null);
    expect(js.skinny).toBeNull();
    const x = new Float32Array(16);
    expect(() => kernel.skinnyTile(js, x, 0, x, 0, false, x, 0, true, 1, 2, 2, 0, 2)).toThrow(
      /needs SIMD kernels/,
    );
    const wasm = kernel.createEngine(buildMatmulWasm());
    expect(() =>
      kernel.skinnyTile(wasm, x, 0, x, 0, false, x, 0, true, kernel.skinnyMaxM + 1, 1, 1, 0, 1),
    ).toThrow(/m <= 8/);
  });

  it('keeps the module small enough to compile synchronously in a browser (< 4 KiB)', () => {
    expect(buildMatmulWasm().length).toBeLessThan(4096);
  });
});

describe('the skinny path with worker threads', () => {
  beforeAll(() => setCpuThreads(3));
  afterEach(() => setCpuThreads(3));
  afterAll(async () => {
    setCpuThreads('auto');
    await shutdownPool();
  });

  /** The result on `threads` threads, asserting that workers took part when more than one. */
  async function onThreads(threads: number, c: Case, a: Float32Array, b: Float32Array) {
    setCpuThreads(threads);
    if (threads === 1) return run(c, a, b, true);
    let out = run(c, a, b, true);
    await vi.waitFor(() => expect(poolStats().ready).toBe(threads - 1), { timeout: 20_000 });
    for (let attempt = 0; attempt < 20 && poolStats().workerTasks === 0; attempt++) {
      out = run(c, a, b, true);
    }
    expect(poolStats().workerTasks).toBeGreaterThan(0);
    return out;
  }

  it('splits columns over threads for shared b, with the same bits as one thread', async () => {
    for (const [transA, transB] of TRANS) {
      // 2 x 4100 x 770: above the split threshold, k off the SIMD width.
      const c = single(2, 4100, 770, transA, transB);
      const { a, b } = operands(c, 21, true);
      const one = await onThreads(1, c, a, b);
      const three = await onThreads(3, c, a, b);
      expect(three).toEqual(one);
      const two = await onThreads(2, c, a, b);
      expect(two).toEqual(one);
    }
  });

  it('stages an unshared b broadcast over a batch, with the same bits as one thread', async () => {
    const [m, n, k] = [4, 1500, 96];
    for (const transB of [true, false]) {
      const c: Case = {
        m,
        n,
        k,
        transA: false,
        transB,
        aOffsets: Array.from({ length: 9 }, (_, i) => i * m * k),
        bOffsets: new Array<number>(9).fill(3),
        outOffset: 5,
      };
      const { a, b } = operands(c, 22);
      const one = await onThreads(1, c, a, b);
      const three = await onThreads(3, c, a, b);
      expect(three).toEqual(one);
      check(c, 22);
    }
  });
});
