import { fmtShape, TensorError } from './errors.js';

/** A tensor's shape: one non-negative integer per axis. */
export type Shape = readonly number[];

/** Number of elements of a shape. */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a contiguous tensor of this shape. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** True when a (shape, strides) view walks memory in row-major order without gaps. */
export function isContiguous(shape: Shape, strides: readonly number[]): boolean {
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== s) return false;
    s *= shape[i];
  }
  return true;
}

/** Validates a user-given shape. */
export function checkShape(op: string, shape: readonly unknown[]): number[] {
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new TensorError(
        op,
        `shape ${JSON.stringify(shape)} must hold non-negative integers, got ${JSON.stringify(d)}`,
      );
    }
  }
  return shape as number[];
}

/** Broadcasts shapes by NumPy/PyTorch rules (align right; a 1 stretches). */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const shape of shapes) {
    for (let i = 0; i < shape.length; i++) {
      const o = rank - shape.length + i;
      const d = shape[i];
      if (d === out[o] || d === 1) continue;
      if (out[o] === 1) {
        out[o] = d;
        continue;
      }
      throw new TensorError(
        op,
        `shapes ${shapes.map(fmtShape).join(' and ')} do not broadcast: axis ${o - rank} has sizes ${out[o]} and ${d}`,
      );
    }
  }
  return out;
}

/** Strides that read a (shape, strides) view as if broadcast to `outShape` (stride 0 on stretched axes). */
export function broadcastStrides(
  shape: Shape,
  strides: readonly number[],
  outShape: Shape,
): number[] {
  const rank = outShape.length;
  const out = new Array<number>(rank).fill(0);
  for (let i = 0; i < shape.length; i++) {
    const o = rank - shape.length + i;
    out[o] = shape[i] === 1 && outShape[o] !== 1 ? 0 : strides[i];
  }
  return out;
}

/**
 * Resolves a possibly negative axis against a rank. A tensor without axes has none to name;
 * ops that accept 0 or -1 for it, as PyTorch's reductions do, pass a rank of 1.
 */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new TensorError(op, `axis ${axis} is out of range for a tensor of rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** {@link normalizeAxis} for reductions: a tensor without axes accepts 0 and -1, as in PyTorch. */
export function normalizeReduceAxis(op: string, axis: number, rank: number): number {
  if (rank === 0 && axis !== 0 && axis !== -1) {
    throw new TensorError(
      op,
      `axis ${axis} is out of range for a tensor of rank 0 (only 0 or -1 name it)`,
    );
  }
  return normalizeAxis(op, axis, Math.max(rank, 1));
}

/**
 * Resolves an axis list (undefined = all axes), sorted and without repeats. A tensor without
 * axes accepts 0 and -1, as in PyTorch, and reduces over none.
 */
export function normalizeAxes(
  op: string,
  axes: number | readonly number[] | undefined,
  rank: number,
): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const out = list.map((a) => normalizeReduceAxis(op, a, rank));
  if (new Set(out).size !== out.length) {
    throw new TensorError(op, `axes ${JSON.stringify(list)} repeat an axis`);
  }
  return rank === 0 ? [] : out.sort((a, b) => a - b);
}

/** Two shapes are equal axis by axis. */
export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Merges neighbouring axes that every operand steps through contiguously and drops axes of
 * size 1, so that loops run over as few axes as possible. `strides` holds one stride list per
 * operand, each as long as `shape`; the result has the merged shape and each operand's
 * strides on it. Backends use it to turn strided views into the fewest loop axes.
 */
export function coalesce(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k][last] === s[i] * shape[i])) {
      outShape[last] *= shape[i];
      strides.forEach((s, k) => {
        outStrides[k][last] = s[i];
      });
    } else {
      outShape.push(shape[i]);
      strides.forEach((s, k) => {
        outStrides[k].push(s[i]);
      });
    }
  }
  return { shape: outShape, strides: outStrides };
}
