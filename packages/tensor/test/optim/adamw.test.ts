import { describe, expect, it } from 'vitest';
import { AdamW, type Tensor, tensor } from '../../src/index.js';
import { relErr, values } from '../helpers.js';

interface Hyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

const TORCH_DEFAULTS: Hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

/**
 * torch.optim.AdamW (amsgrad off) for one parameter, written out in float64 as
 * torch/optim/adamw.py's _single_tensor_adamw does it, with the parameter's own step count.
 */
class RefAdamW {
  m: number[];
  v: number[];
  step = 0;

  constructor(
    public p: number[],
    readonly h: Hyper,
  ) {
    this.m = p.map(() => 0);
    this.v = p.map(() => 0);
  }

  update(g: number[]): void {
    const { lr, beta1, beta2, eps, weightDecay } = this.h;
    this.step += 1;
    this.p = this.p.map((x) => x * (1 - lr * weightDecay));
    this.m = this.m.map((m, i) => m + (g[i] - m) * (1 - beta1));
    this.v = this.v.map((v, i) => v * beta2 + (1 - beta2) * g[i] * g[i]);
    const bc1 = 1 - beta1 ** this.step;
    const bc2 = 1 - beta2 ** this.step;
    const stepSize = lr / bc1;
    this.p = this.p.map(
      (x, i) => x - (stepSize * this.m[i]) / (Math.sqrt(this.v[i]) / Math.sqrt(bc2) + eps),
    );
  }
}

/** Gradient of sum(w (p - target)^2), given the current values. */
const gradOf = (p: number[], w: number[], target: number[]) =>
  p.map((x, i) => 2 * w[i] * (x - target[i]));

function param(v: number[], dtype: 'float32' | 'float64' = 'float64'): Tensor {
  return tensor(v, { dtype, requiresGrad: true });
}

/** Runs backward on sum(w (p - target)^2) for the given parameters. */
function backward(ps: Tensor[], ws: number[][], targets: number[][]): void {
  let loss: Tensor | null = null;
  ps.forEach((p, i) => {
    const term = p
      .sub(tensor(targets[i], { dtype: p.dtype }))
      .square()
      .mul(tensor(ws[i], { dtype: p.dtype }))
      .sum();
    loss = loss ? loss.add(term) : term;
  });
  (loss as unknown as Tensor).backward();
}

