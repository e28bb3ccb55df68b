import type { View } from '../backend.js';
import { allocHost, type HostArray } from '../dtype.js';
import type { ReduceOp } from '../ops/table.js';
import { coalesce } from './strided.js';

/**
 * Reductions over any set of axes of a strided view. The kept axes and the reduced axes are
 * each merged where memory allows; when the reduced elements are the closer ones in memory
 * each output is one strided sweep, otherwise whole rows are added into a float64
 * accumulator (summing a (rows, cols) gradient over rows reads memory in order).
 */

const INIT: Record<ReduceOp, number> = {
  sum: 0,
  max: Number.NEGATIVE_INFINITY,
  min: Number.POSITIVE_INFINITY,
};

function combine(op: ReduceOp, acc: number, v: number): number {
  if (op === 'sum') return acc + v;
  if (op === 'max') return Number.isNaN(v) || v > acc ? v : acc;
  return Number.isNaN(v) || v < acc ? v : acc;
}

/** Offsets of every element of a (coalesced) index space. */
function offsetsOf(shape: readonly number[], strides: readonly number[]): Float64Array {
  let total = 1;
  for (const d of shape) total *= d;
  const out = new Float64Array(total);
  const r = shape.length;
  if (r === 0) return out;
  const idx = new Int32Array(r);
  let p = 0;
  for (let i = 0; i < total; i++) {
    out[i] = p;
    for (let d = r - 1; d >= 0; d--) {
      p += strides[d];
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
      p -= strides[d] * shape[d];
    }
  }
  return out;
}

/** Reduces `x` over `axes`; the output is contiguous with those axes of size 1. */
export function reduceCpu(op: ReduceOp, x: View, axes: readonly number[]): HostArray {
  const src = x.data as HostArray;
  const keptAxes = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const kept = coalesce(
    keptAxes.map((i) => x.shape[i]),
    [keptAxes.map((i) => x.strides[i])],
  );
  const red = coalesce(
    axes.map((i) => x.shape[i]),
    [axes.map((i) => x.strides[i])],
  );
  const keptOffsets = offsetsOf(kept.shape, kept.strides[0]);
  const nOut = keptOffsets.length;
  const out = allocHost(x.dtype, nOut);
  const init = INIT[op];
  const redShape = red.shape;
  const redStrides = red.strides[0];
  let nRed = 1;
  for (const d of redShape) nRed *= d;
  if (nRed === 0) {
    out.fill(init);
    return out;
  }
  if (redShape.length === 0) {
    // Every reduced axis has size 1: a copy.
    for (let o = 0; o < nOut; o++) out[o] = src[x.offset + keptOffsets[o]];
    return out;
  }
  const minStride = (s: readonly number[]) =>
    s.length ? Math.min(...s.map(Math.abs)) : Number.POSITIVE_INFINITY;
  const innerReduced = minStride(redStrides) <= minStride(kept.strides[0]);
  const base = x.offset;
  if (innerReduced || nOut === 1) {
    const r = redShape.length;
    const n0 = redShape[r - 1];
    const s0 = redStrides[r - 1];
    const outerOffsets = offsetsOf(redShape.slice(0, -1), redStrides.slice(0, -1));
    for (let o = 0; o < nOut; o++) {
      let acc = init;
      const start = base + keptOffsets[o];
      for (let q = 0; q < outerOffsets.length; q++) {
        let p = start + outerOffsets[q];
        if (op === 'sum') {
          for (let i = 0; i < n0; i++, p += s0) acc += src[p];
        } else {
          for (let i = 0; i < n0; i++, p += s0) acc = combine(op, acc, src[p]);
        }
      }
      out[o] = acc;
    }
    return out;
  }
  const acc = new Float64Array(nOut).fill(init);
  const redOffsets = offsetsOf(redShape, redStrides);
  const contiguousKept = kept.shape.length === 1 && kept.strides[0][0] === 1;
  for (let q = 0; q < redOffsets.length; q++) {
    const start = base + redOffsets[q];
    if (contiguousKept && op === 'sum') {
      for (let o = 0; o < nOut; o++) acc[o] += src[start + o];
    } else {
      for (let o = 0; o < nOut; o++) acc[o] = combine(op, acc[o], src[start + keptOffsets[o]]);
    }
  }
  out.set(acc);
  return out;
}

/** Index of the first maximum along `axis` (NaN counts as the maximum, as in PyTorch). */
export function argmaxCpu(x: View, axis: number): Int32Array {
  const src = x.data as HostArray;
  const n = x.shape[axis];
  const stride = x.strides[axis];
  const keptAxes = x.shape.map((_, i) => i).filter((i) => i !== axis);
  const offsets = offsetsOf(
    keptAxes.map((i) => x.shape[i]),
    keptAxes.map((i) => x.strides[i]),
  );
  const out = new Int32Array(offsets.length);
  for (let o = 0; o < offsets.length; o++) {
    let p = x.offset + offsets[o];
    let best = src[p];
    let at = 0;
    for (let i = 1; i < n && !Number.isNaN(best); i++) {
      p += stride;
      const v = src[p];
      if (v > best || Number.isNaN(v)) {
        best = v;
        at = i;
      }
    }
    out[o] = at;
  }
  return out;
}
