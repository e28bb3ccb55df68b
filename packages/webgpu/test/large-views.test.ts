import { type Backend, CpuBackend, type Tensor, where } from '@statetune/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { planBox, planChunks } from '../src/kernels/strided.js';
import { seqTensor, testBackend } from './gpu.js';

// Strided views whose span is larger than one storage binding: transposed, permuted,
// broadcast and offset views of tensors of many bindings. The device's bindings are cut to
// 4 KiB, so each view below has to be tiled into boxes along axes other than the innermost.
const LIMIT = 4096;
const gpu = await testBackend({ maxBindingBytes: LIMIT });
const cpu = new CpuBackend();

const on = seqTensor;

async function expectSame(got: Tensor, want: Tensor, tol = 1e-5): Promise<void> {
  expect(got.shape).toEqual(want.shape);
  expect(got.dtype).toBe(want.dtype);
  const g = await got.data();
  const w = await want.data();
  for (let i = 0; i < w.length; i++) {
    if (!(Math.abs(g[i] - w[i]) <= tol * (1 + Math.abs(w[i])))) {
      expect.fail(`element ${i}: ${g[i]} vs ${w[i]}`);
    }
  }
}

/** Runs `make` on both backends and compares every result. */
async function compare(make: (b: Backend) => Tensor[], tol?: number): Promise<void> {
  const g = make(gpu!);
  const c = make(cpu);
  for (let i = 0; i < c.length; i++) await expectSame(g[i], c[i], tol);
}

describe('tiling plans', () => {
  it('cuts a transposed matrix into blocks that fit for both operands', () => {
    // A (rows x cols) contiguous output read from a transposed source (strides 1, rows).
    const [rows, cols, limit] = [500, 300, 1000];
    const operands = [
      { offset: 0, strides: [cols, 1] },
      { offset: 7, strides: [1, rows] },
    ];
    const box = planBox([rows, cols], operands, limit);
    for (const o of operands) {
      expect(1 + (box[0] - 1) * o.strides[0] + (box[1] - 1) * o.strides[1]).toBeLessThanOrEqual(
        limit,
      );
    }
    const chunks = planChunks([rows, cols], operands, limit);
    // Every index is covered exactly once, and every range fits.
    const seen = new Uint8Array(rows * cols);
    for (const c of chunks) {
      for (const [lo, hi] of c.ranges) expect(hi - lo).toBeLessThanOrEqual(limit);
      const r0 = c.offsets[0];
      for (let i = 0; i < c.shape[0]; i++) {
        for (let j = 0; j < c.shape[1]; j++) seen[r0 + i * cols + j]++;
      }
    }
    expect(seen.every((v) => v === 1)).toBe(true);
  });

  it('never cuts a stride-0 axis and keeps one box when everything fits', () => {
    expect(planBox([1000, 4], [{ strides: [0, 1] }], 16)).toEqual([1000, 4]);
    expect(planChunks([10, 10], [{ offset: 3, strides: [10, 1] }], 100)).toHaveLength(1);
  });
});

describe.skipIf(!gpu)('views larger than one storage binding', () => {
  afterAll(() => gpu?.destroy());

  it('the limit is in force', () => {
    expect(gpu!.runtime.maxBindingElements).toBeLessThan(1024);
  });

  it('unary, binary and where over a transposed matrix (each row spans many bindings)', async () => {
    await compare((b) => {
      const x = on(b, [60, 50], 1).transpose(0, 1);
      const y = on(b, [50, 60], 2);
      return [
        x.exp(),
        x.add(y),
        y.mul(x),
        x.gt(0).cast('int32'),
        where(x.gt(y), x, y.neg()),
        x.tanh().sub(on(b, [60], 3)),
      ];
    });
  });

  it('permuted 3-D views', async () => {
    await compare((b) => {
      const x = on(b, [12, 10, 9], 4);
      const p = x.permute(2, 0, 1);
      const q = on(b, [9, 12, 10], 5);
      return [p.add(q), p.contiguous(), x.permute(1, 2, 0).square(), where(p.lt(q), q, p)];
    });
  });

  it('stride-0 broadcasts against large views', async () => {
    await compare((b) => {
      const col = on(b, [70, 1], 6);
      const row = on(b, [1, 40], 7);
      const big = on(b, [40, 70], 8).transpose(0, 1);
      return [
        col.add(row),
        col.expand(70, 40).contiguous(),
        big.mul(col),
        where(big.gt(0), row.expand(70, 40), col),
        col.expand(70, 40).sum(1),
        row.expand(1500, 40).sum(1),
        row.expand(1500, 40).argmax(1),
      ];
    });
  });

  it('offset views (slices, steps, narrow) of a large tensor', async () => {
    await compare((b) => {
      const x = on(b, [80, 45], 9);
      const s = x.slice(0, 3, 78, 2).narrow(1, 5, 30);
      const t = x.transpose(0, 1).slice(1, 7, 67);
      return [s.exp(), s.contiguous(), t.add(t), t.contiguous(), x.select(1, 17).neg()];
    });
  });

  it('copies with a dtype change and strided writes', async () => {
    await compare((b) => {
      const x = on(b, [50, 40], 10).mul(100);
      return [x.transpose(0, 1).cast('int32'), x.cast('int32').transpose(0, 1).cast('float32')];
    });
  });

  it('reductions and argmax of transposed and permuted views', async () => {
    await compare((b) => {
      const x = on(b, [70, 50], 11).transpose(0, 1);
      const y = on(b, [14, 11, 13], 12).permute(2, 0, 1);
      return [
        x.sum(1),
        x.sum(0),
        x.max(1),
        x.min(),
        y.sum([0, 2]),
        x.argmax(1),
        x.argmax(0),
        y.argmax(0),
        y.argmax(2),
      ];
    }, 1e-4);
  });

  it('the argmax axis may itself span many bindings', async () => {
    await compare((b) => [on(b, [900, 30], 13).transpose(0, 1).argmax(1, true)]);
  });

  it('still says which op cannot run when one argmax line exceeds a binding', () => {
    const x = on(gpu!, [5000], 14);
    expect(() => x.argmax(0)).toThrow(/argmax: the argmax axis of 5000 elements exceeds/);
  });
});
