import { describe, expect, it } from 'vitest';
import { SGD, type SgdOptions, tensor } from '../../src/index.js';
import { relErr, values } from '../helpers.js';

/** torch.optim.SGD for one parameter (torch/optim/sgd.py, _single_tensor_sgd), in float64. */
class RefSGD {
  buf: number[] | null = null;

  constructor(
    public p: number[],
    readonly h: SgdOptions,
  ) {}

  update(g: number[]): void {
    const { lr, momentum, dampening, nesterov, weightDecay } = this.h;
    let d = g.map((gi, i) => gi + weightDecay * this.p[i]);
    if (momentum !== 0) {
      const prev = this.buf;
      const buf =
        prev === null ? [...d] : prev.map((b, i) => momentum * b + (1 - dampening) * d[i]);
      this.buf = buf;
      d = nesterov ? d.map((di, i) => di + momentum * buf[i]) : buf;
    }
    this.p = this.p.map((x, i) => x - lr * d[i]);
  }
}

const W = [1, 0.5, 3];
const T = [0.5, -1, 2];
const grad = (p: number[]) => p.map((x, i) => 2 * W[i] * (x - T[i]));
const INIT = [1, 2, -3];
const DEFAULTS: SgdOptions = {
  lr: 1e-2,
  momentum: 0,
  dampening: 0,
  nesterov: false,
  weightDecay: 0,
};

function run(options: Partial<SgdOptions>, steps = 3): { got: number[]; expected: number[] } {
  const p = tensor(INIT, { dtype: 'float64', requiresGrad: true });
  const opt = new SGD([p], options);
  const ref = new RefSGD([...INIT], { ...DEFAULTS, ...options });
  const w = tensor(W, { dtype: 'float64' });
  const t = tensor(T, { dtype: 'float64' });
  for (let s = 0; s < steps; s++) {
    opt.zeroGrad();
    p.sub(t).square().mul(w).sum().backward();
    opt.step();
    ref.update(grad(ref.p));
  }
  return { got: values(p), expected: ref.p };
}

describe('SGD', () => {
  it.each<[string, Partial<SgdOptions>]>([
    ['plain', { lr: 0.1 }],
    ['momentum', { lr: 0.1, momentum: 0.9 }],
    ['momentum with dampening', { lr: 0.1, momentum: 0.9, dampening: 0.3 }],
    ['nesterov', { lr: 0.05, momentum: 0.8, nesterov: true }],
    ['weight decay', { lr: 0.1, weightDecay: 0.2 }],
    ['everything but nesterov', { lr: 0.07, momentum: 0.5, dampening: 0.5, weightDecay: 0.1 }],
    ['nesterov with weight decay', { lr: 0.07, momentum: 0.6, nesterov: true, weightDecay: 0.3 }],
  ])('matches torch.optim.SGD over 3 steps: %s', (_, options) => {
    const { got, expected } = run(options);
    expect(relErr(got, expected)).toBeLessThan(1e-14);
    expect(relErr(got, INIT)).toBeGreaterThan(0.01);
  });

  it('initialises the momentum buffer to the first gradient, without dampening', () => {
    // One step with dampening: torch copies d into the buffer, so the step is lr * d.
    const { got } = run({ lr: 0.1, momentum: 0.9, dampening: 0.5 }, 1);
    const g = grad(INIT);
    expect(
      relErr(
        got,
        INIT.map((x, i) => x - 0.1 * g[i]),
      ),
    ).toBeLessThan(1e-15);
  });

  it('uses the defaults of torch.optim.SGD (plus lr 0.01)', () => {
    const p = tensor([1], { requiresGrad: true });
    expect(new SGD([p]).groups[0].hyper).toEqual(DEFAULTS);
  });

  it('applies per-group options and skips parameters without a gradient', () => {
    const a = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const b = tensor([3, 4], { dtype: 'float64', requiresGrad: true });
    const c = tensor([5], { dtype: 'float64', requiresGrad: true });
    const opt = new SGD(
      [{ params: [a, c] }, { params: [b], options: { lr: 1, weightDecay: 0.5 } }],
      { lr: 0.1 },
    );
    a.grad = tensor([1, -1], { dtype: 'float64' });
    b.grad = tensor([2, 2], { dtype: 'float64' });
    opt.step();
    expect(values(a)).toEqual([1 - 0.1, 2 + 0.1]);
    expect(values(b)).toEqual([3 - (2 + 1.5), 4 - (2 + 2)]);
    expect(values(c)).toEqual([5]);
  });

  it('rejects bad options naming the group', () => {
    const p = tensor([1], { requiresGrad: true });
    expect(() => new SGD([p], { lr: -0.1 })).toThrow(/group 0: lr must be >= 0, got -0.1/);
    expect(() => new SGD([p], { momentum: -1 })).toThrow(/momentum must be >= 0/);
    expect(() => new SGD([p], { weightDecay: -1 })).toThrow(/weightDecay must be >= 0/);
    expect(() => new SGD([p], { nesterov: true })).toThrow(
      /Nesterov momentum needs momentum > 0 and dampening 0/,
    );
    expect(() => new SGD([p], { nesterov: true, momentum: 0.9, dampening: 0.1 })).toThrow(
      /Nesterov/,
    );
  });
});
