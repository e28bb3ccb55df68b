import type { RandomKey } from '@statetune/tensor';
import { type DeviceDType, type GpuData, type GpuRuntime, grid, Params } from '../runtime.js';
import { WGSL } from '../shaders.gen.js';
import { bindRange } from './bind.js';

/** Uniform or normal values from the Philox generator, equal to the CPU's draws. */
export function random(
  rt: GpuRuntime,
  kind: 'uniform' | 'normal',
  dtype: DeviceDType,
  size: number,
  key: RandomKey,
): GpuData {
  const out = rt.output(dtype, size);
  if (size === 0) return out;
  const kernel = rt.kernel(
    `philox:${dtype}`,
    ['write'],
    () =>
      WGSL['kernels/math'] +
      WGSL['kernels/philox']
        .replaceAll('OUT_T', dtype === 'float32' ? 'f32' : 'i32')
        .replaceAll('OUT_STORE', dtype === 'float32' ? 'v' : 'toI32(v)'),
  );
  // Outputs larger than one binding are drawn in ranges of a multiple of 4 elements, so a
  // uniform range starts on a counter block; element i keeps its own counter.
  const per = Math.max(4, Math.floor(rt.maxBindingElements / 4) * 4);
  for (let start = 0; start < size; start += per) {
    const count = Math.min(per, size - start);
    const first = key.counter + (kind === 'uniform' ? start / 4 : start);
    const threads = kind === 'uniform' ? Math.ceil(count / 4) : count;
    const bo = bindRange(rt, out, start, count, 'random');
    const p = new Params()
      .u(count)
      .u(kind === 'normal' ? 1 : 0)
      .u(key.key0)
      .u(key.key1)
      .u(first % 4294967296)
      .u(Math.floor(first / 4294967296))
      .u(bo.off);
    rt.dispatch(kernel, [bo.bound], p, grid(threads));
  }
  return out;
}
