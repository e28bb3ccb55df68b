import { describe, expect, it } from 'vitest';
import {
  causalConv1d,
  crossEntropy,
  dropout,
  embedding,
  Generator,
  indexSelect,
  linear,
  logSoftmax,
  matmul,
  ones,
  rmsNorm,
  softmax,
  type Tensor,
  tensor,
  zeros,
} from '../../src/index.js';
import { gradcheck, leaf, relErr } from '../helpers.js';
import { arr, expectClose, expectTensorError, flatIndex, gradOf, indices, spread } from './util.js';

/** Plain-JS batched matmul of row-major operands with broadcast batch shapes. */
function matmulRef(
  av: number[],
  aShape: number[],
  bv: number[],
  bShape: number[],
  batch: number[],
): number[] {
  const [m, k] = aShape.slice(-2);
  const n = bShape[bShape.length - 1];
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  const aMat = m * k;
  const bMat = k * n;
  // The flat matrix index of an operand at a broadcast batch index.
  const at = (shape: number[], bi: number[]) =>
    flatIndex(
      shape.map((d, i) => (d === 1 ? 0 : bi[bi.length - shape.length + i])),
      shape,
    );
  const out: number[] = [];
  for (const bi of indices(batch)) {
    const ao = at(aBatch, bi);
    const bo = at(bBatch, bi);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += av[ao * aMat + i * k + p] * bv[bo * bMat + p * n + j];
        out.push(s);
      }
    }
  }
  return out;
}

function rand(shape: number[], seed: number, dtype: 'float32' | 'float64' = 'float32'): Tensor {
  return tensor(
    spread(
      shape.reduce((p, d) => p * d, 1),
      seed,
    ),
    { shape, dtype },
  );
}

