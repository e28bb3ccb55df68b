/**
 * @statetune/webgpu: the WebGPU backend for @statetune/tensor. Every op of the tensor core
 * as a WGSL kernel, a bucketed buffer pool, batched command submission, asynchronous
 * readback, tensors larger than one storage binding, and the selective-scan kernel; Dawn
 * (the `webgpu` package) in Node and `navigator.gpu` in browsers.
 *
 * ```ts
 * import { setBackend } from '@statetune/tensor';
 * import { registerWebGpu } from '@statetune/webgpu';
 *
 * registerWebGpu();
 * await setBackend('auto'); // webgpu when an adapter exists, else the CPU with a notice
 * ```
 *
 * @packageDocumentation
 */

export { createWebGpuBackend, WebGpuBackend, type WebGpuBackendOptions } from './backend.js';
export {
  type AcquiredDevice,
  type AdapterDescription,
  type AdapterSource,
  acquireDevice,
  type DeviceOptions,
  INSTALL_HINT,
  OPTIONAL_FEATURES,
  WebGpuUnavailableError,
} from './device.js';
export { WGSL_BINARY, WGSL_UNARY, type WgslBinary, type WgslUnary } from './kernels/ops-table.js';
export { bucketSize, type PoolStats } from './pool.js';
export { registerWebGpu, WEBGPU_PRIORITY } from './register.js';
export { GpuData, GpuRuntime, type RuntimeOptions } from './runtime.js';
export type { ScanKernelFactory, ScanKernelLike } from './scan-bridge.js';
