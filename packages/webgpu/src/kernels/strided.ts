import { coalesce, TensorError } from '@statetune/tensor';
import { type GpuData, type GpuRuntime, Params } from '../runtime.js';

/**
 * Index arithmetic shared by the strided kernels: merging axes, and tiling a launch into
 * boxes whose bound ranges fit the device's storage binding limit (tensors larger than
 * `maxStorageBufferBindingSize` are bound a range at a time).
 */

/** Most axes a strided kernel takes after merging. */
export const MAX_RANK = 8;

/** Axis merging is the tensor core's, so both backends see the same loop axes. */
export { coalesce };

/** A strided operand: buffer, first element and per-axis strides (elements). */
export interface StridedOperand {
  readonly data: GpuData;
  readonly offset: number;
  readonly strides: readonly number[];
}

/** Lowest and one-past-highest element a view touches. */
export function span(
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
): [number, number] {
  let lo = offset;
  let hi = offset;
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 0) return [offset, offset];
    const reach = (shape[d] - 1) * strides[d];
    if (reach < 0) lo += reach;
    else hi += reach;
  }
  return [lo, hi + 1];
}

/**
 * One launch of a tiled strided kernel: a box of the (merged) index space, given by its
 * shape and, per operand, the element where the box starts and the range it touches.
 */
export interface Chunk {
  /** Extent of the box along each axis. */
  readonly shape: readonly number[];
  /** Elements in the box. */
  readonly count: number;
  /** Per operand: the element of the box's first index. */
  readonly offsets: readonly number[];
  /** Per operand: element range to bind. */
  readonly ranges: readonly [number, number][];
}

/** Elements an operand's view of a box spans: 1 + sum of |stride| x (extent - 1). */
function boxSpan(box: readonly number[], strides: readonly number[]): number {
  let s = 1;
  for (let d = 0; d < box.length; d++) s += Math.abs(strides[d]) * (box[d] - 1);
  return s;
}

/**
 * The extent of the boxes that tile `shape` so that every operand's touched range fits
 * `maxElements`: the full shape when everything fits; otherwise, while an operand does not
 * fit, the axis on which it steps furthest in memory is cut to the largest extent that fits
 * given the others (or to 1, and the next axis is cut). Any view can be tiled this way,
 * down to single elements: a transposed matrix becomes blocks whose rows and columns both
 * stay within one binding, a stride-0 axis never needs cutting.
 */
export function planBox(
  shape: readonly number[],
  operands: readonly { strides: readonly number[] }[],
  maxElements: number,
): number[] {
  const box = [...shape];
  if (box.some((d) => d === 0)) return box;
  for (;;) {
    const bad = operands.find((o) => boxSpan(box, o.strides) > maxElements);
    if (!bad) return box;
    let axis = -1;
    let reach = 0;
    for (let d = 0; d < box.length; d++) {
      const r = Math.abs(bad.strides[d]) * (box[d] - 1);
      if (r > reach) {
        reach = r;
        axis = d;
      }
    }
    // A box of one element spans one element, which always fits: some axis still reaches.
    const stride = Math.abs(bad.strides[axis]);
    const rest = boxSpan(box, bad.strides) - reach;
    const fit = Math.floor((maxElements - rest) / stride) + 1;
    box[axis] = Math.max(1, Math.min(box[axis] - 1, fit));
  }
}

/**
 * Tiles the index space of `shape` (already merged) into boxes such that every operand's
 * touched range fits `maxElements` (see {@link planBox}); one box when everything fits.
 * Boxes follow row-major order of their first index.
 */
export function planChunks(
  shape: readonly number[],
  operands: readonly { offset: number; strides: readonly number[] }[],
  maxElements: number,
): Chunk[] {
  const total = shape.reduce((p, d) => p * d, 1);
  const box = planBox(shape, operands, maxElements);
  const tiles = shape.map((d, i) => Math.ceil(d / box[i]));
  const nTiles = total === 0 ? 1 : tiles.reduce((p, d) => p * d, 1);
  const chunks: Chunk[] = [];
  const at = new Array<number>(shape.length).fill(0);
  for (let t = 0; t < nTiles; t++) {
    let rem = t;
    for (let d = shape.length - 1; d >= 0; d--) {
      at[d] = rem % tiles[d];
      rem = Math.floor(rem / tiles[d]);
    }
    const sub = shape.map((d, i) => Math.min(box[i], d - at[i] * box[i]));
    const offsets = operands.map(
      (o) => o.offset + at.reduce((p, a, i) => p + a * box[i] * o.strides[i], 0),
    );
    chunks.push({
      shape: sub,
      count: sub.reduce((p, d) => p * d, 1),
      offsets,
      ranges: operands.map((o, k) => span(sub, o.strides, offsets[k])),
    });
  }
  return chunks;
}

