import { type Backend, type Tensor, tensor } from '@statetune/tensor';
import { expect } from 'vitest';
import {
  createWebGpuBackend,
  type WebGpuBackend,
  type WebGpuBackendOptions,
  WebGpuUnavailableError,
} from '../src/index.js';

/** What the adapter probe needs of `navigator.gpu` or of Dawn's GPU object. */
interface AdapterProbe {
  requestAdapter(): Promise<unknown>;
}

/** Dawn's GPU object of the probe, kept reachable (Dawn must not collect it under a device). */
let probeSource: AdapterProbe | null = null;

/**
 * Whether this machine has a WebGPU adapter, asked directly (navigator.gpu or the `webgpu`
 * package), independently of the backend's own start-up code.
 */
async function adapterPresent(): Promise<boolean> {
  try {
    const nav = (globalThis as { navigator?: { gpu?: AdapterProbe } }).navigator;
    if (nav?.gpu) return (await nav.gpu.requestAdapter()) != null;
    if (!probeSource) {
      const mod = (await import('webgpu')) as { create: (options: string[]) => AdapterProbe };
      probeSource = mod.create([]);
    }
    return (await probeSource.requestAdapter()) != null;
  } catch {
    return false;
  }
}

/**
 * The backend the tests run on, or null (with the reason printed) when this machine has no
 * WebGPU adapter. With STATETUNE_REQUIRE_WEBGPU=1 (CI) a missing adapter fails instead. Only a
 * missing adapter skips: when an adapter exists, any failure to start the backend (a device
 * refused, a bad option, a bug in start-up) fails the tests rather than skipping them.
 */
export async function testBackend(
  options: WebGpuBackendOptions = {},
): Promise<WebGpuBackend | null> {
  try {
    return await createWebGpuBackend(options);
  } catch (err) {
    if (process.env.STATETUNE_REQUIRE_WEBGPU === '1') throw err;
    if (!(err instanceof WebGpuUnavailableError) || (await adapterPresent())) throw err;
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

/**
 * Expects the same shape and dtype and every element within `tol` relative (plus absolute)
 * error. NaN matches only NaN and an infinity only itself: a NaN where a number is expected
 * fails (a plain `> tol` test would let it through).
 */
export async function expectClose(got: Tensor, want: Tensor, tol = 1e-4): Promise<void> {
  expect(got.shape).toEqual(want.shape);
  expect(got.dtype).toBe(want.dtype);
  const g = await got.data();
  const w = await want.data();
  expect(g.length).toBe(w.length);
  for (let i = 0; i < w.length; i++) {
    const ok = Number.isFinite(w[i])
      ? Math.abs(g[i] - w[i]) <= tol * (1 + Math.abs(w[i]))
      : Object.is(g[i], w[i]) || (Number.isNaN(g[i]) && Number.isNaN(w[i]));
    if (!ok) expect.fail(`element ${i}: ${g[i]} vs ${w[i]}`);
  }
}
