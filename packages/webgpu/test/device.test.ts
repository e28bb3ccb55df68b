import { getBackend, setBackend, TensorError, tensor } from '@statetune/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type AdapterSource,
  acquireDevice,
  createWebGpuBackend,
  OPTIONAL_FEATURES,
  registerWebGpu,
  WebGpuUnavailableError,
} from '../src/index.js';
import { sharedBackend } from './gpu.js';

const noAdapter: AdapterSource = { requestAdapter: async () => null };

describe('device acquisition', () => {
  afterAll(async () => {
    await setBackend('cpu');
  });

  it('says why and how to fix it when no adapter is found', async () => {
    const err = await acquireDevice({ adapterSource: noAdapter }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebGpuUnavailableError);
    const message = (err as Error).message;
    expect(message).toContain('no WebGPU adapter was found');
    expect(message).toContain('bookworm-backports');
    expect(message).toContain(
      'apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1',
    );
    expect(message).toContain("setBackend('cpu')");
  });

  it('reports an adapter source that fails', async () => {
    const broken: AdapterSource = {
      requestAdapter: async () => {
        throw new Error('driver exploded');
      },
    };
    await expect(createWebGpuBackend({ adapterSource: () => broken })).rejects.toThrow(
      /requesting an adapter failed \(driver exploded\)/,
    );
  });

  it("'auto' falls back to the CPU with a one-line notice when webgpu cannot start", async () => {
    registerWebGpu({ adapterSource: noAdapter });
    const notices: string[] = [];
    const chosen = await setBackend('auto', { onNotice: (m) => notices.push(m) });
    expect(chosen.name).toBe('cpu');
    expect(getBackend().name).toBe('cpu');
    expect(notices).toHaveLength(1);
    expect(notices[0]).not.toContain('\n');
    expect(notices[0]).toContain('webgpu unavailable');
    expect(notices[0]).toContain('no WebGPU adapter was found');
  });

  it("'webgpu' by name fails with the reason", async () => {
    registerWebGpu({ adapterSource: noAdapter });
    await expect(setBackend('webgpu')).rejects.toThrow(/no WebGPU adapter was found/);
  });
});

const gpu = await sharedBackend();

/** Dawn's GPU object for the feature test, kept reachable while its device lives. */
let dawn: AdapterSource | null = null;

describe.skipIf(!gpu)('on a device', () => {
  afterAll(async () => {
    await setBackend('cpu');
  });

  it("'auto' prefers webgpu when an adapter exists", async () => {
    registerWebGpu();
    const notices: string[] = [];
    const chosen = await setBackend('auto', { onNotice: (m) => notices.push(m) });
    expect(chosen.name).toBe('webgpu');
    expect(notices).toEqual([]);
    const t = tensor([1, 2, 3]);
    expect(t.backend.name).toBe('webgpu');
    expect(Array.from(await t.mul(2).data())).toEqual([2, 4, 6]);
  });

  it('requests the optional features the adapter has and describes the adapter', async () => {
    // The adapter as the backend sees it, recorded on its way through an adapter source of
    // our own, so that the expected features come from the adapter and not from the backend.
    dawn ??= ((await import('webgpu')) as { create: (o: string[]) => AdapterSource }).create([]);
    const real = dawn;
    const seen: { adapter: GPUAdapter | null } = { adapter: null };
    const acquired = await acquireDevice({
      adapterSource: {
        requestAdapter: async (o) => {
          seen.adapter = await real.requestAdapter(o);
          return seen.adapter;
        },
      },
    });
    try {
      const adapter = seen.adapter as GPUAdapter;
      for (const f of OPTIONAL_FEATURES) {
        expect(acquired.features.has(f), f).toBe(adapter.features.has(f));
        expect(acquired.device.features.has(f), f).toBe(adapter.features.has(f));
      }
    } finally {
      acquired.device.destroy();
    }
    const b = gpu!;
    for (const f of OPTIONAL_FEATURES) expect(b.features.has(f), f).toBe(b.device.features.has(f));
    expect(typeof b.adapter.vendor).toBe('string');
    expect(b.device.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 2 ** 20);
  });

  it('refuses float64 with an error that names the op and points to the cpu backend', () => {
    const b = gpu!;
    const expectRefusal = (fn: () => unknown, op: string) => {
      let caught: unknown;
      try {
        fn();
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(TensorError);
      expect((caught as TensorError).op).toBe(op);
      expect((caught as Error).message).toContain('float64');
      expect((caught as Error).message).toContain("setBackend('cpu')");
    };
    expectRefusal(
      () => tensor([1, 2], { backend: b, dtype: 'float64' }),
      'upload (creating a float64 tensor)',
    );
    const x = tensor([1, 2], { backend: b });
    expectRefusal(() => x.cast('float64'), 'copy');
    expectRefusal(() => b.allocate('float64', 4), 'allocate');
    expectRefusal(() => b.fill('float64', 4, 1), 'fill');
  });

  it('reads only asynchronously', () => {
    const t = tensor([1], { backend: gpu! });
    expect(() => t.dataSync()).toThrow(/await tensor.data\(\)/);
  });
});