/**
 * WGSL that turns a flat index into an element index of operand `k`, reading the merged
 * shape and the operand's offset and strides from the parameters (layout of
 * {@link stridedParams}).
 */
export const STRIDED_WGSL = /* wgsl */ `
const MAX_RANK: u32 = ${MAX_RANK}u;
fn elementOf(k: u32, flat: u32) -> u32 {
  let rank = P[1];
  let base = 3u + MAX_RANK + k * (MAX_RANK + 1u);
  var rem = flat;
  var off = bitcast<i32>(P[base]);
  for (var j = 0u; j < rank; j++) {
    let d = rank - 1u - j;
    let size = P[3u + d];
    let idx = rem % size;
    rem = rem / size;
    off += i32(idx) * bitcast<i32>(P[base + 1u + d]);
  }
  return u32(off);
}
`;

/**
 * Parameters of a strided launch: count, rank, start, shape[MAX_RANK], then per operand its
 * offset relative to its binding and its strides[MAX_RANK]; `extra` words follow.
 */
export function stridedParams(
  count: number,
  start: number,
  shape: readonly number[],
  operands: readonly { offset: number; strides: readonly number[] }[],
  bases: readonly number[],
): Params {
  const p = new Params().u(count).u(shape.length).u(start).list(shape, MAX_RANK, 1);
  operands.forEach((o, k) => {
    p.i(o.offset - bases[k]).list(o.strides, MAX_RANK, 0);
  });
  return p;
}

/** Index of the first extra parameter word after `operands` strided operands. */
export function extraParamIndex(operands: number): number {
  return 3 + MAX_RANK + operands * (MAX_RANK + 1);
}

/** Merges axes and checks the rank limit. */
export function mergeAxes(
  op: string,
  shape: readonly number[],
  operands: readonly { offset: number; strides: readonly number[] }[],
): { shape: number[]; operands: { offset: number; strides: number[] }[] } {
  const merged = coalesce(
    shape,
    operands.map((o) => o.strides),
  );
  if (merged.shape.length > MAX_RANK) {
    throw new TensorError(
      op,
      `views with more than ${MAX_RANK} non-mergeable axes are not supported on webgpu; make the tensor contiguous first`,
    );
  }
  return {
    shape: merged.shape,
    operands: operands.map((o, k) => ({ offset: o.offset, strides: merged.strides[k] })),
  };
}

/**
 * Runs a strided kernel over `shape` (one invocation per element), in boxes whose bound
 * ranges fit the storage binding limit.
 */
export function launchStrided(
  rt: GpuRuntime,
  op: string,
  kernel: ReturnType<GpuRuntime['kernel']>,
  shape: readonly number[],
  operands: readonly StridedOperand[],
  extra?: (p: Params) => void,
): void {
  const total = shape.reduce((p, d) => p * d, 1);
  if (total === 0) return;
  const merged = mergeAxes(op, shape, operands);
  const chunks = planChunks(merged.shape, merged.operands, rt.maxBindingElements);
  for (const chunk of chunks) {
    const bound = chunk.ranges.map(([lo, hi], k) => rt.bind(operands[k].data, lo, hi, op));
    const p = stridedParams(
      chunk.count,
      0,
      chunk.shape,
      merged.operands.map((o, k) => ({ offset: chunk.offsets[k], strides: o.strides })),
      bound.map((b) => b.base),
    );
    extra?.(p);
    rt.dispatch(kernel, bound, p, gridFor(chunk.count));
  }
}

function gridFor(n: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / 256));
  return groups <= 65535 ? [groups, 1, 1] : [65535, Math.ceil(groups / 65535), 1];
}
