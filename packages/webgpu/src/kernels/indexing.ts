import type { View } from '@statetune/tensor';
import { TensorError } from '@statetune/tensor';
import { deviceDType, type GpuData, type GpuRuntime, grid, Params } from '../runtime.js';
import { WGSL } from '../shaders.gen.js';
import { bindDense } from './bind.js';

/**
 * indexSelect and its gradient. A table larger than one storage binding (a 200 MB
 * embedding) is bound a window of rows at a time: each launch writes the outputs whose
 * index falls in its window. The gradient is deterministic: a first pass links the
 * positions that hold the same index, and the invocation of each first position adds its
 * chain in order (no float atomics, the CPU's summation order).
 */

/** Rows of `rowElems` elements per window so that a window fits the binding limit. */
function windowRows(rt: GpuRuntime, rowElems: number, op: string): number {
  const rows = Math.floor(rt.maxBindingElements / Math.max(rowElems, 1));
  if (rows < 1) {
    throw new TensorError(
      op,
      `one row of ${rowElems} elements exceeds the storage binding limit of ${rt.maxBindingElements} elements`,
    );
  }
  return rows;
}

/** out[o, j, i] = x[o, index[j], i]. */
export function indexSelect(
  rt: GpuRuntime,
  x: View,
  outer: number,
  n: number,
  inner: number,
  index: View,
): GpuData {
  const op = 'indexSelect';
  const dtype = deviceDType(op, x.dtype);
  const t = dtype === 'float32' ? 'f32' : 'i32';
  const m = index.shape.reduce((p, d) => p * d, 1);
  const total = outer * m * inner;
  const kernel = rt.kernel(`indexSelect:${t}`, ['write', 'read', 'read'], () =>
    WGSL['kernels/index-select'].replaceAll('ELEM', t),
  );
  const limit = rt.maxBindingElements;
  const bi = bindDense(rt, index, m, op);
  const xData = x.data as GpuData;
  if (outer * n * inner <= limit && total <= limit) {
    const out = rt.output(dtype, total);
    if (total === 0) return out;
    const bx = bindDense(rt, x, outer * n * inner, op);
    const bo = rt.bindAll(out, op);
    const p = new Params()
      .u(total)
      .u(m)
      .u(inner)
      .u(n)
      .u(0)
      .u(n)
      .u(bx.off)
      .u(0)
      .u(bi.off)
      .u(n * inner)
      .u(m * inner);
    rt.dispatch(kernel, [bo, bx.bound, bi.bound], p, grid(total));
    return out;
  }
  // Windows of table rows, times windows of output positions, per outer slice.
  const out = rt.allocate(dtype, total);
  const rowsPer = windowRows(rt, inner, op);
  const jPer = windowRows(rt, inner, op);
  for (let o = 0; o < outer; o++) {
    for (let n0 = 0; n0 < n; n0 += rowsPer) {
      const n1 = Math.min(n, n0 + rowsPer);
      const xStart = x.offset + (o * n + n0) * inner;
      const bx = rt.bind(xData, xStart, xStart + (n1 - n0) * inner, op);
      for (let j0 = 0; j0 < m; j0 += jPer) {
        const jc = Math.min(jPer, m - j0);
        const oStart = (o * m + j0) * inner;
        const bo = rt.bind(out, oStart, oStart + jc * inner, op);
        const count = jc * inner;
        const p = new Params()
          .u(count)
          .u(jc)
          .u(inner)
          .u(n)
          .u(n0)
          .u(n1)
          .u(xStart - bx.base)
          .u(oStart - bo.base)
          .u(bi.off + j0)
          .u(0)
          .u(0);
        rt.dispatch(kernel, [bo, bx, bi.bound], p, grid(count));
      }
    }
  }
  return out;
}

/** dx[o, index[j], i] += dy[o, j, i] into zeros of (outer, n, inner). */
export function indexAdd(
  rt: GpuRuntime,
  dy: View,
  outer: number,
  n: number,
  inner: number,
  index: View,
): GpuData {
  const op = 'indexAdd';
  const dtype = deviceDType(op, dy.dtype);
  if (dtype !== 'float32') throw new TensorError(op, `needs float32 gradients, got ${dtype}`);
  const m = index.shape.reduce((p, d) => p * d, 1);
  const dx = rt.allocate('float32', outer * n * inner);
  if (m === 0 || outer * n * inner === 0) return dx;
  if (m >= 2 ** 30) throw new TensorError(op, `at most 2^30 indices are supported, got ${m}`);
  const bi = bindDense(rt, index, m, op);
  // Chains of equal indices.
  const chain = rt.output('int32', m);
  const chainKernel = rt.kernel('indexChain', ['write', 'read'], () => WGSL['kernels/index-chain']);
  rt.dispatch(chainKernel, [rt.bindAll(chain, op), bi.bound], new Params().u(m).u(bi.off), grid(m));
  const kernel = rt.kernel(
    'indexAdd',
    ['write', 'read', 'read', 'read'],
    () => WGSL['kernels/index-add'],
  );
  const bc = rt.bindAll(chain, op);
  const rowsPer = windowRows(rt, inner, op);
  const dyPer = m * inner <= rt.maxBindingElements;
  if (!dyPer) {
    rt.release(chain);
    throw new TensorError(
      op,
      `a gradient slice of ${m * inner} elements exceeds the storage binding limit of ${rt.maxBindingElements} elements`,
    );
  }
  const single =
    outer * n * inner <= rt.maxBindingElements && outer * m * inner <= rt.maxBindingElements;
  const slices = single
    ? [{ o: 0, count: outer }]
    : Array.from({ length: outer }, (_, o) => ({ o, count: 1 }));
  for (const { o, count: oc } of slices) {
    const dyStart = dy.offset + o * m * inner;
    const bdy = rt.bind(dy.data as GpuData, dyStart, dyStart + oc * m * inner, op);
    const windows = single ? [[0, n]] : [];
    if (!single)
      for (let n0 = 0; n0 < n; n0 += rowsPer) windows.push([n0, Math.min(n, n0 + rowsPer)]);
    for (const [n0, n1] of windows) {
      const dxStart = (o * n + n0) * inner;
      const bdx = rt.bind(dx, dxStart, dxStart + (oc - 1) * n * inner + (n1 - n0) * inner, op);
      const count = oc * m * inner;
      const p = new Params()
        .u(count)
        .u(m)
        .u(inner)
        .u(n)
        .u(n0)
        .u(n1)
        .u(dxStart - bdx.base)
        .u(dyStart - bdy.base)
        .u(bi.off)
        .u(n * inner)
        .u(m * inner);
      rt.dispatch(kernel, [bdx, bdy, bi.bound, bc], p, grid(count));
    }
  }
  rt.release(chain);
  return dx;
}
