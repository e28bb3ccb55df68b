import { expect } from 'vitest';
import type { Backend, HostArray, Tensor } from '../../src/index.js';

/**
 * Comparison helpers of the conformance suite: results are read with `await t.data()` (so
 * asynchronous backends work) and compared elementwise with |got - want| <= atol + rtol |want|
 * (NaN matches NaN, infinities match exactly).
 */

/** Tolerances of one comparison. */
export interface Tolerance {
  readonly rtol?: number;
  readonly atol?: number;
}

/** Deterministic values in [lo, hi): a sine hash, so every run and backend sees the same inputs. */
export function values(n: number, seed = 1, lo = -2, hi = 2): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const s = Math.sin((i + 1) * 12.9898 + seed * 78.233) * 43758.5453;
    out[i] = lo + (s - Math.floor(s)) * (hi - lo);
  }
  return out;
}

/** Deterministic integers in [lo, hi). */
export function ints(n: number, seed = 1, lo = -5, hi = 5): number[] {
  return values(n, seed, lo, hi).map((v) => Math.floor(v));
}

/** Checks two host arrays elementwise. */
export function expectClose(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: Tolerance = {},
  what = 'values',
): void {
  const rtol = tol.rtol ?? 1e-5;
  const atol = tol.atol ?? 1e-6;
  expect(got.length, `${what}: length`).toBe(want.length);
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (Number.isNaN(w) && Number.isNaN(g)) continue;
    if (!Number.isFinite(w) || !Number.isFinite(g)) {
      if (g !== w) {
        worst = i;
        worstErr = Number.POSITIVE_INFINITY;
        break;
      }
      continue;
    }
    const err = Math.abs(g - w) - (atol + rtol * Math.abs(w));
    if (err > worstErr) {
      worstErr = err;
      worst = i;
    }
  }
  if (worst >= 0) {
    expect.fail(
      `${what}: element ${worst} is ${got[worst]}, expected ${want[worst]} (rtol ${rtol}, atol ${atol})`,
    );
  }
}

/** Reads a tensor's values asynchronously. */
export async function read(t: Tensor): Promise<HostArray> {
  return t.data();
}

/**
 * Runs `build` on the CPU and on the backend under test and compares every tensor it returns
 * (shape, dtype and values). `build` receives the backend to create its inputs on.
 */
export async function sameAsCpu(
  cpu: Backend,
  backend: Backend,
  build: (b: Backend) => Tensor | (Tensor | null)[],
  tol: Tolerance = {},
): Promise<void> {
  const want = [build(cpu)].flat();
  const got = [build(backend)].flat();
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    const g = got[i];
    if (w === null || g === null) {
      expect(g, `output ${i}`).toBe(w);
      continue;
    }
    expect(g.shape, `output ${i}: shape`).toEqual(w.shape);
    expect(g.dtype, `output ${i}: dtype`).toBe(w.dtype);
    expect(g.backend).toBe(backend);
    expectClose(await read(g), await read(w), tol, `output ${i}`);
  }
}
