import { describe, expect, it } from 'vitest';
import {
  Conv1d,
  Dropout,
  Embedding,
  Generator,
  Linear,
  RMSNorm,
  rand,
  type Tensor,
  tensor,
} from '../../src/index.js';
import { gradcheck, leaf, relErr, setValue, values } from '../helpers.js';

const f64 = { dtype: 'float64' as const };

function stats(xs: number[]): { mean: number; std: number; min: number; max: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  return { mean, std, min: Math.min(...xs), max: Math.max(...xs) };
}

describe('Linear', () => {
  it('computes x W^T + b', () => {
    const lin = new Linear(3, 2, f64);
    setValue(
      lin.weight,
      tensor(
        [
          [1, 2, 3],
          [-1, 0.5, 4],
        ],
        f64,
      ),
    );
    setValue(lin.bias as Tensor, tensor([0.25, -2], f64));
    const x = tensor(
      [
        [1, 1, 1],
        [2, -1, 0.5],
      ],
      f64,
    );
    // Row 0: [1+2+3+0.25, -1+0.5+4-2]; row 1: [2-2+1.5+0.25, -2-0.5+2-2].
    expect(values(lin.forward(x))).toEqual([6.25, 1.5, 1.75, -2.5]);
    // Leading axes are kept.
    expect(lin.forward(tensor([[[1, 1, 1]], [[2, -1, 0.5]]], f64)).shape).toEqual([2, 1, 2]);
  });

  it('has no bias with bias: false', () => {
    const lin = new Linear(2, 2, { bias: false, dtype: 'float64' });
    expect(lin.bias).toBeNull();
    expect(lin.namedParameters().map(([n]) => n)).toEqual(['weight']);
    setValue(
      lin.weight,
      tensor(
        [
          [1, 2],
          [3, 4],
        ],
        f64,
      ),
    );
    expect(values(lin.forward(tensor([[1, -1]], f64)))).toEqual([-1, -1]);
  });

  it('initialises weight and bias uniformly within +-1/sqrt(in), as torch.nn.Linear', () => {
    const lin = new Linear(16, 64, { generator: new Generator(1) });
    const bound = 1 / Math.sqrt(16);
    expect(lin.weight.shape).toEqual([64, 16]);
    expect(lin.weight.dtype).toBe('float32');
    const w = stats(values(lin.weight));
    expect(w.min).toBeGreaterThanOrEqual(-bound);
    expect(w.max).toBeLessThanOrEqual(bound);
    // 1024 uniform values fill the interval: the extremes are near the bounds.
    expect(w.min).toBeLessThan(-0.97 * bound);
    expect(w.max).toBeGreaterThan(0.97 * bound);
    expect(Math.abs(w.std - bound / Math.sqrt(3))).toBeLessThan(0.1 * bound);
    const b = stats(values(lin.bias as Tensor));
    expect(b.min).toBeGreaterThanOrEqual(-bound);
    expect(b.max).toBeLessThanOrEqual(bound);
    expect(b.max - b.min).toBeGreaterThan(bound);
  });

  it('draws its initial values from the given generator', () => {
    const a = new Linear(5, 3, { generator: new Generator(8) });
    const b = new Linear(5, 3, { generator: new Generator(8) });
    const c = new Linear(5, 3, { generator: new Generator(9) });
    expect(values(a.weight)).toEqual(values(b.weight));
    expect(values(a.bias as Tensor)).toEqual(values(b.bias as Tensor));
    expect(values(a.weight)).not.toEqual(values(c.weight));
  });

  it('rejects sizes that are not positive integers', () => {
    expect(() => new Linear(0, 3)).toThrow(/inFeatures must be a positive integer, got 0/);
    expect(() => new Linear(3, 2.5)).toThrow(/outFeatures must be a positive integer, got 2.5/);
  });

  it('sends x^T dY to the weight and the column sums of dY to the bias', () => {
    const lin = new Linear(3, 2, f64);
    const x = tensor(
      [
        [1, 2, 3],
        [-1, 0.5, 2],
      ],
      f64,
    );
    const r = tensor(
      [
        [1, -2],
        [0.5, 3],
      ],
      f64,
    );
    lin.forward(x).mul(r).sum().backward();
    // dW[o][i] = sum_b r[b][o] x[b][i]; db[o] = sum_b r[b][o].
    expect(values(lin.weight.grad as Tensor)).toEqual([
      1 * 1 + 0.5 * -1,
      1 * 2 + 0.5 * 0.5,
      1 * 3 + 0.5 * 2,
      -2 * 1 + 3 * -1,
      -2 * 2 + 3 * 0.5,
      -2 * 3 + 3 * 2,
    ]);
    expect(values(lin.bias?.grad as Tensor)).toEqual([1.5, 1]);
  });
});

describe('Embedding', () => {
  it('picks rows of the table for ids of any shape', () => {
    const emb = new Embedding(4, 2, f64);
    setValue(
      emb.weight,
      tensor(
        [
          [0, 1],
          [10, 11],
          [20, 21],
          [30, 31],
        ],
        f64,
      ),
    );
    const out = emb.forward(
      tensor(
        [
          [3, 0, 3],
          [1, 2, 1],
        ],
        { dtype: 'int32' },
      ),
    );
    expect(out.shape).toEqual([2, 3, 2]);
    expect(values(out)).toEqual([30, 31, 0, 1, 30, 31, 10, 11, 20, 21, 10, 11]);
  });

  it('initialises N(0, 1) and accumulates gradients into the rows used', () => {
    const emb = new Embedding(100, 64, { generator: new Generator(2) });
    const w = stats(values(emb.weight));
    // 6400 samples: the mean's standard error is 0.0125.
    expect(Math.abs(w.mean)).toBeLessThan(0.06);
    expect(Math.abs(w.std - 1)).toBeLessThan(0.05);

    const small = new Embedding(3, 2, f64);
    small
      .forward(tensor([2, 0, 2], { dtype: 'int32' }))
      .mul(
        tensor(
          [
            [1, 2],
            [3, 4],
            [5, 6],
          ],
          f64,
        ),
      )
      .sum()
      .backward();
    expect(values(small.weight.grad as Tensor)).toEqual([3, 4, 0, 0, 6, 8]);
  });
});

