import { CpuBackend, crossEntropy, embedding, indexSelect, tensor } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import { sharedBackend } from './gpu.js';

// What the device does where it differs from (or must equal) the CPU exactly.
const gpu = await sharedBackend();
const cpu = new CpuBackend();

describe.skipIf(!gpu)('device semantics', () => {
  it('scatter-add adds in the CPU order: embedding gradients are bitwise equal', async () => {
    const ids = Array.from({ length: 64 }, (_, i) => (i * 7) % 5);
    const grad = async (b: typeof cpu | NonNullable<typeof gpu>) => {
      const table = tensor(new Float32Array(5 * 3), { backend: b, shape: [5, 3] }).requiresGrad_(
        true,
      );
      const out = embedding(table, tensor(ids, { backend: b, dtype: 'int32' }));
      const w = tensor(
        Array.from({ length: 64 * 3 }, (_, i) => Math.sin(i) * 1e3 + 1e-3 * i),
        { backend: b, shape: [64, 3] },
      );
      out.mul(w).sum().backward();
      return Array.from(await table.grad!.data());
    };
    expect(await grad(gpu!)).toEqual(await grad(cpu));
  });

  it('repeats reductions bit for bit', async () => {
    const x = tensor(
      Array.from({ length: 5000 }, (_, i) => Math.sin(i * 1.3) * 100),
      { backend: gpu!, shape: [50, 100] },
    );
    const a = Array.from(await x.sum().data());
    const b = Array.from(await x.sum().data());
    const c = Array.from(await x.softmax(0).sum(1).data());
    const d = Array.from(await x.softmax(0).sum(1).data());
    expect(a).toEqual(b);
    expect(c).toEqual(d);
  });

  it('gives zeros for an out-of-range index and NaN for an out-of-range target', async () => {
    const table = tensor([1, 2, 3, 4], { backend: gpu!, shape: [2, 2] });
    const picked = indexSelect(table, 0, tensor([1, 5, -1], { backend: gpu!, dtype: 'int32' }));
    expect(Array.from(await picked.data())).toEqual([3, 4, 0, 0, 0, 0]);
    const loss = crossEntropy(
      tensor([[0, 1, 2]], { backend: gpu! }),
      tensor([7], { backend: gpu!, dtype: 'int32' }),
      { reduction: 'none' },
    );
    expect(Number.isNaN((await loss.data())[0])).toBe(true);
  });
});
