import { tensor, tidy } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import { bucketSize } from '../src/index.js';
import { sharedBackend } from './gpu.js';

describe('bucketSize', () => {
  it('rounds up to 2^k, 1.25, 1.5 or 1.75 times 2^k in multiples of 256 bytes', () => {
    expect(bucketSize(1)).toBe(256);
    expect(bucketSize(256)).toBe(256);
    expect(bucketSize(257)).toBe(512);
    expect(bucketSize(1025)).toBe(1280);
    expect(bucketSize(1281)).toBe(1536);
    expect(bucketSize(1537)).toBe(1792);
    expect(bucketSize(1793)).toBe(2048);
    for (let b = 1; b < 1e7; b = Math.ceil(b * 1.37)) {
      const s = bucketSize(b);
      expect(s).toBeGreaterThanOrEqual(b);
      expect(s).toBeLessThanOrEqual(Math.max(256, b * 1.25 + 256));
    }
  });
});

const gpu = await sharedBackend();

describe.skipIf(!gpu)('buffer pool', () => {
  it('releases deterministically and reuses released buffers', async () => {
    const b = gpu!;
    await b.sync();
    const before = b.memory();
    const t = tensor(new Float32Array(1000), { backend: b });
    const during = b.memory();
    expect(during.buffers).toBe(before.buffers + 1);
    expect(during.bytesInUse).toBe(before.bytesInUse + bucketSize(4000));
    t.dispose();
    const after = b.memory();
    expect(after.bytesInUse).toBe(before.bytesInUse);
    expect(after.buffers).toBe(before.buffers);
    expect(after.bytesPooled).toBeGreaterThanOrEqual(bucketSize(4000));

    // A training-step-like loop: after the first round, no new buffers are created.
    const x = tensor(new Float32Array(512).fill(1), { backend: b, shape: [16, 32] });
    const round = () =>
      tidy(() => {
        const y = x.mul(2).add(1).exp().sum(1);
        return y.sum();
      });
    const first = round();
    await first.data();
    first.dispose();
    const created = b.poolStats().created;
    for (let i = 0; i < 5; i++) {
      const r = round();
      expect(Array.from(await r.data())[0]).toBeCloseTo(16 * 32 * Math.exp(3), 0);
      r.dispose();
    }
    expect(b.poolStats().created).toBe(created);
    x.dispose();
  });

  it('tidy() returns every intermediate to the pool', async () => {
    const b = gpu!;
    const x = tensor(new Float32Array(64).fill(2), { backend: b });
    const base = b.memory();
    const kept = tidy(() => x.mul(3).add(x).sqrt().mul(x).sum());
    expect(b.memory().buffers).toBe(base.buffers + 1);
    expect((await kept.data())[0]).toBeCloseTo(64 * Math.sqrt(8) * 2, 3);
    kept.dispose();
    x.dispose();
    expect(b.memory().buffers).toBe(base.buffers - 1);
  });

  it('trim() hands pooled buffers back to the driver', async () => {
    const b = gpu!;
    tensor(new Float32Array(100), { backend: b }).dispose();
    await b.sync();
    expect(b.memory().bytesPooled).toBeGreaterThan(0);
    b.trim();
    expect(b.memory().bytesPooled).toBe(0);
  });
});

describe.skipIf(!gpu)('command batching and readback', () => {
  it('records many ops without a submit per op and reads asynchronously', async () => {
    const b = gpu!;
    await b.sync();
    const submits = b.runtime.submits;
    let x = tensor([1, 2, 3, 4], { backend: b });
    for (let i = 0; i < 20; i++) x = x.add(1);
    expect(b.runtime.submits).toBe(submits);
    expect(Array.from(await x.data())).toEqual([21, 22, 23, 24]);
    expect(b.runtime.submits).toBe(submits + 1);
  });

  it('reads windows, int32 values and many reads at once', async () => {
    const b = gpu!;
    const x = tensor(
      Array.from({ length: 300 }, (_, i) => i),
      { backend: b, shape: [30, 10] },
    );
    const rows = x.narrow(0, 7, 3);
    expect(Array.from(await rows.data())).toEqual(Array.from({ length: 30 }, (_, i) => 70 + i));
    const ints = x.cast('int32');
    expect(ints.dtype).toBe('int32');
    const got = await Promise.all([ints.data(), x.sum().data(), x.select(1, 3).data()]);
    expect(got[0]).toBeInstanceOf(Int32Array);
    expect(got[0][299]).toBe(299);
    expect(got[1][0]).toBe((299 * 300) / 2);
    expect(Array.from(got[2])).toEqual(Array.from({ length: 30 }, (_, i) => i * 10 + 3));
    expect(await b.read(x.storage.data, 'float32', 5, 0)).toHaveLength(0);
  });

  it('a disposed tensor cannot be read', async () => {
    const b = gpu!;
    const x = tensor([1, 2], { backend: b });
    const data = x.storage.data;
    x.dispose();
    await expect(b.read(data, 'float32', 0, 2)).rejects.toThrow(/released/);
  });
});
