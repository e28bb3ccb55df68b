import { TensorError, type View } from '@statetune/tensor';
import type { Bound, GpuData, GpuRuntime } from '../runtime.js';

/** A dense range of a view bound to a kernel, and the view's first element within it. */
export interface BoundView {
  readonly bound: Bound;
  /** Element index of the view's first element within the binding. */
  readonly off: number;
}

/** Binds `count` dense elements of a view starting at its offset. */
export function bindDense(rt: GpuRuntime, v: View, count: number, op: string): BoundView {
  const bound = rt.bind(v.data as GpuData, v.offset, v.offset + Math.max(count, 1), op);
  return { bound, off: v.offset - bound.base };
}

/** Binds `count` elements of a buffer from element `start`. */
export function bindRange(
  rt: GpuRuntime,
  data: GpuData,
  start: number,
  count: number,
  op: string,
): BoundView {
  const bound = rt.bind(data, start, start + Math.max(count, 1), op);
  return { bound, off: start - bound.base };
}

/**
 * Blocks of whole rows, [first row, row count], whose ranges fit one storage binding: how
 * the row kernels take a (tokens x vocabulary) logits tensor larger than the limit.
 */
export function rowBlocks(
  rt: GpuRuntime,
  op: string,
  rows: number,
  cols: number,
): [number, number][] {
  const limit = rt.maxBindingElements;
  if (cols > limit) {
    throw new TensorError(
      op,
      `a row of ${cols} elements exceeds the storage binding limit of ${limit} elements`,
    );
  }
  const per = Math.max(1, Math.min(Math.floor(limit / Math.max(cols, 1)), 65535 * 65535));
  const blocks: [number, number][] = [];
  for (let r0 = 0; r0 < rows; r0 += per) blocks.push([r0, Math.min(per, rows - r0)]);
  return blocks;
}

/** A one-element scratch buffer standing in for an absent optional input. */
export function placeholder(rt: GpuRuntime): GpuData {
  return rt.output('float32', 1);
}
