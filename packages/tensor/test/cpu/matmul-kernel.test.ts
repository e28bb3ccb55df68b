import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { matmulF32, matmulF64 } from '../../src/cpu/matmul.js';
import { createMatmulF32Kernel } from '../../src/cpu/matmul-kernel.js';
import { buildMatmulWasm } from '../../src/cpu/matmul-wasm.js';
import { poolStats, setCpuThreads, shutdownPool } from '../../src/cpu/pool.js';
import { TensorError } from '../../src/errors.js';
import { randomFloats } from '../helpers.js';

// Every kernel is checked against a naive float64 triple loop on the same (float32-exact)
// inputs, by the norm-wise relative error ||got - expected|| / ||expected||.

const F32_TOL = 1e-5;
const F64_TOL = 1e-12;
const TRANS: readonly [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

interface Case {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  /** Element offset of each batch entry's block; repeats broadcast. */
  aOffsets: number[];
  bOffsets: number[];
  outOffset: number;
}

function reference(c: Case, a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const { m, n, k, transA, transB } = c;
  const out = new Float64Array(c.aOffsets.length * m * n);
  c.aOffsets.forEach((ao, batch) => {
    const bo = c.bOffsets[batch];
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let p = 0; p < k; p++) {
          const av = transA ? a[ao + p * m + i] : a[ao + i * k + p];
          const bv = transB ? b[bo + j * k + p] : b[bo + p * n + j];
          sum += av * bv;
        }
        out[batch * m * n + i * n + j] = sum;
      }
    }
  });
  return out;
}

function relError(got: ArrayLike<number>, gotOffset: number, expected: Float64Array): number {
  let err = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    err += (got[gotOffset + i] - expected[i]) ** 2;
    norm += expected[i] ** 2;
  }
  return norm === 0 ? Math.sqrt(err) : Math.sqrt(err / norm);
}

/** Operand arrays big enough for the case's offsets, plus one spare element. */
function operands(c: Case, seed: number, shared = false) {
  const a = randomFloats(Math.max(0, ...c.aOffsets) + c.m * c.k + 1, seed, shared);
  const b = randomFloats(Math.max(0, ...c.bOffsets) + c.k * c.n + 1, seed + 1, shared);
  return { a, b };
}

const SENTINEL = 12345;

/** Runs `matmulF32` on a sentinel-filled `out` and checks result and untouched margins. */
function checkF32(c: Case, seed: number, shared = false): void {
  const { a, b } = operands(c, seed, shared);
  const size = c.aOffsets.length * c.m * c.n;
  const outLength = c.outOffset + size + 3;
  const out = shared
    ? new Float32Array(new SharedArrayBuffer(outLength * 4))
    : new Float32Array(outLength);
  out.fill(SENTINEL);
  matmulF32(out, c.outOffset, a, c.aOffsets, c.transA, b, c.bOffsets, c.transB, c.m, c.n, c.k);
  expect(relError(out, c.outOffset, reference(c, a, b))).toBeLessThan(F32_TOL);
  for (let i = 0; i < c.outOffset; i++) expect(out[i]).toBe(SENTINEL);
  for (let i = c.outOffset + size; i < out.length; i++) expect(out[i]).toBe(SENTINEL);
}

function single(m: number, n: number, k: number, transA: boolean, transB: boolean): Case {
  return { m, n, k, transA, transB, aOffsets: [0], bOffsets: [0], outOffset: 0 };
}

const label = (c: Case) =>
  `${c.m}x${c.n}x${c.k} transA=${c.transA} transB=${c.transB} batch=${c.aOffsets.length}`;

// Degenerate sizes, the direct path (<= 512 multiply-adds), sizes off the 4x8 micro-tile,
// and sizes crossing the k block (256), the column block (512) and the row tile (512).
const SHAPES: readonly [number, number, number][] = [
  [1, 1, 1],
  [1, 9, 1],
  [1, 1, 37],
  [7, 1, 5],
  [5, 3, 1],
  [4, 8, 16],
  [13, 17, 19],
  [1, 300, 70],
  [300, 1, 70],
  [37, 9, 300],
  [130, 70, 513],
  [9, 530, 40],
  [600, 12, 33],
];

