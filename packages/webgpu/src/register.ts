import { type Backend, registerBackend } from '@statetune/tensor';
import { createWebGpuBackend, type WebGpuBackendOptions } from './backend.js';

/** Priority of the webgpu backend in `setBackend('auto')` (the CPU has 0). */
export const WEBGPU_PRIORITY = 10;

/**
 * Registers the `webgpu` backend with the tensor core, so that `setBackend('webgpu')` and
 * `setBackend('auto')` can start it (auto prefers it and falls back to the CPU with a
 * one-line notice when no adapter is found). The device is requested on first use.
 */
export function registerWebGpu(options: WebGpuBackendOptions = {}): void {
  registerBackend('webgpu', (): Promise<Backend> => createWebGpuBackend(options), WEBGPU_PRIORITY);
}