describe('matmul', () => {
  const cases: { name: string; a: number[]; b: number[]; out: number[]; batch: number[] }[] = [
    { name: '2-D', a: [3, 4], b: [4, 5], out: [3, 5], batch: [] },
    { name: 'batched', a: [2, 3, 4], b: [2, 4, 5], out: [2, 3, 5], batch: [2] },
    { name: 'broadcast batch', a: [2, 1, 3, 4], b: [3, 4, 2], out: [2, 3, 3, 2], batch: [2, 3] },
    { name: 'matrix times batch', a: [3, 4], b: [2, 4, 5], out: [2, 3, 5], batch: [2] },
    { name: 'batch times matrix', a: [2, 3, 4], b: [4, 5], out: [2, 3, 5], batch: [2] },
    {
      name: 'large enough for the packed kernel',
      a: [40, 70],
      b: [70, 50],
      out: [40, 50],
      batch: [],
    },
  ];

  for (const c of cases) {
    it(`${c.name}: ${JSON.stringify(c.a)} @ ${JSON.stringify(c.b)}`, () => {
      for (const dtype of ['float32', 'float64'] as const) {
        const a = rand(c.a, 1, dtype);
        const b = rand(c.b, 2, dtype);
        const y = matmul(a, b);
        expect(y.shape).toEqual(c.out);
        expect(y.dtype).toBe(dtype);
        const want = matmulRef(arr(a), c.a, arr(b), c.b, c.batch);
        expect(relErr(arr(y), want)).toBeLessThan(dtype === 'float64' ? 1e-14 : 1e-6);
      }
    });
  }

  it('handles 1-D operands as torch.matmul', () => {
    const v = tensor([1, 2, 3]);
    const w = tensor([4, 5, 6]);
    const dot = matmul(v, w);
    expect(dot.shape).toEqual([]);
    expect(dot.item()).toBe(32);
    const m = tensor([
      [1, 0],
      [0, 1],
      [2, 3],
    ]); // [3, 2]
    expect(matmul(v, m).shape).toEqual([2]);
    expect(arr(matmul(v, m))).toEqual([7, 11]);
    expect(arr(matmul(m.transpose(), v))).toEqual([7, 11]);
    const batch = rand([2, 3, 4], 3);
    const left = matmul(v, batch);
    expect(left.shape).toEqual([2, 4]);
    expect(
      relErr(arr(left), matmulRef([1, 2, 3], [1, 3], arr(batch), [2, 3, 4], [2])),
    ).toBeLessThan(1e-6);
    const right = matmul(batch.transpose(), v);
    expect(right.shape).toEqual([2, 4]);
    expect(relErr(arr(right), arr(left))).toBeLessThan(1e-6);
  });

  it('reads transposed, sliced and expanded views of either operand', () => {
    const aT = rand([4, 3], 4).transpose(); // [3, 4] stored transposed
    const bT = rand([5, 4], 5).transpose(); // [4, 5] stored transposed
    const a = aT.contiguous();
    const b = bT.contiguous();
    const want = matmulRef(arr(a), [3, 4], arr(b), [4, 5], []);
    for (const [x, y] of [
      [aT, b],
      [a, bT],
      [aT, bT],
    ]) {
      expect(relErr(arr(matmul(x, y)), want)).toBeLessThan(1e-6);
    }
    const sliced = rand([3, 8], 6).slice(1, 0, 8, 2); // [3, 4], column stride 2
    expect(
      relErr(arr(matmul(sliced, b)), matmulRef(arr(sliced), [3, 4], arr(b), [4, 5], [])),
    ).toBeLessThan(1e-6);
    const expanded = a.unsqueeze(0).expand(2, 3, 4);
    const bb = rand([2, 4, 5], 7);
    expect(
      relErr(
        arr(matmul(expanded, bb)),
        matmulRef(arr(expanded), [2, 3, 4], arr(bb), [2, 4, 5], [2]),
      ),
    ).toBeLessThan(1e-6);
    const batchT = rand([2, 4, 3], 8).transpose(); // [2, 3, 4], non-contiguous batch
    expect(
      relErr(arr(matmul(batchT, b)), matmulRef(arr(batchT), [2, 3, 4], arr(b), [4, 5], [2])),
    ).toBeLessThan(1e-6);
  });

  it('promotes float32 with float64', () => {
    expect(matmul(rand([2, 2], 1), rand([2, 2], 2, 'float64')).dtype).toBe('float64');
  });

  it('names both shapes when the inner sizes differ', () => {
    expectTensorError(
      () => matmul(rand([3, 4], 1), rand([5, 2], 2)),
      'matmul',
      '[3, 4]',
      '[5, 2]',
      '4 vs 5',
    );
    expectTensorError(() => matmul(rand([3], 1), rand([4], 2)), 'matmul', '[3]', '[4]');
    expectTensorError(() => matmul(rand([2, 3], 1), rand([2], 2)), 'matmul', '[2, 3]', '[2]');
    expectTensorError(
      () => matmul(rand([2, 3, 4], 1), rand([3, 4, 5], 2)),
      'matmul',
      '[2, 3, 4]',
      '[3, 4, 5]',
    );
  });

  it('multiplies empty batches and empty inner sizes', () => {
    expect(zeros([2, 3, 0]).matmul(zeros([0, 4])).shape).toEqual([2, 3, 4]);
    expect(arr(zeros([2, 3, 0]).matmul(zeros([0, 4])))).toEqual(new Array(24).fill(0));
    expect(zeros([0, 3, 2]).matmul(zeros([2, 4])).shape).toEqual([0, 3, 4]);
  });

  it('rejects int32 operands and operands without axes', () => {
    const i = tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { dtype: 'int32' },
    );
    expectTensorError(() => matmul(i, rand([2, 2], 1)), 'matmul', 'float', 'int32');
    expectTensorError(
      () => matmul(tensor(2), rand([2, 2], 1)),
      'matmul',
      '[]',
      'at least one axis',
    );
  });

  describe('gradients', () => {
    const gcases: [string, number[], number[], (a: Tensor, b: Tensor) => Tensor][] = [
      ['2-D', [3, 4], [4, 2], (a, b) => matmul(a, b)],
      ['broadcast batch', [2, 1, 3, 4], [3, 4, 2], (a, b) => matmul(a, b)],
      ['batch times matrix', [2, 3, 4], [4, 2], (a, b) => matmul(a, b)],
      ['1-D times 1-D', [4], [4], (a, b) => matmul(a, b)],
      ['1-D times matrix', [4], [4, 3], (a, b) => matmul(a, b)],
      ['transposed views', [4, 3], [2, 4], (a, b) => matmul(a.transpose(), b.transpose())],
      ['non-contiguous batch times matrix', [2, 4, 3], [4, 2], (a, b) => matmul(a.transpose(), b)],
    ];
    for (const [name, sa, sb, f] of gcases) {
      it(name, () => {
        expect(gradcheck(f, [leaf(sa, 1), leaf(sb, 2)])).toBeLessThan(1e-6);
      });
    }
  });
});

