import type { View } from '@statetune/tensor';
import { TensorError } from '@statetune/tensor';
import {
  deviceDType,
  type GpuData,
  type GpuRuntime,
  grid,
  gridGroups,
  Params,
} from '../runtime.js';
import { WGSL } from '../shaders.gen.js';
import { type BoundView, bindDense, bindRange, placeholder, rowBlocks } from './bind.js';

/**
 * Fused neural-network kernels over the last axis of contiguous rows (softmax,
 * cross-entropy, RMSNorm) and the depthwise causal conv. Row kernels run one workgroup per
 * row, with float32 sums in a fixed order, over blocks of rows that fit one storage binding.
 */

type ShaderKey = keyof typeof WGSL;

function float32(op: string, ...views: (View | null)[]): void {
  for (const v of views) {
    if (v && deviceDType(op, v.dtype) !== 'float32') {
      throw new TensorError(op, `needs float32 tensors on webgpu, got ${v.dtype}`);
    }
  }
}

/**
 * A row kernel: rows.wgsl (the entry point and the row reductions), rows-lse.wgsl when the
 * kernel needs a row's log-sum-exp, then the kernel's own file, which defines `rowMain`.
 */
function rowKernel(
  rt: GpuRuntime,
  file: ShaderKey,
  access: ('read' | 'write')[],
  lse: boolean,
  log?: boolean,
) {
  return rt.kernel(`${file}:${log ?? ''}`, access, () => {
    let code = WGSL['kernels/rows'] + (lse ? WGSL['kernels/rows-lse'] : '') + WGSL[file];
    if (log !== undefined) code = code.replaceAll('LOG', String(log));
    return code;
  });
}

/** Binds rows [r0, r0 + rc) of a dense view of `width` elements per row. */
function rowsOf(rt: GpuRuntime, v: View, r0: number, rc: number, width: number, op: string) {
  const start = v.offset + r0 * width;
  const bound = rt.bind(v.data as GpuData, start, start + Math.max(rc * width, 1), op);
  return { bound, off: start - bound.base };
}

/** Softmax or log-softmax of each row. */
export function softmax(
  rt: GpuRuntime,
  x: View,
  rows: number,
  cols: number,
  log: boolean,
): GpuData {
  const op = log ? 'logSoftmax' : 'softmax';
  float32(op, x);
  const out = rt.output('float32', rows * cols);
  if (rows * cols === 0) return out;
  const kernel = rowKernel(rt, 'kernels/softmax', ['write', 'read'], true, log);
  for (const [r0, rc] of rowBlocks(rt, op, rows, cols)) {
    const bx = rowsOf(rt, x, r0, rc, cols, op);
    const bo = bindRange(rt, out, r0 * cols, rc * cols, op);
    const p = new Params().u(rc).u(cols).u(bx.off).u(bo.off);
    rt.dispatch(kernel, [bo.bound, bx.bound], p, gridGroups(rc));
  }
  return out;
}

/** Gradient of (log-)softmax from its output and the upstream gradient. */
export function softmaxGrad(
  rt: GpuRuntime,
  y: View,
  dy: View,
  rows: number,
  cols: number,
  log: boolean,
): GpuData {
  const op = log ? 'logSoftmax backward' : 'softmax backward';
  float32(op, y, dy);
  const out = rt.output('float32', rows * cols);
  if (rows * cols === 0) return out;
  const kernel = rowKernel(rt, 'kernels/softmax-grad', ['write', 'read', 'read'], false, log);
  for (const [r0, rc] of rowBlocks(rt, op, rows, cols)) {
    const by = rowsOf(rt, y, r0, rc, cols, op);
    const bg = rowsOf(rt, dy, r0, rc, cols, op);
    const bo = bindRange(rt, out, r0 * cols, rc * cols, op);
    const p = new Params().u(rc).u(cols).u(by.off).u(bg.off).u(bo.off);
    rt.dispatch(kernel, [bo.bound, by.bound, bg.bound], p, gridGroups(rc));
  }
  return out;
}

