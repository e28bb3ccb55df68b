import { type ReduceOp, TensorError, type View } from '@statetune/tensor';
import {
  deviceDType,
  type GpuData,
  type GpuRuntime,
  grid,
  gridGroups,
  Params,
} from '../runtime.js';
import { WGSL } from '../shaders.gen.js';
import { copy, copyTo } from './elementwise.js';
import { coalesce, MAX_RANK, span } from './strided.js';

/** Reductions over any set of axes of a strided view, and argmax along one axis. */

const COMBINE: Record<ReduceOp, string> = {
  sum: 'return acc + v;',
  max: 'return select(acc, v, isNanE(v) || v > acc);',
  min: 'return select(acc, v, isNanE(v) || v < acc);',
};

function init(op: ReduceOp, t: 'f32' | 'i32'): string {
  if (op === 'sum') return t === 'f32' ? '0.0' : '0';
  if (t === 'i32') return op === 'max' ? '(-2147483647 - 1)' : '2147483647';
  // Infinity from run-time bits: WGSL constants cannot be infinite.
  return `bitcast<f32>(${op === 'max' ? '0xff800000u' : '0x7f800000u'} | (P[0] & 0u))`;
}

function kernelSource(
  file: 'kernels/reduce' | 'kernels/argmax',
  t: 'f32' | 'i32',
  op?: ReduceOp,
): string {
  let code = WGSL[file]
    .replaceAll('ELEM', t)
    .replaceAll('IS_FLOAT', t === 'f32' ? 'true' : 'false');
  if (op) code = code.replace('COMBINE_BODY', COMBINE[op]).replace('INIT_VALUE', init(op, t));
  return code;
}

/**
 * Splits a view larger than one storage binding into slabs along one axis (`skip` excluded),
 * each of which fits; also splits along a kept axis when the output (the axes not in
 * `reduced`) would not fit one binding, as for a reduction of a stride-0 broadcast. Null
 * when the view and its output fit as they are.
 */
function slabs(
  rt: GpuRuntime,
  op: string,
  x: View,
  skip: readonly number[],
  reduced: readonly number[],
): { axis: number; size: number } | null {
  const [lo, hi] = span(x.shape, x.strides, x.offset);
  const limit = rt.maxBindingElements;
  const nOut = x.shape.reduce((p, d, i) => (reduced.includes(i) ? p : p * d), 1);
  if (hi - lo <= limit && nOut <= limit) return null;
  if (hi - lo <= limit) {
    // Only the output is too large: slabs of the outermost kept axis of size > 1.
    const kept = x.shape.findIndex((d, i) => d > 1 && !reduced.includes(i) && !skip.includes(i));
    const per = nOut / x.shape[kept];
    return { axis: kept, size: Math.max(1, Math.floor(limit / per)) };
  }
  // The axis that steps furthest in memory: its slabs are the most compact.
  let axis = -1;
  x.shape.forEach((d, i) => {
    if (
      d > 1 &&
      !skip.includes(i) &&
      (axis < 0 || Math.abs(x.strides[i]) > Math.abs(x.strides[axis]))
    ) {
      axis = i;
    }
  });
  if (axis < 0) {
    throw new TensorError(
      op,
      `a view of ${x.shape.join('x')} elements cannot be split into blocks that fit the storage binding limit of ${limit} elements`,
    );
  }
  // Slabs as thick as fit; a slab one index thick that is still too large is split again
  // along another axis by the recursive call.
  const one = [...x.shape];
  one[axis] = 1;
  const [olo, ohi] = span(one, x.strides, 0);
  const stride = Math.abs(x.strides[axis]);
  const size = ohi - olo > limit ? 1 : Math.floor((limit - (ohi - olo)) / stride) + 1;
  return { axis, size: Math.max(1, size) };
}

/** The view's slab `[start, start + len)` along `axis`. */
function slabOf(x: View, axis: number, start: number, len: number): View {
  const shape = [...x.shape];
  shape[axis] = len;
  return { ...x, shape, offset: x.offset + start * x.strides[axis] };
}

function contiguousStrides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = acc;
    acc *= shape[i];
  }
  return out;
}

/**
 * Writes a slab's result (contiguous, `shape` with `len` along `axis`) into the full
 * contiguous output of shape `full`, where the slab starts at `start` along `axis`.
 */
function place(
  rt: GpuRuntime,
  out: GpuData,
  full: readonly number[],
  part: GpuData,
  axis: number,
  start: number,
  len: number,
): void {
  const strides = contiguousStrides(full);
  const shape = [...full];
  shape[axis] = len;
  copyTo(
    rt,
    'reduce',
    { data: out, offset: start * strides[axis], strides },
    out.dtype,
    { data: part, dtype: part.dtype, shape, strides: contiguousStrides(shape), offset: 0 },
    part.dtype,
  );
}