describe('matmulF32 on one thread', () => {
  beforeAll(() => setCpuThreads(1));
  afterAll(() => setCpuThreads('auto'));

  for (const [m, n, k] of SHAPES) {
    for (const [transA, transB] of TRANS) {
      const c = single(m, n, k, transA, transB);
      it(label(c), () => checkF32(c, m * 31 + n * 7 + k));
    }
  }

  it('crosses every block boundary at once (600 x 530 x 300, all transposes)', () => {
    for (const [transA, transB] of TRANS) checkF32(single(600, 530, 300, transA, transB), 5);
  });

  it('stays within 1e-5 of float64 for k = 4096', () => {
    for (const [transA, transB] of TRANS) checkF32(single(33, 45, 4096, transA, transB), 6);
  });

  it('writes zeros when k = 0 and nothing when m or n is 0', () => {
    checkF32(single(3, 4, 0, false, false), 7);
    checkF32(
      { ...single(3, 4, 0, true, true), aOffsets: [0, 0], bOffsets: [0, 0], outOffset: 2 },
      7,
    );
    const out = new Float32Array(4).fill(SENTINEL);
    const a = randomFloats(8, 1);
    matmulF32(out, 0, a, [0], false, a, [0], false, 0, 4, 2);
    matmulF32(out, 0, a, [0], false, a, [0], false, 4, 0, 2);
    matmulF32(out, 0, a, [], false, a, [], false, 4, 4, 2);
    expect(Array.from(out)).toEqual([SENTINEL, SENTINEL, SENTINEL, SENTINEL]);
  });

  it('broadcasts through repeated offsets and honours non-zero offsets', () => {
    for (const [transA, transB] of TRANS) {
      for (const [m, n, k] of [
        [3, 5, 4],
        [45, 70, 90],
      ]) {
        const aBlock = m * k + 3;
        const bBlock = k * n + 5;
        // a broadcast over the batch, b per entry; then the other way round.
        checkF32(
          {
            m,
            n,
            k,
            transA,
            transB,
            aOffsets: [7, 7, 7],
            bOffsets: [2, 2 + bBlock, 2 + 2 * bBlock],
            outOffset: 11,
          },
          8,
        );
        checkF32(
          {
            m,
            n,
            k,
            transA,
            transB,
            aOffsets: [1 + 2 * aBlock, 1, 1 + aBlock],
            bOffsets: [4, 4, 4],
            outOffset: 1,
          },
          9,
        );
      }
    }
  });

  it('rejects operands that do not fit, with a message naming the problem', () => {
    const a = new Float32Array(6);
    const out = new Float32Array(4);
    expect(() => matmulF32(out, 0, a, [0, 0], false, a, [0], false, 2, 2, 3)).toThrow(
      /aOffsets and bOffsets/,
    );
    expect(() => matmulF32(out, 0, a, [1], false, a, [0], false, 2, 2, 3)).toThrow(
      /aOffsets\[0\] = 1/,
    );
    expect(() => matmulF32(out, 1, a, [0], false, a, [0], false, 2, 2, 3)).toThrow(TensorError);
    expect(() => matmulF32(out, 0, a, [0], false, a, [0], false, 2, 2, 2.5)).toThrow(/k must be/);
    expect(() => setCpuThreads(0)).toThrow(/positive integer/);
  });
});

describe('the packed kernel on sub-tiles, WebAssembly SIMD and JS fallback', () => {
  const kernel = createMatmulF32Kernel();
  const engines = [
    ['wasm', kernel.createEngine(buildMatmulWasm())],
    ['js', kernel.createEngine(null)],
  ] as const;

  it('compiles the SIMD kernel here', () => {
    expect(engines[0][1].simd).toBe(true);
    expect(engines[1][1].simd).toBe(false);
  });

  for (const [name, eng] of engines) {
    it(`${name}: writes exactly rows [i0, i1) x columns [j0, j1)`, () => {
      for (const [transA, transB] of TRANS) {
        const c = single(70, 600, 300, transA, transB);
        const { a, b } = operands(c, 10);
        const expected = reference(c, a, b);
        const out = new Float32Array(c.m * c.n).fill(SENTINEL);
        const [i0, i1, j0, j1] = [3, 61, 5, 590];
        kernel.gemmTile(eng, out, 0, a, 0, transA, b, 0, transB, c.m, c.n, c.k, i0, i1, j0, j1);
        let err = 0;
        let norm = 0;
        for (let i = 0; i < c.m; i++) {
          for (let j = 0; j < c.n; j++) {
            const got = out[i * c.n + j];
            if (i >= i0 && i < i1 && j >= j0 && j < j1) {
              err += (got - expected[i * c.n + j]) ** 2;
              norm += expected[i * c.n + j] ** 2;
            } else {
              expect(got).toBe(SENTINEL);
            }
          }
        }
        expect(Math.sqrt(err / norm)).toBeLessThan(F32_TOL);
      }
    });
  }
});