describe('AdamW', () => {
  it('matches torch.optim.AdamW over 3 steps (bias corrections, decoupled weight decay)', () => {
    const h: Hyper = { lr: 0.1, beta1: 0.8, beta2: 0.95, eps: 1e-3, weightDecay: 0.2 };
    const init = [1.5, -0.5, 0.25, 3];
    const w = [1, 0.5, 2, 0.1];
    const target = [0, 1, -1, 2];
    const p = param(init);
    const opt = new AdamW([p], h);
    const ref = new RefAdamW([...init], h);
    for (let s = 0; s < 3; s++) {
      opt.zeroGrad();
      backward([p], [w], [target]);
      opt.step();
      ref.update(gradOf(ref.p, w, target));
      expect(relErr(values(p), ref.p), `step ${s + 1}`).toBeLessThan(1e-14);
    }
    expect(opt.stepCount).toBe(3);
    // The values moved by more than the tolerance: the comparison means something.
    expect(relErr(values(p), init)).toBeGreaterThan(0.05);
  });

  it('uses the defaults of torch.optim.AdamW', () => {
    const init = [0.3, -0.7];
    const p = param(init);
    const opt = new AdamW([p]);
    expect(opt.groups[0].hyper).toEqual(TORCH_DEFAULTS);
    const ref = new RefAdamW([...init], TORCH_DEFAULTS);
    for (let s = 0; s < 3; s++) {
      opt.zeroGrad();
      backward([p], [[1, 1]], [[0, 0]]);
      opt.step();
      ref.update(gradOf(ref.p, [1, 1], [0, 0]));
    }
    expect(relErr(values(p), ref.p)).toBeLessThan(1e-14);
  });

  it('updates float32 parameters to float32 precision', () => {
    const h: Hyper = { lr: 0.05, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 };
    const init = [0.5, -1.25, 2];
    const p = param(init, 'float32');
    const opt = new AdamW([p], h);
    const ref = new RefAdamW([...init], h);
    for (let s = 0; s < 3; s++) {
      opt.zeroGrad();
      backward([p], [[1, 2, 3]], [[0, 0, 0]]);
      opt.step();
      ref.update(gradOf(ref.p, [1, 2, 3], [0, 0, 0]));
    }
    expect(p.dtype).toBe('float32');
    expect(relErr(values(p), ref.p)).toBeLessThan(1e-6);
  });

  it('applies each param group its own lr and weight decay', () => {
    const base: Hyper = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5 };
    const a = param([1, 2]);
    const b = param([-1, 0.5, 4]);
    const opt = new AdamW(
      [{ params: [a] }, { params: [b], options: { lr: 0.2, weightDecay: 0 } }],
      { lr: base.lr, weightDecay: base.weightDecay },
    );
    expect(opt.groups[1].hyper).toEqual({ ...base, lr: 0.2, weightDecay: 0 });
    expect(opt.groups[1].initialLr).toBe(0.2);
    const refA = new RefAdamW([1, 2], base);
    const refB = new RefAdamW([-1, 0.5, 4], { ...base, lr: 0.2, weightDecay: 0 });
    const ws = [
      [1, 3],
      [2, 1, 0.5],
    ];
    const ts = [
      [0, 0],
      [1, 1, 1],
    ];
    for (let s = 0; s < 3; s++) {
      opt.zeroGrad();
      backward([a, b], ws, ts);
      opt.step();
      refA.update(gradOf(refA.p, ws[0], ts[0]));
      refB.update(gradOf(refB.p, ws[1], ts[1]));
    }
    expect(relErr(values(a), refA.p)).toBeLessThan(1e-14);
    expect(relErr(values(b), refB.p)).toBeLessThan(1e-14);
  });

  it('skips parameters without a gradient, counting steps per parameter as torch does', () => {
    const h: Hyper = { lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 };
    const always = param([1, -1]);
    const never = param([5, 6]);
    const late = param([2, 3]);
    const opt = new AdamW([always, never, late], h);
    const refAlways = new RefAdamW([1, -1], h);
    const refLate = new RefAdamW([2, 3], h);
    const w = [1, 1];
    const t = [0, 0];
    for (let s = 1; s <= 3; s++) {
      opt.zeroGrad();
      // `late` joins the loss from step 2: its first update must use step 1's bias corrections.
      backward(s === 1 ? [always] : [always, late], [w, w], [t, t]);
      expect(never.grad).toBeNull();
      opt.step();
      refAlways.update(gradOf(refAlways.p, w, t));
      if (s > 1) refLate.update(gradOf(refLate.p, w, t));
    }
    // Weight decay is not applied to a parameter without a gradient either.
    expect(values(never)).toEqual([5, 6]);
    expect(relErr(values(always), refAlways.p)).toBeLessThan(1e-14);
    expect(relErr(values(late), refLate.p)).toBeLessThan(1e-14);
    const state = opt.stateDict();
    expect([...state.slots.keys()]).toEqual([0, 2]);
    expect(state.paramSteps).toEqual(
      new Map([
        [0, 3],
        [2, 2],
      ]),
    );
  });

  it('rejects bad hyperparameters naming the group', () => {
    const p = param([1]);
    expect(() => new AdamW([p], { lr: -1 })).toThrow(/group 0: lr must be >= 0, got -1/);
    expect(() => new AdamW([p], { beta1: 1 })).toThrow(/beta1 must be in \[0, 1\), got 1/);
    expect(() => new AdamW([p], { beta2: -0.1 })).toThrow(/beta2/);
    expect(() => new AdamW([p], { eps: Number.NaN })).toThrow(/eps must be >= 0, got NaN/);
    expect(
      () => new AdamW([{ params: [p] }, { params: [param([2])], options: { weightDecay: -1 } }]),
    ).toThrow(/group 1: weightDecay must be >= 0, got -1/);
  });

  it('rejects a parameter in two groups, non-leaf and non-contiguous tensors', () => {
    const p = param([1, 2]);
    p.name = 'w';
    expect(() => new AdamW([{ params: [p] }, { params: [p] }])).toThrow(
      /a parameter \(w\) appears in more than one group/,
    );
    expect(() => new AdamW([p.mul(2)])).toThrow(/group 0 holds a non-leaf tensor/);
    const t = tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { requiresGrad: true },
    )
      .detach()
      .transpose();
    expect(() => new AdamW([t])).toThrow(/group 0 holds a non-contiguous tensor/);
  });

  it('checks every gradient before changing anything', () => {
    const a = param([1, 2]);
    const b = param([3, 4]);
    b.name = 'b';
    const opt = new AdamW([a, b]);
    a.grad = tensor([1, 1], { dtype: 'float64' });
    b.grad = tensor([1, 2, 3], { dtype: 'float64' });
    expect(() => opt.step()).toThrow(/gradient of \[3\] for a parameter \(b\) of \[2\]/);
    expect(values(a)).toEqual([1, 2]);
    expect(opt.stepCount).toBe(0);
    expect(opt.stateDict().slots.size).toBe(0);
  });
});