/** Per-row cross-entropy and log-sum-exp (0 loss on ignored rows). */
export function crossEntropy(
  rt: GpuRuntime,
  logits: View,
  targets: View,
  rows: number,
  cols: number,
  ignoreIndex: number,
): { loss: GpuData; lse: GpuData } {
  const op = 'crossEntropy';
  float32(op, logits);
  const loss = rt.output('float32', rows);
  const lse = rt.output('float32', rows);
  if (rows === 0) return { loss, lse };
  const kernel = rowKernel(rt, 'kernels/cross-entropy', ['write', 'write', 'read', 'read'], true);
  const bl = rt.bindAll(loss, op);
  const bs = rt.bindAll(lse, op);
  for (const [r0, rc] of rowBlocks(rt, op, rows, cols)) {
    const bx = rowsOf(rt, logits, r0, rc, cols, op);
    const bt = rowsOf(rt, targets, r0, rc, 1, op);
    const p = new Params().u(rc).u(cols).u(bx.off).u(bt.off).i(ignoreIndex).u(r0);
    rt.dispatch(kernel, [bl, bs, bx.bound, bt.bound], p, gridGroups(rc));
  }
  return { loss, lse };
}

/** Gradient of the per-row cross-entropy with respect to the logits. */
export function crossEntropyGrad(
  rt: GpuRuntime,
  logits: View,
  lse: View,
  targets: View,
  dloss: View,
  rows: number,
  cols: number,
  ignoreIndex: number,
): GpuData {
  const op = 'crossEntropy backward';
  float32(op, logits, lse, dloss);
  const out = rt.output('float32', rows * cols);
  if (rows * cols === 0) return out;
  const kernel = rt.kernel(
    'cross-entropy-grad',
    ['write', 'read', 'read', 'read', 'read'],
    () => WGSL['kernels/cross-entropy-grad'],
  );
  for (const [r0, rc] of rowBlocks(rt, op, rows, cols)) {
    const n = rc * cols;
    const bx = rowsOf(rt, logits, r0, rc, cols, op);
    const bl = rowsOf(rt, lse, r0, rc, 1, op);
    const bt = rowsOf(rt, targets, r0, rc, 1, op);
    const bg = rowsOf(rt, dloss, r0, rc, 1, op);
    const bo = bindRange(rt, out, r0 * cols, n, op);
    const p = new Params()
      .u(n)
      .u(cols)
      .u(bx.off)
      .u(bl.off)
      .u(bt.off)
      .u(bg.off)
      .i(ignoreIndex)
      .u(bo.off);
    rt.dispatch(kernel, [bo.bound, bx.bound, bl.bound, bt.bound, bg.bound], p, grid(n));
  }
  return out;
}

/** RMSNorm of each row and the row's reciprocal RMS. */
export function rmsNorm(
  rt: GpuRuntime,
  x: View,
  weight: View | null,
  rows: number,
  cols: number,
  eps: number,
): { y: GpuData; rstd: GpuData } {
  const op = 'rmsNorm';
  float32(op, x, weight);
  const y = rt.output('float32', rows * cols);
  const rstd = rt.output('float32', rows);
  if (rows * cols === 0) return { y, rstd };
  const kernel = rowKernel(rt, 'kernels/rms-norm', ['write', 'write', 'read', 'read'], false);
  const br = rt.bindAll(rstd, op);
  for (const [r0, rc] of rowBlocks(rt, op, rows, cols)) {
    const bx = rowsOf(rt, x, r0, rc, cols, op);
    const bw = weight ? bindDense(rt, weight, cols, op) : bx;
    const by = bindRange(rt, y, r0 * cols, rc * cols, op);
    const p = new Params()
      .u(rc)
      .u(cols)
      .u(bx.off)
      .u(bw.off)
      .u(weight ? 1 : 0)
      .f(eps)
      .u(by.off)
      .u(r0);
    rt.dispatch(kernel, [by.bound, br, bx.bound, bw.bound], p, gridGroups(rc));
  }
  return { y, rstd };
}

/** Gradients of RMSNorm for the input and the weight. */
export function rmsNormGrad(
  rt: GpuRuntime,
  x: View,
  weight: View | null,
  rstd: View,
  dy: View,
  rows: number,
  cols: number,
): { dx: GpuData; dweight: GpuData | null } {
  const op = 'rmsNorm backward';
  float32(op, x, weight, rstd, dy);
  const dx = rt.output('float32', rows * cols);
  const dweight = weight ? rt.output('float32', cols) : null;
  if (rows * cols === 0) {
    if (dweight) rt.commandEncoder().clearBuffer(dweight.buffer);
    return { dx, dweight };
  }
  const kernel = rowKernel(
    rt,
    'kernels/rms-norm-grad',
    ['write', 'read', 'read', 'read', 'read'],
    false,
  );
  const kw = rt.kernel(
    'rms-norm-dweight',
    ['write', 'read', 'read', 'read'],
    () => WGSL['kernels/rms-norm-dweight'],
  );
  for (const [r0, rc] of rowBlocks(rt, op, rows, cols)) {
    const bx = rowsOf(rt, x, r0, rc, cols, op);
    const bw = weight ? bindDense(rt, weight, cols, op) : bx;
    const br = rowsOf(rt, rstd, r0, rc, 1, op);
    const bg = rowsOf(rt, dy, r0, rc, cols, op);
    const bd = bindRange(rt, dx, r0 * cols, rc * cols, op);
    const p = new Params()
      .u(rc)
      .u(cols)
      .u(bx.off)
      .u(bw.off)
      .u(weight ? 1 : 0)
      .u(br.off)
      .u(bg.off)
      .u(bd.off);
    rt.dispatch(kernel, [bd.bound, bx.bound, bw.bound, br.bound, bg.bound], p, gridGroups(rc));
    if (dweight) {
      const q = new Params()
        .u(rc)
        .u(cols)
        .u(bx.off)
        .u(br.off)
        .u(bg.off)
        .u(r0 > 0 ? 1 : 0);
      rt.dispatch(kw, [rt.bindAll(dweight, op), bx.bound, br.bound, bg.bound], q, grid(cols));
    }
  }
  return { dx, dweight };
}