describe('RMSNorm', () => {
  it('computes x / sqrt(mean(x^2) + eps) * weight over the last axis', () => {
    const norm = new RMSNorm(3, { eps: 1e-3, dtype: 'float64' });
    expect(values(norm.weight)).toEqual([1, 1, 1]);
    setValue(norm.weight, tensor([1, 2, -0.5], f64));
    const rows = [
      [1, 2, 3],
      [-4, 0, 0.5],
    ];
    const got = values(norm.forward(tensor(rows, f64)));
    const w = [1, 2, -0.5];
    const expected = rows.flatMap((r) => {
      const rms = Math.sqrt(r.reduce((a, v) => a + v * v, 0) / r.length + 1e-3);
      return r.map((v, i) => (v / rms) * w[i]);
    });
    expect(relErr(got, expected)).toBeLessThan(1e-12);
    expect(new RMSNorm(3).eps).toBe(1e-5);
  });

  it('has gradients that match finite differences', () => {
    const norm = new RMSNorm(4, { dtype: 'float64' });
    setValue(norm.weight, tensor([0.5, 1.5, -1, 2], f64));
    const x = leaf([3, 4], 3);
    expect(gradcheck(() => norm.forward(x), [x, norm.weight])).toBeLessThan(1e-6);
  });
});

describe('Conv1d', () => {
  it('is a depthwise causal convolution with weight (channels, 1, width)', () => {
    const conv = new Conv1d(2, 3, f64);
    expect(conv.weight.shape).toEqual([2, 1, 3]);
    const w = [
      [0.5, -1, 2],
      [1, 0.25, -3],
    ];
    const b = [0.1, -0.2];
    setValue(
      conv.weight,
      tensor(
        w.map((r) => [r]),
        f64,
      ),
    );
    setValue(conv.bias as Tensor, tensor(b, f64));
    const x = [
      [
        [1, 2, 3, 4],
        [-1, 0, 2, 5],
      ],
    ];
    const got = values(conv.forward(tensor(x, f64)));
    // y[c][t] = b[c] + sum_k w[c][k] x[c][t - 2 + k], zero before the start.
    const expected: number[] = [];
    for (let c = 0; c < 2; c++) {
      for (let t = 0; t < 4; t++) {
        let y = b[c];
        for (let k = 0; k < 3; k++) {
          const s = t - 2 + k;
          if (s >= 0) y += w[c][k] * x[0][c][s];
        }
        expected.push(y);
      }
    }
    expect(relErr(got, expected)).toBeLessThan(1e-14);
  });

  it('initialises within +-1/sqrt(width) and has gradients that match finite differences', () => {
    const big = new Conv1d(256, 4, { generator: new Generator(3) });
    const w = stats(values(big.weight));
    expect(w.min).toBeGreaterThanOrEqual(-0.5);
    expect(w.max).toBeLessThanOrEqual(0.5);
    expect(w.max - w.min).toBeGreaterThan(0.95);
    const b = stats(values(big.bias as Tensor));
    expect(b.min).toBeGreaterThanOrEqual(-0.5);
    expect(b.max).toBeLessThanOrEqual(0.5);

    const conv = new Conv1d(3, 4, { dtype: 'float64', generator: new Generator(4) });
    const x = leaf([2, 3, 5], 5);
    expect(gradcheck(() => conv.forward(x), [x, conv.weight, conv.bias as Tensor])).toBeLessThan(
      1e-6,
    );
    expect(new Conv1d(2, 2, { bias: false }).bias).toBeNull();
  });
});

describe('Dropout', () => {
  it('is the identity in eval mode and with p = 0', () => {
    const x = rand([50], { generator: new Generator(1) });
    const d = new Dropout(0.9);
    d.eval();
    expect(values(d.forward(x))).toEqual(values(x));
    expect(values(new Dropout(0).forward(x))).toEqual(values(x));
  });

  it('zeroes elements whose uniform draw is below p and scales the rest by 1/(1-p)', () => {
    const n = 4000;
    const p = 0.3;
    const x = rand([n], { generator: new Generator(5), low: 1, high: 2, dtype: 'float64' });
    const d = new Dropout(p, { generator: new Generator(6) });
    expect(d.training).toBe(true);
    const got = values(d.forward(x));
    const u = values(rand([n], { generator: new Generator(6), dtype: 'float64' }));
    const xs = values(x);
    got.forEach((v, i) => {
      expect(v).toBeCloseTo(u[i] < p ? 0 : xs[i] / (1 - p), 12);
    });
    const dropped = got.filter((v) => v === 0).length / n;
    expect(Math.abs(dropped - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
    expect(values(new Dropout(1).forward(x)).every((v) => v === 0)).toBe(true);
  });

  it('rejects p outside [0, 1]', () => {
    expect(() => new Dropout(1.5)).toThrow(/p must be in \[0, 1\], got 1.5/);
    expect(() => new Dropout(Number.NaN)).toThrow(/got NaN/);
  });
});