/** Reduces `x` over `axes`; the output is contiguous with those axes of size 1. */
export function reduce(rt: GpuRuntime, op: ReduceOp, x: View, axes: readonly number[]): GpuData {
  const dtype = deviceDType(op, x.dtype);
  const split = slabs(rt, op, x, [], axes);
  if (split) {
    // Reduce each slab, then combine: partial results of a reduced axis are stacked and
    // reduced once more; those of a kept axis are blocks of the output.
    const { axis, size } = split;
    const n = x.shape[axis];
    const parts: GpuData[] = [];
    for (let s0 = 0; s0 < n; s0 += size) {
      parts.push(reduce(rt, op, slabOf(x, axis, s0, Math.min(size, n - s0)), axes));
    }
    const nOut = x.shape.reduce((p, d, i) => (axes.includes(i) ? p : p * d), 1);
    if (axes.includes(axis)) {
      const stacked = rt.output(dtype, parts.length * nOut);
      parts.forEach((part, k) => {
        place(rt, stacked, [parts.length, nOut], part, 0, k, 1);
      });
      const out = reduce(
        rt,
        op,
        { data: stacked, dtype, shape: [parts.length, nOut], strides: [nOut, 1], offset: 0 },
        [0],
      );
      for (const part of [...parts, stacked]) rt.release(part);
      return out;
    }
    const out = rt.output(dtype, nOut);
    const full = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    parts.forEach((part, k) => {
      place(rt, out, full, part, axis, k * size, Math.min(size, n - k * size));
      rt.release(part);
    });
    return out;
  }
  const t = dtype === 'float32' ? 'f32' : 'i32';
  const keptAxes = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const kept = coalesce(
    keptAxes.map((i) => x.shape[i]),
    [keptAxes.map((i) => x.strides[i])],
  );
  const red = coalesce(
    axes.map((i) => x.shape[i]),
    [axes.map((i) => x.strides[i])],
  );
  if (kept.shape.length > MAX_RANK || red.shape.length > MAX_RANK) {
    throw new TensorError(
      op,
      `views with more than ${MAX_RANK} non-mergeable axes are not supported on webgpu; make the tensor contiguous first`,
    );
  }
  const nOut = keptAxes.reduce((p, i) => p * x.shape[i], 1);
  const nRed = axes.reduce((p, i) => p * x.shape[i], 1);
  const out = rt.output(dtype, nOut);
  if (nOut === 0) return out;
  const kernel = rt.kernel(`reduce:${op}:${t}`, ['write', 'read'], () =>
    kernelSource('kernels/reduce', t, op),
  );
  const [lo, hi] = span(x.shape, x.strides, x.offset);
  const bx = rt.bind(x.data as GpuData, lo, hi, op);
  const bo = rt.bindAll(out, op);
  const p = new Params()
    .u(nOut)
    .u(nRed)
    .u(kept.shape.length)
    .u(red.shape.length)
    .i(x.offset - bx.base)
    .list(kept.shape, MAX_RANK, 1)
    .list(kept.strides[0], MAX_RANK)
    .list(red.shape, MAX_RANK, 1)
    .list(red.strides[0], MAX_RANK);
  rt.dispatch(kernel, [bo, bx], p, gridGroups(nOut));
  return out;
}

/** Index of the first maximum along `axis` (int32, axis kept with size 1). */
export function argmax(rt: GpuRuntime, x: View, axis: number): GpuData {
  const dtype = deviceDType('argmax', x.dtype);
  const n = x.shape[axis];
  if (n > 1 && (n - 1) * Math.abs(x.strides[axis]) + 1 > rt.maxBindingElements) {
    // The argmax axis itself steps past one binding (the vocabulary axis of a transposed
    // matrix): no split of the other axes helps. A copy with that axis innermost (tiled to
    // fit) makes each line dense; the kept axes keep their order, so the output is the same.
    if (n > rt.maxBindingElements) {
      throw new TensorError(
        'argmax',
        `the argmax axis of ${n} elements exceeds the storage binding limit of ${rt.maxBindingElements} elements`,
      );
    }
    const order = [...x.shape.keys()].filter((i) => i !== axis).concat(axis);
    const shape = order.map((i) => x.shape[i]);
    const moved: View = { ...x, shape, strides: order.map((i) => x.strides[i]) };
    const dense = copy(rt, moved, dtype);
    const out = argmax(
      rt,
      { data: dense, dtype, shape, strides: contiguousStrides(shape), offset: 0 },
      shape.length - 1,
    );
    rt.release(dense);
    return out;
  }
  const split = slabs(rt, 'argmax', x, [axis], [axis]);
  if (split) {
    const { axis: a, size } = split;
    const na = x.shape[a];
    const nOut = x.shape.reduce((p, d, i) => (i === axis ? p : p * d), 1);
    const full = x.shape.map((d, i) => (i === axis ? 1 : d));
    const out = rt.output('int32', nOut);
    for (let s0 = 0; s0 < na; s0 += size) {
      const len = Math.min(size, na - s0);
      const part = argmax(rt, slabOf(x, a, s0, len), axis);
      place(rt, out, full, part, a, s0, len);
      rt.release(part);
    }
    return out;
  }
  const t = dtype === 'float32' ? 'f32' : 'i32';
  const keptAxes = x.shape.map((_, i) => i).filter((i) => i !== axis);
  const kept = coalesce(
    keptAxes.map((i) => x.shape[i]),
    [keptAxes.map((i) => x.strides[i])],
  );
  const nOut = keptAxes.reduce((p, i) => p * x.shape[i], 1);
  const out = rt.output('int32', nOut);
  if (nOut === 0) return out;
  const kernel = rt.kernel(`argmax:${t}`, ['write', 'read'], () =>
    kernelSource('kernels/argmax', t),
  );
  const [lo, hi] = span(x.shape, x.strides, x.offset);
  const bx = rt.bind(x.data as GpuData, lo, hi, 'argmax');
  const bo = rt.bindAll(out, 'argmax');
  const p = new Params()
    .u(nOut)
    .u(x.shape[axis])
    .i(x.strides[axis])
    .u(kept.shape.length)
    .i(x.offset - bx.base)
    .list(kept.shape, MAX_RANK, 1)
    .list(kept.strides[0], MAX_RANK);
  rt.dispatch(kernel, [bo, bx], p, grid(nOut));
  return out;
}