describe('linear', () => {
  it('computes x @ weight^T + bias with or without the bias', () => {
    const x = rand([2, 3, 4], 1, 'float64');
    const w = rand([5, 4], 2, 'float64');
    const b = rand([5], 3, 'float64');
    const xv = arr(x);
    const wv = arr(w);
    const bv = arr(b);
    const want = indices([2, 3, 5]).map(([i, j, o]) => {
      let s = bv[o];
      for (let p = 0; p < 4; p++) s += xv[(i * 3 + j) * 4 + p] * wv[o * 4 + p];
      return s;
    });
    const y = linear(x, w, b);
    expect(y.shape).toEqual([2, 3, 5]);
    expectClose(arr(y), want, 1e-14);
    expectClose(
      arr(linear(x, w)),
      want.map((v, i) => v - bv[i % 5]),
      1e-14,
    );
    expect(linear(rand([4], 4), rand([5, 4], 5)).shape).toEqual([5]);
  });

  it('names the shapes that do not fit', () => {
    const w = rand([5, 4], 2);
    expectTensorError(() => linear(rand([2, 3], 1), w), 'linear', '[2, 3]', '4 features', '[5, 4]');
    expectTensorError(() => linear(rand([2, 4], 1), rand([4], 2)), 'linear', 'weight', '[4]');
    expectTensorError(
      () => linear(rand([2, 4], 1), w, rand([4], 3)),
      'linear',
      'bias',
      '[5]',
      '[4]',
    );
  });

  it('gradients for input, weight and bias', () => {
    expect(
      gradcheck((x, w, b) => linear(x, w, b), [leaf([2, 3, 4], 1), leaf([5, 4], 2), leaf([5], 3)]),
    ).toBeLessThan(1e-6);
    expect(gradcheck((x, w) => linear(x, w), [leaf([3, 4], 4), leaf([2, 4], 5)])).toBeLessThan(
      1e-6,
    );
  });
});