/**
 * Runs conv1d.wgsl: the causal taps of `w` over `x` into `out` (plus `bias`), or with
 * `reverse` the same taps run backwards in time (the gradient for x, `x` being dy).
 */
function convTaps(
  rt: GpuRuntime,
  op: string,
  out: GpuData,
  x: BoundView,
  w: BoundView,
  bias: BoundView | null,
  [channels, len, width]: [number, number, number],
  reverse: boolean,
): void {
  const kernel = rt.kernel(
    'conv1d',
    ['write', 'read', 'read', 'read'],
    () => WGSL['kernels/conv1d'],
  );
  const p = new Params()
    .u(out.size)
    .u(channels)
    .u(len)
    .u(width)
    .u(x.off)
    .u(w.off)
    .u((bias ?? w).off)
    .u(bias ? 1 : 0)
    .u(reverse ? 1 : 0);
  const bound = [rt.bindAll(out, op), x.bound, w.bound, (bias ?? w).bound];
  rt.dispatch(kernel, bound, p, grid(out.size));
}

/** Depthwise causal conv over (batch, channels, len). */
export function conv1d(
  rt: GpuRuntime,
  x: View,
  weight: View,
  bias: View | null,
  batch: number,
  channels: number,
  len: number,
  width: number,
): GpuData {
  const op = 'causalConv1d';
  float32(op, x, weight, bias);
  const n = batch * channels * len;
  const y = rt.output('float32', n);
  if (n === 0) return y;
  const bx = bindDense(rt, x, n, op);
  const bw = bindDense(rt, weight, channels * width, op);
  const bb = bias ? bindDense(rt, bias, channels, op) : null;
  convTaps(rt, op, y, bx, bw, bb, [channels, len, width], false);
  return y;
}

/** Gradients of the depthwise causal conv. */
export function conv1dGrad(
  rt: GpuRuntime,
  x: View,
  weight: View,
  dy: View,
  batch: number,
  channels: number,
  len: number,
  width: number,
  withBias: boolean,
): { dx: GpuData; dweight: GpuData; dbias: GpuData | null } {
  const op = 'causalConv1d backward';
  float32(op, x, weight, dy);
  const n = batch * channels * len;
  const dx = rt.output('float32', n);
  const dweight = rt.output('float32', channels * width);
  const dbias = withBias ? rt.output('float32', channels) : null;
  if (n === 0) {
    rt.commandEncoder().clearBuffer(dweight.buffer);
    if (dbias) rt.commandEncoder().clearBuffer(dbias.buffer);
    return { dx, dweight, dbias };
  }
  const bx = bindDense(rt, x, n, op);
  const bw = bindDense(rt, weight, channels * width, op);
  const bg = bindDense(rt, dy, n, op);
  // dx is the conv of dy with the taps reversed in time.
  convTaps(rt, op, dx, bg, bw, null, [channels, len, width], true);
  const scratch = dbias ?? placeholder(rt);
  const kw = rt.kernel(
    'conv1d-grad-w',
    ['write', 'write', 'read', 'read'],
    () => WGSL['kernels/conv1d-grad-w'],
  );
  const pw = new Params()
    .u(batch)
    .u(channels)
    .u(len)
    .u(width)
    .u(bx.off)
    .u(bg.off)
    .u(dbias ? 1 : 0);
  rt.dispatch(
    kw,
    [rt.bindAll(dweight, op), rt.bindAll(scratch, op), bx.bound, bg.bound],
    pw,
    grid(channels * (width + 1)),
  );
  if (!dbias) rt.release(scratch);
  return { dx, dweight, dbias };
}
