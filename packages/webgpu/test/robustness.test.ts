import { tensor } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import { Params } from '../src/runtime.js';
import { testBackend } from './gpu.js';

// Each test makes its own device, since it breaks it.
const probe = await testBackend();
probe?.destroy();

/** Resolves once `fn` stops returning normally (the device's lost promise settles asynchronously). */
async function untilThrows(fn: () => unknown): Promise<Error> {
  for (let i = 0; i < 200; i++) {
    try {
      fn();
    } catch (err) {
      return err as Error;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('never threw');
}

describe.skipIf(!probe)('reads', () => {
  it('read views that start past element 0 and refuse ranges outside the buffer', async () => {
    const b = (await testBackend())!;
    const x = tensor(
      Array.from({ length: 12 }, (_, i) => i),
      { backend: b, shape: [3, 4] },
    );
    expect(Array.from(await x.select(0, 2).data())).toEqual([8, 9, 10, 11]);
    expect(Array.from(await x.select(1, 1).data())).toEqual([1, 5, 9]);
    expect(Array.from(await x.reshape(12).slice(0, 5, 7).data())).toEqual([5, 6]);
    const data = x.storage.data;
    await expect(b.read(data, 'float32', 60, 8)).rejects.toThrow(/^read: elements \[60, 68\)/);
    b.destroy();
  });
});

describe.skipIf(!probe)('a broken device', () => {
  it('after backend.destroy(), ops and reads fail at once saying so', async () => {
    const b = (await testBackend())!;
    const x = tensor([1, 2, 3], { backend: b });
    b.destroy();
    expect(() => x.add(1)).toThrow(/the WebGPU device is gone \(the backend was destroyed\)/);
    await expect(x.data()).rejects.toThrow(/^read: the WebGPU device is gone/);
    await expect(b.sync()).rejects.toThrow(/^sync: the WebGPU device is gone/);
    expect(() => tensor([1], { backend: b })).toThrow(/upload: the WebGPU device is gone/);
    x.dispose(); // releasing memory of a dead device is fine
  });

  it('a lost device (here destroyed under the backend) gives a clear error on the next op', async () => {
    const b = (await testBackend())!;
    const x = tensor([1, 2, 3], { backend: b });
    b.device.destroy();
    const err = await untilThrows(() => x.add(1).dispose());
    expect(err.message).toMatch(/the WebGPU device is gone \(the device was destroyed\)/);
    expect(err.message).toMatch(/make a new backend/);
    await expect(x.data()).rejects.toThrow(/^read: the WebGPU device is gone/);
  });

  it('a read in flight when the device is lost rejects instead of hanging', async () => {
    const b = (await testBackend())!;
    const x = tensor(new Float32Array(1 << 16).fill(1), { backend: b });
    const y = x.exp().sum();
    const pending = y.data();
    b.device.destroy();
    await expect(pending).rejects.toThrow(/^read: the WebGPU device is gone/);
  });

  it('a kernel that does not compile is reported by name at the next sync', async () => {
    const b = (await testBackend())!;
    const rt = b.runtime;
    const x = tensor([1, 2, 3], { backend: b });
    const k = rt.kernel('broken-test-kernel', ['write'], () => 'this is not wgsl');
    rt.dispatch(k, [rt.bindAll(x.storage.data as never, 'test')], new Params(), [1, 1, 1]);
    await expect(b.sync()).rejects.toThrow(
      /^sync: the WebGPU device reported an error.*: kernel 'broken-test-kernel' could not be created: .*WGSL/s,
    );
    // Reported once: the device works on.
    expect(Array.from(await x.add(1).data())).toEqual([2, 3, 4]);
    b.destroy();
  });
});
