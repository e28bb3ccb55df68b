import { type Backend, type Tensor, tensor } from '@statetune/tensor';
import { expect } from 'vitest';
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

/** `n` smooth values in [-2, 2], different for each seed. */
export function seq(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed) * 2);
}

/** A float32 tensor of `shape` holding {@link seq} values, on `backend`. */
export function seqTensor(backend: Backend, shape: number[], seed: number): Tensor {
  return tensor(
    seq(
      shape.reduce((p, d) => p * d, 1),
      seed,
    ),
    { backend, shape },
  );
}

/** Expects the same shape and every element within `tol` relative (plus absolute) error. */
export async function expectClose(got: Tensor, want: Tensor, tol = 1e-4): Promise<void> {
  expect(got.shape).toEqual(want.shape);
  const g = await got.data();
  const w = await want.data();
  for (let i = 0; i < w.length; i++) {
    if (Math.abs(g[i] - w[i]) > tol * (1 + Math.abs(w[i]))) {
      expect.fail(`element ${i}: ${g[i]} vs ${w[i]}`);
    }
  }
}
