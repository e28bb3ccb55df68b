import { describe, expect, it } from 'vitest';
import {
  Conv1d,
  Embedding,
  Generator,
  Linear,
  RMSNorm,
  randn,
  type Tensor,
  TensorError,
} from '../../src/index.js';
import type { LayerInit } from '../../src/nn/layers.js';
import { relErr, values } from '../helpers.js';

const allZero = (t: Tensor) => values(t).every((v) => v === 0);

describe("init: 'zeros'", () => {
  it('zero-fills every parameter of Linear, Conv1d, Embedding and RMSNorm', () => {
    const layers = [
      new Linear(6, 4, { init: 'zeros' }),
      new Linear(6, 4, { init: 'zeros', bias: false }),
      new Conv1d(5, 4, { init: 'zeros' }),
      new Embedding(7, 3, { init: 'zeros' }),
      new RMSNorm(5, { init: 'zeros' }),
    ];
    for (const layer of layers) {
      const params = layer.parameters();
      expect(params.length).toBeGreaterThan(0);
      for (const p of params) {
        expect(allZero(p)).toBe(true);
        expect(p.requiresGrad).toBe(true);
      }
    }
  });

  it('keeps shapes and dtypes of the default initialisation', () => {
    const a = new Linear(6, 4, { init: 'zeros', dtype: 'float64' });
    const b = new Linear(6, 4, { dtype: 'float64' });
    expect(a.weight.shape).toEqual(b.weight.shape);
    expect(a.weight.dtype).toBe('float64');
    expect(a.bias?.shape).toEqual(b.bias?.shape);
    const c = new Conv1d(5, 4, { init: 'zeros' });
    expect(c.weight.shape).toEqual([5, 1, 4]);
    const e = new Embedding(7, 3, { init: 'zeros', dtype: 'float64' });
    expect(e.weight.shape).toEqual([7, 3]);
    expect(e.weight.dtype).toBe('float64');
  });

  it('draws nothing: the generator stream does not advance', () => {
    const g = new Generator(11);
    new Linear(8, 8, { init: 'zeros', generator: g });
    new Conv1d(8, 4, { init: 'zeros', generator: g });
    new Embedding(9, 8, { init: 'zeros', generator: g });
    expect(g.getState()).toEqual({ seed: 11, offset: 0 });
    const after = values(randn([4], { generator: g }));
    expect(after).toEqual(values(randn([4], { generator: new Generator(11) })));
  });

  it("leaves 'default' (and no option) as the random initialisation", () => {
    const a = new Linear(5, 3, { generator: new Generator(8) });
    const b = new Linear(5, 3, { generator: new Generator(8), init: 'default' });
    expect(values(a.weight)).toEqual(values(b.weight));
    expect(allZero(a.weight)).toBe(false);
    const e = new Embedding(4, 3, { generator: new Generator(8), init: 'default' });
    expect(allZero(e.weight)).toBe(false);
    expect(values(new RMSNorm(3, { init: 'default' }).weight)).toEqual([1, 1, 1]);
  });

  it('loads weights over the zeros and computes with them', () => {
    const lin = new Linear(2, 2, { init: 'zeros', dtype: 'float64' });
    const weight = randn([2, 2], { generator: new Generator(3), dtype: 'float64' });
    const bias = randn([2], { generator: new Generator(4), dtype: 'float64' });
    lin.loadStateDict({ weight, bias });
    expect(values(lin.weight)).toEqual(values(weight));
    expect(values(lin.bias as Tensor)).toEqual(values(bias));
  });

  it('rejects an unknown init, naming the layer', () => {
    const bad = 'empty' as unknown as LayerInit;
    expect(() => new Linear(2, 2, { init: bad })).toThrow(TensorError);
    expect(() => new Linear(2, 2, { init: bad })).toThrow(
      /Linear.*init must be 'default' or 'zeros', got empty/,
    );
    expect(() => new Conv1d(2, 2, { init: bad })).toThrow(/Conv1d/);
    expect(() => new Embedding(2, 2, { init: bad })).toThrow(/Embedding/);
    expect(() => new RMSNorm(2, { init: bad })).toThrow(/RMSNorm/);
  });
});

describe('Embedding std', () => {
  it('draws N(0, std^2): the N(0, 1) draw of the same stream, scaled', () => {
    const scaled = new Embedding(50, 8, { std: 0.02, generator: new Generator(7) });
    const unit = new Embedding(50, 8, { generator: new Generator(7) });
    const want = values(unit.weight).map((v) => v * 0.02);
    const got = values(scaled.weight);
    expect(relErr(got, want)).toBeLessThan(1e-6);
    expect(got.some((v) => v !== 0)).toBe(true);
  });

  it('refuses a negative or non-finite std', () => {
    expect(() => new Embedding(4, 2, { std: -1 })).toThrow(/std must be a finite number >= 0/);
    expect(() => new Embedding(4, 2, { std: Number.NaN })).toThrow(TensorError);
  });
});
