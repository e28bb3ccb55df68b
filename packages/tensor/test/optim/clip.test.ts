import { describe, expect, it } from 'vitest';
import { clipGradNorm, type Tensor, tensor } from '../../src/index.js';
import { values } from '../helpers.js';

function withGrad(
  v: number[],
  g: number[] | null,
  dtype: 'float32' | 'float64' = 'float64',
): Tensor {
  const p = tensor(v, { dtype, requiresGrad: true });
  if (g) p.grad = tensor(g, { dtype });
  return p;
}

describe('clipGradNorm', () => {
  const g1 = [3, -4, 1];
  const g2 = [
    [2, 0],
    [-1, 5],
  ];
  // Global L2 norm over every gradient: sqrt(9 + 16 + 1 + 4 + 0 + 1 + 25) = sqrt(56).
  const norm = Math.sqrt(56);

  it('returns the global norm before clipping and scales every gradient in place', () => {
    const a = withGrad([0, 0, 0], g1);
    const b = tensor(
      [
        [0, 0],
        [0, 0],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    b.grad = tensor(g2, { dtype: 'float64' });
    const none = withGrad([1], null);
    const gradA = a.grad;
    const total = clipGradNorm([a, b, none], 2);
    expect(total.size).toBe(1);
    expect(total.dtype).toBe('float64');
    expect(total.item()).toBeCloseTo(norm, 13);
    // torch.nn.utils.clip_grad_norm_: coefficient maxNorm / (norm + 1e-6).
    const coef = 2 / (norm + 1e-6);
    expect(a.grad).toBe(gradA);
    values(a.grad as Tensor).forEach((v, i) => {
      expect(v).toBeCloseTo(g1[i] * coef, 13);
    });
    values(b.grad as Tensor).forEach((v, i) => {
      expect(v).toBeCloseTo(g2.flat()[i] * coef, 13);
    });
    expect(none.grad).toBeNull();
    // The clipped gradients have the requested norm.
    const after = Math.hypot(...values(a.grad as Tensor), ...values(b.grad as Tensor));
    expect(after).toBeCloseTo(2, 5);
  });

  it('leaves gradients unchanged when the norm is under the maximum', () => {
    const a = withGrad([0, 0, 0], g1, 'float32');
    const total = clipGradNorm([a], 100);
    expect(total.dtype).toBe('float32');
    expect(total.item()).toBeCloseTo(Math.sqrt(26), 5);
    expect(values(a.grad as Tensor)).toEqual(g1);
  });

  it('rejects a non-positive maximum and parameters without gradients', () => {
    expect(() => clipGradNorm([withGrad([1], [1])], 0)).toThrow(/maxNorm must be positive, got 0/);
    expect(() => clipGradNorm([withGrad([1], null)], 1)).toThrow(/no parameter has a gradient/);
  });
});
