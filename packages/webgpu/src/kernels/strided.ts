import { TensorError } from '@statetune/tensor';
import { type GpuData, type GpuRuntime, Params } from '../runtime.js';

/**
 * Index arithmetic shared by the strided kernels: merging axes, and splitting a launch into
 * chunks whose bound ranges fit the device's storage binding limit (tensors larger than
 * `maxStorageBufferBindingSize` are bound a range at a time).
 */

/** Most axes a strided kernel takes after merging. */
export const MAX_RANK = 8;

/** A strided operand: buffer, first element and per-axis strides (elements). */
export interface StridedOperand {
  readonly data: GpuData;
  readonly offset: number;
  readonly strides: readonly number[];
}

/**
 * Merges neighbouring axes that every operand steps through contiguously and drops axes of
 * size 1 (the same rule as the CPU loops).
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

/** One launch of a chunked strided kernel: flat output indices [start, start + count). */
export interface Chunk {
  readonly start: number;
  readonly count: number;
  /** Per operand: element range to bind. */
  readonly ranges: readonly [number, number][];
}

/**
 * Splits the flat index space of `shape` (already merged) into chunks along axis 0 such that
 * every operand's touched range fits `maxElements`. One chunk when everything fits.
 */
export function planChunks(
  op: string,
  shape: readonly number[],
  operands: readonly { offset: number; strides: readonly number[] }[],
  maxElements: number,
): Chunk[] {
  const total = shape.reduce((p, d) => p * d, 1);
  const full = operands.map((o) => span(shape, o.strides, o.offset));
  if (full.every(([lo, hi]) => hi - lo <= maxElements) || shape.length === 0) {
    return [{ start: 0, count: total, ranges: full }];
  }
  const rows = shape[0];
  const innerShape = shape.slice(1);
  const inner = innerShape.reduce((p, d) => p * d, 1);
  let perChunk = rows;
  for (const o of operands) {
    const [ilo, ihi] = span(innerShape, o.strides.slice(1), 0);
    const innerSpan = ihi - ilo;
    const s0 = Math.abs(o.strides[0]);
    if (innerSpan > maxElements) {
      throw new TensorError(
        op,
        `one row of ${innerSpan} elements exceeds the storage binding limit of ${maxElements} elements; ` +
          'make the tensor contiguous or raise maxStorageBufferBindingSize',
      );
    }
    if (s0 > 0) perChunk = Math.min(perChunk, Math.floor((maxElements - innerSpan) / s0) + 1);
  }
  perChunk = Math.max(1, perChunk);
  const chunks: Chunk[] = [];
  for (let r0 = 0; r0 < rows; r0 += perChunk) {
    const r = Math.min(perChunk, rows - r0);
    const sub = [r, ...innerShape];
    chunks.push({
      start: r0 * inner,
      count: r * inner,
      ranges: operands.map((o) => span(sub, o.strides, o.offset + r0 * o.strides[0])),
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

/** Runs a chunked strided kernel over `shape` (one invocation per element). */
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
  const chunks = planChunks(op, merged.shape, merged.operands, rt.maxBindingElements);
  for (const chunk of chunks) {
    const bound = chunk.ranges.map(([lo, hi], k) => rt.bind(operands[k].data, lo, hi, op));
    const p = stridedParams(
      chunk.count,
      chunk.start,
      merged.shape,
      merged.operands,
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