describe('softmax and logSoftmax', () => {
  const shape = [2, 3, 4];

  /** Reference along `axis`, in float64 from the definition. */
  function softmaxRef(vals: number[], axis: number, log: boolean): number[] {
    return indices(shape).map((idx) => {
      let denom = 0;
      for (let i = 0; i < shape[axis]; i++) {
        const j = [...idx];
        j[axis] = i;
        denom += Math.exp(vals[flatIndex(j, shape)]);
      }
      const v = vals[flatIndex(idx, shape)];
      return log ? v - Math.log(denom) : Math.exp(v) / denom;
    });
  }

  for (const axis of [0, 1, 2, -1, -3]) {
    it(`along axis ${axis}: values and gradients`, () => {
      const a = axis < 0 ? axis + 3 : axis;
      const x = rand(shape, 2);
      const xv = arr(x).map((v) => v * 3);
      const x3 = x.mul(3);
      expectClose(arr(softmax(x3, axis)), softmaxRef(xv, a, false), 1e-6);
      expectClose(arr(logSoftmax(x3, axis)), softmaxRef(xv, a, true), 2e-6);
      expect(gradcheck((t) => softmax(t, axis), [leaf(shape, 3)])).toBeLessThan(1e-6);
      expect(gradcheck((t) => logSoftmax(t, axis), [leaf(shape, 4)])).toBeLessThan(1e-6);
    });
  }

  it('sums to one and stays finite for large logits', () => {
    const x = tensor([
      [1000, 1001, 1002],
      [-1000, -1001, -1002],
    ]);
    const p = arr(softmax(x));
    expect(p.every(Number.isFinite)).toBe(true);
    const e = [1, Math.E, Math.E ** 2];
    const z = e[0] + e[1] + e[2];
    expectClose(
      p.slice(0, 3),
      e.map((v) => v / z),
      1e-6,
    );
    expectClose(
      p.slice(3),
      e.map((v) => 1 / v / (1 + 1 / Math.E + Math.E ** -2)),
      1e-6,
    );
    const l = arr(logSoftmax(tensor([1000, 0], { dtype: 'float64' })));
    expect(l[0]).toBe(0);
    expect(l[1]).toBe(-1000);
  });

  it('gives probability 0 to -Infinity and handles transposed inputs', () => {
    expect(arr(softmax(tensor([0, -Infinity, 0])))).toEqual([0.5, 0, 0.5]);
    const x = rand([3, 4], 5);
    expect(arr(softmax(x.transpose(), 0))).toEqual(arr(softmax(x, 1).transpose().contiguous()));
  });

  it('of a tensor without axes is 1 (log: 0)', () => {
    expect(softmax(tensor(5)).item()).toBe(1);
    expect(logSoftmax(tensor(5)).item()).toBe(0);
  });

  it('rejects int32 input and bad axes', () => {
    expectTensorError(
      () => softmax(tensor([1, 2], { dtype: 'int32' })),
      'softmax',
      'float',
      'int32',
    );
    expectTensorError(() => logSoftmax(rand([2, 3], 1), 2), 'logSoftmax', 'axis 2', 'rank 2');
  });
});

