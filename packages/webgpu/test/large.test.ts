import {
  AdamW,
  type Backend,
  CpuBackend,
  crossEntropy,
  embedding,
  Generator,
  matmul,
  rand,
  randn,
  rmsNorm,
  SGD,
  softmax,
  type Tensor,
  tensor,
} from '@statetune/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { expectClose, seqTensor, testBackend } from './gpu.js';

// A device whose storage bindings are cut to 4 KiB: every tensor below is larger than one
// binding, as a 154 MB embedding is on a device with a 128 MiB limit.
const LIMIT = 4096;
const gpu = await testBackend({ maxBindingBytes: LIMIT });
const cpu = new CpuBackend();

describe.skipIf(!gpu)('tensors larger than one storage binding', () => {
  afterAll(() => gpu?.destroy());
  const on = seqTensor;

  it('the limit is in force', () => {
    expect(gpu!.runtime.maxBindingBytes).toBe(LIMIT);
  });

  it('uploads and reads back a tensor of many bindings', async () => {
    const x = on(gpu!, [5000], 1);
    await expectClose(x, on(cpu, [5000], 1), 0);
  });

  it('indexSelect and its gradient over a table bound a window of rows at a time', async () => {
    const ids = [499, 0, 250, 3, 499, 128, 7, 250, 260];
    const run = (b: Backend) => {
      const table = on(b, [500, 8], 2).requiresGrad_(true);
      const out = embedding(table, tensor(ids, { backend: b, dtype: 'int32', shape: [3, 3] }));
      out
        .mul(on(b, [3, 3, 8], 3))
        .sum()
        .backward();
      return [out, table.grad as Tensor];
    };
    const [gOut, gGrad] = run(gpu!);
    const [cOut, cGrad] = run(cpu);
    await expectClose(gOut, cOut, 0);
    await expectClose(gGrad, cGrad, 1e-6);
  });

  it('matmul whose operands and output exceed the binding limit', async () => {
    const run = (b: Backend) => [
      matmul(on(b, [50, 40], 4), on(b, [40, 30], 5)),
      // The LM head: hidden states times a large embedding, transposed.
      matmul(on(b, [6, 16], 6), on(b, [300, 16], 7).transpose(0, 1)),
      // Batched, with a broadcast operand.
      matmul(on(b, [3, 20, 24], 8), on(b, [24, 50], 9)),
    ];
    const g = run(gpu!);
    const c = run(cpu);
    for (let i = 0; i < c.length; i++) await expectClose(g[i], c[i]);
  });

  it('elementwise ops and contiguous copies run in chunks', async () => {
    const run = (b: Backend) => {
      const x = on(b, [60, 50], 10);
      const row = on(b, [50], 11);
      return [x.add(row).exp(), x.slice(0, 1, 60, 2).contiguous(), x.mul(2).cast('int32')];
    };
    const g = run(gpu!);
    const c = run(cpu);
    for (let i = 0; i < c.length; i++) await expectClose(g[i], c[i]);
  });

  it('reductions and argmax over tensors of many bindings', async () => {
    const run = (b: Backend) => {
      const x = on(b, [40, 30, 5], 13);
      return [
        x.sum(),
        x.max([0, 2]),
        x.min(1),
        x.mean([1, 2], true),
        x.permute(2, 0, 1).sum(0),
        x.argmax(2),
        x.argmax(1),
        x.square().sum().sqrt(),
      ];
    };
    const g = run(gpu!);
    const c = run(cpu);
    for (let i = 0; i < c.length; i++) await expectClose(g[i], c[i]);
  });

  it('softmax, cross-entropy and RMSNorm over logits of many bindings', async () => {
    const run = (b: Backend) => {
      const logits = on(b, [3, 40, 50], 14).requiresGrad_(true);
      const w = on(b, [50], 15).requiresGrad_(true);
      const targets = tensor(
        Array.from({ length: 120 }, (_, i) => (i % 7 === 0 ? -100 : (i * 13) % 50)),
        { backend: b, dtype: 'int32', shape: [3, 40] },
      );
      const loss = crossEntropy(rmsNorm(logits, w), targets);
      const sm = softmax(logits, -1);
      loss.add(sm.mul(on(b, [3, 40, 50], 16)).sum()).backward();
      return [loss, sm, logits.grad as Tensor, w.grad as Tensor];
    };
    const g = run(gpu!);
    const c = run(cpu);
    for (let i = 0; i < c.length; i++) await expectClose(g[i], c[i]);
  });

  it('random draws and optimizer steps run in ranges', async () => {
    const run = (b: Backend) => {
      const g = new Generator(3);
      const u = rand([3001], { backend: b, generator: g });
      const z = randn([2999], { backend: b, generator: g });
      const p = on(b, [2500], 17).requiresGrad_(true);
      const q = on(b, [2500], 18).requiresGrad_(true);
      const adam = new AdamW([p], { lr: 0.01 });
      const sgd = new SGD([q], { lr: 0.01, momentum: 0.9 });
      for (let i = 0; i < 2; i++) {
        p.square().sum().backward();
        q.square().sum().backward();
        adam.step();
        sgd.step();
        adam.zeroGrad();
        sgd.zeroGrad();
      }
      return [u, z, p, q];
    };
    const g = run(gpu!);
    const c = run(cpu);
    for (let i = 0; i < c.length; i++) await expectClose(g[i], c[i], 1e-5);
  });

  it('copies a transposed view whose single row exceeds the limit, in blocks', async () => {
    await expectClose(
      on(gpu!, [60, 50], 12).transpose(0, 1).contiguous(),
      on(cpu, [60, 50], 12).transpose(0, 1).contiguous(),
      0,
    );
  });
});
