import { expect } from 'vitest';
import { type DType, type Tensor, TensorError, tensor } from '../../src/index.js';

/**
 * Helpers shared by the op tests: independent references (plain JS over nested indices) and
 * checks of error messages.
 */

/** Runs `fn`, expects a TensorError from `op`, and checks that the message names every part. */
export function expectTensorError(fn: () => unknown, op: string, ...parts: string[]): TensorError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${op} to throw`).toBeInstanceOf(TensorError);
  const err = caught as TensorError;
  expect(err.op).toBe(op);
  expect(err.message.startsWith(`${op}:`)).toBe(true);
  for (const p of parts) expect(err.message).toContain(p);
  return err;
}

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Every multi-index of a shape in row-major order. */
export function indices(shape: readonly number[]): number[][] {
  const total = shape.reduce((p, d) => p * d, 1);
  const out: number[][] = [];
  for (let flat = 0; flat < total; flat++) {
    const idx = new Array<number>(shape.length);
    let r = flat;
    for (let i = shape.length - 1; i >= 0; i--) {
      idx[i] = r % shape[i];
      r = Math.floor(r / shape[i]);
    }
    out.push(idx);
  }
  return out;
}

/** The flat row-major position of a multi-index. */
export function flatIndex(idx: readonly number[], shape: readonly number[]): number {
  const s = stridesOf(shape);
  return idx.reduce((p, v, i) => p + v * s[i], 0);
}

/** Reads `values` (row-major, of `shape`) at an output index, broadcasting by NumPy rules. */
export function readBroadcast(
  vals: readonly number[],
  shape: readonly number[],
  outIdx: readonly number[],
): number {
  const lead = outIdx.length - shape.length;
  const idx = shape.map((d, i) => (d === 1 ? 0 : outIdx[lead + i]));
  return vals[flatIndex(idx, shape)];
}

/** Deterministic values in [-1, 1) that differ from each other and from 0 by at least ~0.01. */
export function spread(n: number, seed = 1): number[] {
  return Array.from({ length: n }, (_, i) => {
    const v = Math.sin((i + 1) * 7.31 * seed + seed) * 0.9;
    return v >= 0 ? v + 0.05 : v - 0.05;
  });
}

/** A tensor of `spread` values. */
export function spreadTensor(
  shape: number[],
  seed = 1,
  dtype: DType = 'float32',
  requiresGrad = false,
): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  return tensor(spread(n, seed), { shape, dtype, requiresGrad });
}

/** Float32 rounding of every value (the reference for float32 outputs). */
export function f32(vals: readonly number[]): number[] {
  return vals.map((v) => Math.fround(v));
}

/** Values as a plain array, NaN-safe for toEqual. */
export function arr(t: Tensor): number[] {
  return Array.from(t.dataSync());
}

/** Expects element-wise closeness with a relative-or-absolute tolerance (NaN matches NaN). */
export function expectClose(got: readonly number[], want: readonly number[], tol = 1e-6): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    const g = got[i];
    const w = want[i];
    if (Number.isNaN(w)) {
      expect(g, `element ${i}`).toBeNaN();
      continue;
    }
    if (!Number.isFinite(w)) {
      expect(g, `element ${i}`).toBe(w);
      continue;
    }
    const err = Math.abs(g - w) / Math.max(1, Math.abs(w));
    expect(err, `element ${i}: got ${g}, want ${w}`).toBeLessThanOrEqual(tol);
  }
}

/** Gradient of the leaf after backward, as plain numbers (zeros when none arrived). */
export function gradOf(t: Tensor): number[] {
  return t.grad ? arr(t.grad) : new Array(t.size).fill(0);
}