describe('crossEntropy', () => {
  const logits = tensor(
    [
      [1, 2, 3],
      [1, 1, 1],
      [0, -2, 5],
    ],
    { dtype: 'float64' },
  );
  const lse = (r: number[]) => Math.log(r.reduce((p, v) => p + Math.exp(v), 0));
  const row0 = lse([1, 2, 3]) - 3; // 0.4076059644443804
  const row1 = Math.log(3);
  const row2 = lse([0, -2, 5]) - 0;

  it('matches hand-computed values for each reduction', () => {
    const t = tensor([2, 0, 0], { dtype: 'int32' });
    expect(row0).toBeCloseTo(0.40760596444438, 13);
    expectClose(arr(crossEntropy(logits, t, { reduction: 'none' })), [row0, row1, row2], 1e-14);
    expect(crossEntropy(logits, t, { reduction: 'sum' }).item()).toBeCloseTo(
      row0 + row1 + row2,
      13,
    );
    expect(crossEntropy(logits, t).item()).toBeCloseTo((row0 + row1 + row2) / 3, 13);
    expect(crossEntropy(logits, t, { reduction: 'none' }).shape).toEqual([3]);
    expect(crossEntropy(logits, t).shape).toEqual([]);
  });

  it('ignores targets equal to -100 and averages over the others', () => {
    const t = tensor([2, -100, 0], { dtype: 'int32' });
    expectClose(arr(crossEntropy(logits, t, { reduction: 'none' })), [row0, 0, row2], 1e-14);
    expect(crossEntropy(logits, t).item()).toBeCloseTo((row0 + row2) / 2, 13);
    expect(crossEntropy(logits, t, { reduction: 'sum' }).item()).toBeCloseTo(row0 + row2, 13);
    const custom = tensor([2, 1, 7], { dtype: 'int32' });
    expect(crossEntropy(logits, custom, { ignoreIndex: 7 }).item()).toBeCloseTo(
      (row0 + (lse([1, 1, 1]) - 1)) / 2,
      13,
    );
  });

  it('gives NaN for the mean when every target is ignored (0 for the sum)', () => {
    const t = tensor([-100, -100, -100], { dtype: 'int32' });
    expect(crossEntropy(logits, t).item()).toBeNaN();
    expect(crossEntropy(logits, t, { reduction: 'sum' }).item()).toBe(0);
  });

  it('works on leading axes and stays finite for large logits', () => {
    const x = tensor(
      [
        [
          [1000, 0],
          [0, 1000],
        ],
      ],
      { dtype: 'float32' },
    ); // [1, 2, 2]
    const t = tensor([[1, 1]], { dtype: 'int32' });
    expectClose(arr(crossEntropy(x, t, { reduction: 'none' })), [1000, 0], 1e-6);
    expect(crossEntropy(x, t, { reduction: 'none' }).shape).toEqual([1, 2]);
  });

  it('names the position, value and class count of an out-of-range target', () => {
    expectTensorError(
      () => crossEntropy(logits, tensor([0, 3, 1], { dtype: 'int32' })),
      'crossEntropy',
      'target 3',
      'position 1',
      '3 classes',
    );
    expectTensorError(
      () => crossEntropy(logits, tensor([-1, 0, 1], { dtype: 'int32' })),
      'crossEntropy',
      'target -1',
      'position 0',
    );
  });

  it('rejects an unknown reduction instead of guessing one', () => {
    const logits = tensor([[1, 2, 3]]);
    const t = tensor([1], { dtype: 'int32' });
    expectTensorError(
      () => crossEntropy(logits, t, { reduction: 'avg' as never }),
      'crossEntropy',
      "reduction must be 'mean', 'sum' or 'none'",
      '"avg"',
    );
  });

  it('rejects float targets, int logits and mismatched shapes', () => {
    expectTensorError(
      () => crossEntropy(logits, tensor([0, 1, 2])),
      'crossEntropy',
      'int32',
      'float32',
    );
    expectTensorError(
      () => crossEntropy(tensor([[1, 2]], { dtype: 'int32' }), tensor([0], { dtype: 'int32' })),
      'crossEntropy',
      'logits',
      'int32',
    );
    expectTensorError(
      () => crossEntropy(logits, tensor([0, 1], { dtype: 'int32' })),
      'crossEntropy',
      '[2]',
      '[3, 3]',
      '[3]',
    );
  });

  it('gradients match finite differences for every reduction, zero on ignored rows', () => {
    const t = tensor([[2, -100, 0, 1]], { dtype: 'int32' });
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      const x = leaf([1, 4, 3], 7);
      expect(gradcheck((l) => crossEntropy(l, t, { reduction }), [x])).toBeLessThan(1e-6);
      expect(gradOf(x).slice(3, 6)).toEqual([0, 0, 0]);
    }
    // Hand value: d mean / d logits = (softmax - onehot) / count.
    const x = tensor([[0, Math.log(3)]], { dtype: 'float64', requiresGrad: true });
    crossEntropy(x, tensor([0], { dtype: 'int32' })).backward();
    expectClose(gradOf(x), [0.25 - 1, 0.75], 1e-15);
  });
});

