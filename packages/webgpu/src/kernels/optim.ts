import type { AdamWStep, SgdStep, View } from '@statetune/tensor';
import { TensorError } from '@statetune/tensor';
import { deviceDType, type GpuData, type GpuRuntime, grid, Params } from '../runtime.js';
import { WGSL } from '../shaders.gen.js';
import { bindDense, placeholder } from './bind.js';

/** Fused optimizer steps, in place on the device: parameters never visit the host. */

function check(op: string, views: View[]): number {
  const n = views[0].shape.reduce((p, d) => p * d, 1);
  const buffers = new Set<GpuData>();
  for (const v of views) {
    if (deviceDType(op, v.dtype) !== 'float32') {
      throw new TensorError(op, `needs float32 tensors on webgpu, got ${v.dtype}`);
    }
    const d = v.data as GpuData;
    if (buffers.has(d)) {
      throw new TensorError(op, 'parameter, gradient and optimizer state must not share memory');
    }
    buffers.add(d);
  }
  return n;
}

/** [start, count] ranges of `n` elements that fit one binding. */
function ranges(rt: GpuRuntime, n: number): [number, number][] {
  const per = rt.maxBindingElements;
  const out: [number, number][] = [];
  for (let s = 0; s < n; s += per) out.push([s, Math.min(per, n - s)]);
  return out;
}

/** The view from its element `start` on. */
function at(v: View, start: number): View {
  return { ...v, offset: v.offset + start };
}

/** One AdamW step in place on the device (in ranges when the parameter exceeds one binding). */
export function adamwStep(
  rt: GpuRuntime,
  param: View,
  grad: View,
  m: View,
  v: View,
  s: AdamWStep,
): void {
  const op = 'AdamW';
  const n = check(op, [param, grad, m, v]);
  if (n === 0) return;
  const kernel = rt.kernel(
    'adamw',
    ['write', 'write', 'write', 'read'],
    () => WGSL['kernels/adamw'],
  );
  for (const [start, count] of ranges(rt, n)) {
    const bp = bindDense(rt, at(param, start), count, op);
    const bm = bindDense(rt, at(m, start), count, op);
    const bv = bindDense(rt, at(v, start), count, op);
    const bg = bindDense(rt, at(grad, start), count, op);
    const p = new Params()
      .u(count)
      .u(bp.off)
      .u(bm.off)
      .u(bv.off)
      .u(bg.off)
      .f(s.beta1)
      .f(s.beta2)
      .f(s.eps)
      .f(1 - s.lr * s.weightDecay)
      .f(s.lr / s.biasCorrection1)
      .f(Math.sqrt(s.biasCorrection2));
    rt.dispatch(kernel, [bp.bound, bm.bound, bv.bound, bg.bound], p, grid(count));
  }
}

/** One SGD step in place on the device (in ranges when the parameter exceeds one binding). */
export function sgdStep(
  rt: GpuRuntime,
  param: View,
  grad: View,
  momentum: View | null,
  s: SgdStep,
): void {
  const op = 'SGD';
  const n = check(op, momentum ? [param, grad, momentum] : [param, grad]);
  if (n === 0) return;
  const kernel = rt.kernel('sgd', ['write', 'write', 'read'], () => WGSL['kernels/sgd']);
  const scratch = momentum ? null : placeholder(rt);
  for (const [start, count] of ranges(rt, n)) {
    const bp = bindDense(rt, at(param, start), count, op);
    const bg = bindDense(rt, at(grad, start), count, op);
    const bb = momentum
      ? bindDense(rt, at(momentum, start), count, op)
      : { bound: rt.bindAll(scratch as GpuData, op), off: 0 };
    const p = new Params()
      .u(count)
      .u(bp.off)
      .u(bb.off)
      .u(bg.off)
      .u(momentum ? 1 : 0)
      .f(s.lr)
      .f(s.momentum)
      .f(s.dampening)
      .u(s.nesterov ? 1 : 0)
      .f(s.weightDecay)
      .u(s.firstStep ? 1 : 0);
    rt.dispatch(kernel, [bp.bound, bb.bound, bg.bound], p, grid(count));
  }
  if (scratch) rt.release(scratch);
}