describe('matmulF32 with worker threads', () => {
  // Three threads: two workers even on a two-core machine. 256 x 200 x 190 (9.7M
  // multiply-adds) is above the size from which calls are split over threads.
  beforeAll(() => setCpuThreads(3));
  afterAll(async () => {
    setCpuThreads('auto');
    await shutdownPool();
  });

  /**
   * Repeats `run` until workers have taken part in a call (they start asynchronously). Each
   * attempt gets fresh inputs, so a result left in the shared staging memory by an earlier
   * call cannot pass for a new one.
   */
  async function withWorkers(run: (seed: number) => void): Promise<void> {
    run(0);
    await vi.waitFor(() => expect(poolStats().ready).toBe(2), { timeout: 20_000 });
    for (let attempt = 1; attempt <= 20; attempt++) {
      run(attempt * 1000);
      if (poolStats().workerTasks > 0) return;
    }
    throw new Error('the workers never took a tile');
  }

  it('agrees with float64 for all transposes, the workers doing part of the work', async () => {
    for (const [transA, transB] of TRANS) {
      await withWorkers((seed) => checkF32(single(256, 200, 190, transA, transB), seed + 11));
      expect(poolStats().workers).toBe(2);
    }
  });

  it('splits a broadcast batch with offsets, and uses shared operands in place', async () => {
    for (const shared of [false, true]) {
      for (const [transA, transB] of TRANS) {
        const [m, n, k] = [70, 130, 300];
        const c: Case = {
          m,
          n,
          k,
          transA,
          transB,
          aOffsets: [5, 5 + m * k, 5, 5 + m * k, 5],
          bOffsets: [3, 3, 3, 3, 3 + k * n],
          outOffset: 9,
        };
        await withWorkers((seed) => checkF32(c, seed + 12, shared));
      }
    }
  });

  it('keeps float32 accuracy for k = 4096 across threads', async () => {
    await withWorkers((seed) => checkF32(single(64, 48, 4096, false, true), seed + 13));
  });

  it('restarts after shutdown and resizes when the thread count changes', async () => {
    await shutdownPool();
    expect(poolStats().workers).toBe(0);
    await withWorkers((seed) => checkF32(single(256, 200, 190, false, false), seed + 14));
    setCpuThreads(2);
    checkF32(single(256, 200, 190, true, false), 15);
    expect(poolStats().workers).toBe(1);
    setCpuThreads(3);
  });
});

describe('matmulF64', () => {
  function checkF64(c: Case, seed: number): void {
    const a32 = operands(c, seed);
    const a = Float64Array.from(a32.a);
    const b = Float64Array.from(a32.b);
    const size = c.aOffsets.length * c.m * c.n;
    const out = new Float64Array(c.outOffset + size + 2).fill(SENTINEL);
    matmulF64(out, c.outOffset, a, c.aOffsets, c.transA, b, c.bOffsets, c.transB, c.m, c.n, c.k);
    expect(relError(out, c.outOffset, reference(c, a, b))).toBeLessThan(F64_TOL);
    for (let i = 0; i < c.outOffset; i++) expect(out[i]).toBe(SENTINEL);
    for (let i = c.outOffset + size; i < out.length; i++) expect(out[i]).toBe(SENTINEL);
  }

  it('agrees with the naive loop on every shape and transpose', () => {
    for (const [m, n, k] of [...SHAPES, [3, 4, 0] as [number, number, number], [70, 300, 140]]) {
      for (const [transA, transB] of TRANS) checkF64(single(m, n, k, transA, transB), m + n + k);
    }
  });

  it('broadcasts through repeated offsets', () => {
    for (const [transA, transB] of TRANS) {
      checkF64(
        {
          m: 6,
          n: 5,
          k: 7,
          transA,
          transB,
          aOffsets: [3, 3, 50],
          bOffsets: [1, 40, 1],
          outOffset: 4,
        },
        16,
      );
    }
  });
});