describe('rmsNorm', () => {
  function rmsRef(xv: number[], cols: number, w: number[] | null, eps: number): number[] {
    return xv.map((v, i) => {
      const r = Math.floor(i / cols);
      let ss = 0;
      for (let c = 0; c < cols; c++) ss += xv[r * cols + c] ** 2;
      return (v / Math.sqrt(ss / cols + eps)) * (w ? w[i % cols] : 1);
    });
  }

  it('matches x / sqrt(mean(x^2) + eps) * weight, with and without weight', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const x = rand([2, 3, 5], 1, dtype);
      const w = rand([5], 2, dtype);
      const tol = dtype === 'float64' ? 1e-14 : 1e-6;
      expectClose(arr(rmsNorm(x, w)), rmsRef(arr(x), 5, arr(w), 1e-5), tol);
      expectClose(arr(rmsNorm(x, null, 0.1)), rmsRef(arr(x), 5, null, 0.1), tol);
      expect(rmsNorm(x, w).dtype).toBe(dtype);
    }
  });

  it('eps matters for small inputs (default 1e-5)', () => {
    const x = tensor([1e-3, -2e-3, 3e-3], { dtype: 'float64' });
    const y = arr(rmsNorm(x, null));
    expectClose(y, rmsRef(arr(x), 3, null, 1e-5), 1e-14);
    const y0 = arr(rmsNorm(x, null, 0));
    expectClose(y0, rmsRef(arr(x), 3, null, 0), 1e-14);
    expect(Math.abs(y[0] - y0[0])).toBeGreaterThan(0.1);
  });

  it('normalises each row of a transposed input', () => {
    const x = rand([5, 3], 4).transpose();
    expectClose(arr(rmsNorm(x, null)), rmsRef(arr(x.contiguous()), 5, null, 1e-5), 1e-6);
  });

  it('gradients for x and weight', () => {
    expect(gradcheck((x, w) => rmsNorm(x, w), [leaf([3, 4], 1), leaf([4], 2, 1)])).toBeLessThan(
      1e-6,
    );
    expect(gradcheck((x) => rmsNorm(x, null, 0.01), [leaf([2, 3, 5], 3)])).toBeLessThan(1e-6);
    expect(gradcheck((x) => rmsNorm(x.transpose(), null), [leaf([4, 3], 5)])).toBeLessThan(1e-6);
  });

  it('names the weight shape and dtype it expects', () => {
    const x = rand([2, 4], 1);
    expectTensorError(() => rmsNorm(x, rand([3], 2)), 'rmsNorm', 'float32', '[4]', '[3]');
    expectTensorError(() => rmsNorm(x, rand([4], 2, 'float64')), 'rmsNorm', 'float64');
    expectTensorError(() => rmsNorm(x, null, -1), 'rmsNorm', 'eps', '-1');
    expectTensorError(() => rmsNorm(tensor([1], { dtype: 'int32' }), null), 'rmsNorm', 'int32');
    expectTensorError(() => rmsNorm(tensor(1), null), 'rmsNorm', 'axis');
  });
});

describe('causalConv1d', () => {
  /** y[b,c,t] = bias[c] + sum_k w[c,k] x[b,c,t-K+1+k] (zero before the start). */
  function convRef(
    xv: number[],
    [B, C, L]: number[],
    wv: number[],
    K: number,
    bv: number[] | null,
  ): number[] {
    return indices([B, C, L]).map(([b, c, t]) => {
      let s = bv ? bv[c] : 0;
      for (let k = 0; k < K; k++) {
        const src = t - K + 1 + k;
        if (src >= 0) s += wv[c * K + k] * xv[(b * C + c) * L + src];
      }
      return s;
    });
  }

  for (const [K, L] of [
    [4, 6],
    [1, 5],
    [4, 2],
    [3, 3],
  ]) {
    it(`width ${K}, length ${L}: forward against the formula, with and without bias`, () => {
      const x = rand([2, 3, L], 1);
      const w = rand([3, K], 2);
      const b = rand([3], 3);
      const y = causalConv1d(x, w, b);
      expect(y.shape).toEqual([2, 3, L]);
      expectClose(arr(y), convRef(arr(x), [2, 3, L], arr(w), K, arr(b)), 1e-6);
      expectClose(arr(causalConv1d(x, w)), convRef(arr(x), [2, 3, L], arr(w), K, null), 1e-6);
    });
  }

  it('accepts the (channels, 1, width) weight layout of PyTorch', () => {
    const x = rand([1, 2, 5], 4);
    const w = rand([2, 4], 5);
    expect(arr(causalConv1d(x, w.reshape(2, 1, 4)))).toEqual(arr(causalConv1d(x, w)));
    const w3 = leaf([2, 1, 4], 6);
    causalConv1d(leaf([1, 2, 5], 7), w3)
      .sum()
      .backward();
    expect(w3.grad?.shape).toEqual([2, 1, 4]);
  });

  it('reads a non-contiguous input', () => {
    const xt = rand([2, 5, 3], 8).transpose(); // [2, 3, 5]
    const w = rand([3, 2], 9);
    expectClose(
      arr(causalConv1d(xt, w)),
      convRef(arr(xt.contiguous()), [2, 3, 5], arr(w), 2, null),
      1e-6,
    );
  });

  for (const [K, L] of [
    [4, 6],
    [1, 3],
    [4, 2],
  ]) {
    it(`gradients for x, weight and bias (width ${K}, length ${L})`, () => {
      expect(
        gradcheck(
          (x, w, b) => causalConv1d(x, w, b),
          [leaf([2, 3, L], 1), leaf([3, K], 2), leaf([3], 3)],
        ),
      ).toBeLessThan(1e-6);
      expect(
        gradcheck((x, w) => causalConv1d(x, w), [leaf([1, 2, L], 4), leaf([2, 1, K], 5)]),
      ).toBeLessThan(1e-6);
    });
  }

  it('names the shapes it expects', () => {
    const x = rand([2, 3, 5], 1);
    expectTensorError(
      () => causalConv1d(rand([3, 5], 1), rand([3, 4], 2)),
      'causalConv1d',
      '[3, 5]',
      'batch, channels, len',
    );
    expectTensorError(
      () => causalConv1d(x, rand([2, 4], 2)),
      'causalConv1d',
      'channels=3',
      '[2, 4]',
    );
    expectTensorError(() => causalConv1d(x, rand([3, 2, 4], 2)), 'causalConv1d', '[3, 2, 4]');
    expectTensorError(
      () => causalConv1d(x, rand([3, 4], 2), rand([4], 3)),
      'causalConv1d',
      'bias',
      '[3]',
      '[4]',
    );
    expectTensorError(() => causalConv1d(x, rand([3, 4], 2, 'float64')), 'causalConv1d', 'float64');
    expectTensorError(() => causalConv1d(x, rand([3, 0], 2)), 'causalConv1d', 'width');
    expectTensorError(
      () => causalConv1d(tensor([[[1]]], { dtype: 'int32' }), rand([1, 1], 2)),
      'causalConv1d',
      'int32',
    );
  });
});

