import {
  createWebGpuBackend,
  type WebGpuBackend,
  type WebGpuBackendOptions,
} from '../src/index.js';

/**
 * The backend the tests run on, or null (with the reason printed) when this machine has no
 * WebGPU adapter. With STATETUNE_REQUIRE_WEBGPU=1 (CI) a missing adapter fails instead.
 */
export async function testBackend(
  options: WebGpuBackendOptions = {},
): Promise<WebGpuBackend | null> {
  try {
    return await createWebGpuBackend(options);
  } catch (err) {
    if (process.env.STATETUNE_REQUIRE_WEBGPU === '1') throw err;
    console.warn(`webgpu tests skipped: ${(err as Error).message}`);
    return null;
  }
}

let shared: Promise<WebGpuBackend | null> | null = null;

/** One backend shared by the test files of a worker. */
export function sharedBackend(): Promise<WebGpuBackend | null> {
  shared ??= testBackend();
  return shared;
}