describe('indexSelect and embedding', () => {
  const x = tensor(
    Array.from({ length: 24 }, (_, i) => i),
    { shape: [2, 3, 4] },
  );
  const xv = arr(x);

  for (const axis of [0, 1, 2, -1]) {
    it(`picks along axis ${axis} with an index of any shape`, () => {
      const a = axis < 0 ? axis + 3 : axis;
      const n = [2, 3, 4][a];
      const idx = [
        [n - 1, 0],
        [0, n - 1],
        [1, 1],
      ];
      const y = indexSelect(x, axis, tensor(idx, { dtype: 'int32' }));
      const outShape = [...[2, 3, 4].slice(0, a), 3, 2, ...[2, 3, 4].slice(a + 1)];
      expect(y.shape).toEqual(outShape);
      const want = indices(outShape).map((o) => {
        const src = [...o.slice(0, a), idx[o[a]][o[a + 1]], ...o.slice(a + 2)];
        return xv[flatIndex(src, [2, 3, 4])];
      });
      expect(arr(y)).toEqual(want);
    });
  }

  it('reads strided inputs and strided indices', () => {
    const xt = x.transpose(0, 2); // [4, 3, 2]
    const idx = tensor(
      [
        [0, 3],
        [2, 1],
      ],
      { dtype: 'int32' },
    ).transpose(); // [[0, 2], [3, 1]]
    const y = indexSelect(xt, 0, idx.reshape(-1));
    expect(arr(y)).toEqual(
      arr(indexSelect(xt.contiguous(), 0, tensor([0, 2, 3, 1], { dtype: 'int32' }))),
    );
    expect(arr(y.select(0, 2))).toEqual(arr(xt.select(0, 3)));
  });

  it('accumulates the gradient of repeated indices (scatter-add)', () => {
    const w = tensor(spread(8), { shape: [4, 2], dtype: 'float64', requiresGrad: true });
    const ids = tensor([1, 3, 1, 1], { dtype: 'int32' });
    indexSelect(w, 0, ids)
      .mul(tensor([[1], [2], [3], [4]], { dtype: 'float64' }))
      .sum()
      .backward();
    expect(gradOf(w)).toEqual([0, 0, 8, 8, 0, 0, 2, 2]);
    expect(
      gradcheck((t) => indexSelect(t, 1, tensor([2, 0, 2], { dtype: 'int32' })), [leaf([3, 4, 2])]),
    ).toBeLessThan(1e-6);
  });

  it('embedding looks up rows of a (vocab, dim) table', () => {
    const table = tensor(
      [
        [0, 0.5],
        [1, 1.5],
        [2, 2.5],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    const ids = tensor([[2, 0, 2]], { dtype: 'int32' });
    const y = embedding(table, ids);
    expect(y.shape).toEqual([1, 3, 2]);
    expect(arr(y)).toEqual([2, 2.5, 0, 0.5, 2, 2.5]);
    y.sum().backward();
    expect(gradOf(table)).toEqual([1, 1, 0, 0, 2, 2]);
    expectTensorError(() => embedding(rand([3], 1), ids), 'embedding', '(vocab, dim)', '[3]');
  });

  it('names the index value, its position and the axis size when out of range', () => {
    expectTensorError(
      () => indexSelect(x, 1, tensor([0, 2, 3], { dtype: 'int32' })),
      'indexSelect',
      'index 3',
      'position 2',
      'size 3',
    );
    expectTensorError(
      () => indexSelect(x, 0, tensor([-1], { dtype: 'int32' })),
      'indexSelect',
      'index -1',
      'position 0',
      'size 2',
    );
  });

  it('requires int32 indices', () => {
    expectTensorError(() => indexSelect(x, 0, tensor([0, 1])), 'indexSelect', 'int32', 'float32');
    expectTensorError(
      () => embedding(rand([3, 2], 1), tensor([0], { dtype: 'float64' })),
      'indexSelect',
      'int32',
    );
  });
});

describe('dropout', () => {
  const x = ones([200, 100]);

  it('is the identity for p = 0 and in evaluation', () => {
    expect(dropout(x, 0)).toBe(x);
    expect(dropout(x, 0.7, { training: false })).toBe(x);
    expect(arr(dropout(tensor([1, -2]), 1))).toEqual([0, -0]);
  });

  it('repeats with a seeded generator and differs with another seed', () => {
    const a = arr(dropout(x, 0.5, { generator: new Generator(42) }));
    const b = arr(dropout(x, 0.5, { generator: new Generator(42) }));
    const c = arr(dropout(x, 0.5, { generator: new Generator(43) }));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const g = new Generator(42);
    const first = arr(dropout(x, 0.5, { generator: g }));
    const second = arr(dropout(x, 0.5, { generator: g }));
    expect(first).toEqual(a);
    expect(second).not.toEqual(first);
  });

  for (const p of [0.1, 0.3, 0.8]) {
    it(`zeroes about a fraction ${p} and scales the rest by 1 / (1 - p)`, () => {
      const y = arr(dropout(x, p, { generator: new Generator(7) }));
      const zeros = y.filter((v) => v === 0).length / y.length;
      // 20000 draws: the standard deviation of the fraction is below 0.0036; allow 6 of them.
      expect(Math.abs(zeros - p)).toBeLessThan(0.022);
      const scale = Math.fround(1 / (1 - p));
      expect(y.every((v) => v === 0 || v === scale)).toBe(true);
    });
  }

  it('has the mask (times the scale) as its gradient', () => {
    const t = tensor(spread(1000), { dtype: 'float64', requiresGrad: true });
    const y = dropout(t, 0.4, { generator: new Generator(3) });
    y.sum().backward();
    const tv = arr(t);
    const yv = arr(y);
    const g = gradOf(t);
    g.forEach((gi, i) => {
      expect(gi === 0 || gi === 1 / 0.6).toBe(true);
      expect(yv[i]).toBeCloseTo(tv[i] * gi, 14);
    });
    expect(g.some((v) => v === 0)).toBe(true);
  });

  it('rejects p outside [0, 1] and integer input', () => {
    expectTensorError(() => dropout(x, 1.5), 'dropout', 'p', '1.5');
    expectTensorError(() => dropout(x, Number.NaN), 'dropout', 'NaN');
    expectTensorError(() => dropout(tensor([1], { dtype: 'int32' }), 0.5), 'dropout', 'int32');
  });
});
