import { describe, expect, it } from 'vitest';
import {
  arange,
  concat,
  noGrad,
  split,
  stack,
  type Tensor,
  tensor,
  zeros,
} from '../../src/index.js';
import { gradcheck, leaf } from '../helpers.js';
import { arr, expectClose, expectTensorError, flatIndex, gradOf, indices, spread } from './util.js';

/** 0, 1, 2, ... as float32 of `shape`: values name their row-major position. */
function iota(
  shape: number[],
  dtype: 'float32' | 'float64' = 'float32',
  requiresGrad = false,
): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  return tensor(
    Array.from({ length: n }, (_, i) => i),
    { shape, dtype, requiresGrad },
  );
}

/** Reference permute: out[i0, i1, ...] = x[idx with idx[axes[k]] = i_k]. */
function permuteRef(vals: number[], shape: number[], axes: number[]): number[] {
  const outShape = axes.map((a) => shape[a]);
  return indices(outShape).map((o) => {
    const src = new Array<number>(shape.length);
    axes.forEach((a, k) => {
      src[a] = o[k];
    });
    return vals[flatIndex(src, shape)];
  });
}

describe('reshape', () => {
  it('keeps the row-major order and infers one -1 axis', () => {
    const x = iota([2, 3, 4]);
    expect(x.reshape(4, 6).shape).toEqual([4, 6]);
    expect(arr(x.reshape(4, 6))).toEqual(arr(x));
    expect(x.reshape(-1, 4).shape).toEqual([6, 4]);
    expect(x.reshape([2, -1]).shape).toEqual([2, 12]);
    expect(x.reshape(-1).shape).toEqual([24]);
    expect(tensor(5).reshape(1, 1).shape).toEqual([1, 1]);
    expect(tensor([5]).reshape([]).shape).toEqual([]);
    expect(tensor([5]).reshape([]).item()).toBe(5);
  });

  it('shares memory with a contiguous input', () => {
    const x = zeros([2, 3]);
    const v = x.reshape(3, 2);
    x.assign(iota([2, 3]));
    expect(arr(v)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('copies a non-contiguous input in logical order', () => {
    const t = iota([2, 3]).transpose();
    expect(arr(t.reshape(6))).toEqual([0, 3, 1, 4, 2, 5]);
    expect(arr(t.reshape(2, 3))).toEqual([0, 3, 1, 4, 2, 5]);
  });

  it('names the shapes and element counts in its errors', () => {
    const x = iota([2, 3]);
    expectTensorError(
      () => x.reshape(4, 2),
      'reshape',
      '[2, 3]',
      '6 elements',
      '[4, 2]',
      '8 elements',
    );
    expectTensorError(() => x.reshape(-1, -1), 'reshape', 'one axis', '[-1, -1]');
    expectTensorError(() => x.reshape(4, -1), 'reshape', '[2, 3]', '[4, -1]');
    expectTensorError(() => x.reshape(-2, -3), 'reshape', '-2');
    expectTensorError(() => x.reshape(2.5, 2), 'reshape', '2.5');
  });

  it('passes gradients through, also from a transposed input', () => {
    const x = leaf([2, 3, 2]);
    expect(gradcheck((t) => t.reshape(3, 4).mul(t.reshape(3, 4)), [x])).toBeLessThan(1e-6);
    const y = leaf([3, 4], 2);
    expect(gradcheck((t) => t.transpose().reshape(-1).exp(), [y])).toBeLessThan(1e-6);
  });
});

describe('flatten', () => {
  it('merges the given axes', () => {
    const x = iota([2, 3, 4]);
    expect(x.flatten().shape).toEqual([24]);
    expect(x.flatten(1).shape).toEqual([2, 12]);
    expect(x.flatten(0, 1).shape).toEqual([6, 4]);
    expect(x.flatten(-2, -1).shape).toEqual([2, 12]);
    expect(x.flatten(1, 1).shape).toEqual([2, 3, 4]);
    expect(tensor(7).flatten().shape).toEqual([1]);
    expect(arr(x.transpose(0, 2).flatten(0, 1))).toEqual(permuteRef(arr(x), [2, 3, 4], [2, 1, 0]));
  });

  it('rejects a start after the end', () => {
    expectTensorError(() => iota([2, 3, 4]).flatten(2, 1), 'flatten', 'start axis 2', 'end axis 1');
    expectTensorError(() => iota([2, 3]).flatten(0, 5), 'flatten', 'axis 5', 'rank 2');
  });
});

describe('permute and transpose', () => {
  const shape = [2, 3, 4];
  const x = iota(shape);

  for (const axes of [
    [0, 1, 2],
    [2, 0, 1],
    [1, 2, 0],
    [2, 1, 0],
    [0, 2, 1],
  ]) {
    it(`permute(${axes}) reads values by the permuted index`, () => {
      const y = x.permute(axes);
      expect(y.shape).toEqual(axes.map((a) => shape[a]));
      expect(arr(y)).toEqual(permuteRef(arr(x), shape, axes));
    });
  }

  it('takes negative axes and an array argument', () => {
    expect(arr(x.permute([-1, 0, 1]))).toEqual(permuteRef(arr(x), shape, [2, 0, 1]));
  });

  it('transpose swaps the last two axes by default, or any two', () => {
    expect(x.transpose().shape).toEqual([2, 4, 3]);
    expect(arr(x.transpose())).toEqual(permuteRef(arr(x), shape, [0, 2, 1]));
    expect(arr(x.transpose(0, 2))).toEqual(permuteRef(arr(x), shape, [2, 1, 0]));
    expect(arr(x.transpose(-3, 1))).toEqual(permuteRef(arr(x), shape, [1, 0, 2]));
    const v = tensor([1, 2, 3]);
    expect(v.transpose().shape).toEqual([3]);
  });

  it('is a view (no copy) and not contiguous', () => {
    const y = x.transpose();
    expect(y.isContiguous).toBe(false);
    const z = zeros([2, 3]);
    const zt = z.transpose();
    z.assign(iota([2, 3]));
    expect(arr(zt)).toEqual([0, 3, 1, 4, 2, 5]);
  });

  it('rejects wrong axis lists', () => {
    expectTensorError(() => x.permute(0, 1), 'permute', '3 axes', '[2, 3, 4]', '[0,1]');
    expectTensorError(() => x.permute(0, 1, 1), 'permute', '[0,1,1]', 'not a permutation');
    expectTensorError(() => x.permute(0, 1, 3), 'permute', 'axis 3', 'rank 3');
    expectTensorError(() => x.transpose(0, 3), 'transpose', 'axis 3');
  });

  it('passes gradients back through the inverse permutation', () => {
    const a = leaf([2, 3, 4]);
    expect(gradcheck((t) => t.permute(2, 0, 1).mul(t.permute(2, 0, 1).tanh()), [a])).toBeLessThan(
      1e-6,
    );
    const b = leaf([3, 5], 3);
    const w = iota([5, 3], 'float64');
    b.transpose().mul(w).sum().backward();
    expect(gradOf(b)).toEqual(permuteRef(arr(w), [5, 3], [1, 0]));
  });
});

describe('expand', () => {
  it('broadcasts size-1 axes and adds leading axes without copying', () => {
    const x = tensor([[1], [2], [3]]); // [3, 1]
    const y = x.expand(2, 3, 4);
    expect(y.shape).toEqual([2, 3, 4]);
    expect(arr(y)).toEqual(indices([2, 3, 4]).map(([, i]) => i + 1));
    expect(x.expand(-1, 2).shape).toEqual([3, 2]);
    expect(y.isContiguous).toBe(false);
    // Expanding to its own shape gives a new tensor over the same memory: disposing it
    // leaves x alone.
    const same = x.expand(3, 1);
    expect(same).not.toBe(x);
    same.dispose();
    expect(arr(x)).toEqual([1, 2, 3]);
  });

  it('names the shapes when an axis cannot stretch', () => {
    const x = tensor([[1], [2], [3]]);
    expectTensorError(() => x.expand(4, 2), 'expand', '[3, 1]');
    expectTensorError(() => x.expand(3), 'expand', '[3, 1]', 'fewer axes', '[3]');
    expectTensorError(() => x.expand(-1, 3, 2), 'expand', '-1');
  });

  it('sums the gradient over the expanded axes', () => {
    const x = tensor([[1], [2]], { dtype: 'float64', requiresGrad: true });
    x.expand(3, 2, 4)
      .mul(iota([3, 2, 4], 'float64'))
      .sum()
      .backward();
    // d/dx[i] = sum over a, k of (a*8 + i*4 + k)
    const want = [0, 1].map((i) => {
      let s = 0;
      for (let a = 0; a < 3; a++) for (let k = 0; k < 4; k++) s += a * 8 + i * 4 + k;
      return s;
    });
    expect(gradOf(x)).toEqual(want);
    expect(gradcheck((t) => t.expand(2, 3, 4).exp(), [leaf([3, 1])])).toBeLessThan(1e-6);
  });
});

describe('squeeze and unsqueeze', () => {
  it('squeeze removes all size-1 axes or the given ones', () => {
    const x = iota([1, 3, 1, 2]);
    expect(x.squeeze().shape).toEqual([3, 2]);
    expect(x.squeeze(0).shape).toEqual([3, 1, 2]);
    expect(x.squeeze(-2).shape).toEqual([1, 3, 2]);
    expect(x.squeeze([0, 2]).shape).toEqual([3, 2]);
    expect(arr(x.squeeze())).toEqual(arr(x));
    expect(iota([1, 1]).squeeze().shape).toEqual([]);
  });

  it('squeeze leaves a named axis whose size is not 1 alone, as torch.squeeze', () => {
    expect(iota([1, 3]).squeeze(1).shape).toEqual([1, 3]);
    expect(iota([1, 3, 1]).squeeze([0, 1]).shape).toEqual([3, 1]);
    expectTensorError(() => iota([1, 3]).squeeze(2), 'squeeze', 'axis 2');
  });

  it('narrow counts a negative start from the end and refuses to run past the end', () => {
    const x = iota([5]);
    expect(arr(x.narrow(0, -2, 2))).toEqual(arr(x).slice(3));
    expect(arr(x.narrow(0, 1, 3))).toEqual(arr(x).slice(1, 4));
    expect(x.narrow(0, 5, 0).shape).toEqual([0]);
    expectTensorError(() => x.narrow(0, 3, 3), 'narrow', 'start 3', 'length 3', 'size 5');
    expectTensorError(() => x.narrow(0, -6, 1), 'narrow', 'start -6');
  });

  it('unsqueeze inserts an axis anywhere, including at the end', () => {
    const x = iota([2, 3]);
    expect(x.unsqueeze(0).shape).toEqual([1, 2, 3]);
    expect(x.unsqueeze(1).shape).toEqual([2, 1, 3]);
    expect(x.unsqueeze(2).shape).toEqual([2, 3, 1]);
    expect(x.unsqueeze(-1).shape).toEqual([2, 3, 1]);
    expect(x.unsqueeze(-3).shape).toEqual([1, 2, 3]);
    expect(arr(x.transpose().unsqueeze(1))).toEqual([0, 3, 1, 4, 2, 5]);
    expectTensorError(() => x.unsqueeze(3), 'unsqueeze', 'axis 3');
  });

  it('passes gradients', () => {
    expect(
      gradcheck((t) => t.unsqueeze(1).squeeze(1).unsqueeze(0).mul(t), [leaf([2, 3])]),
    ).toBeLessThan(1e-6);
  });
});

describe('slice, narrow, select', () => {
  const x = iota([3, 7]);
  const col = (t: Tensor) => arr(t).filter((_, i) => i < t.shape[1]); // first row

  it('takes bounds and steps as Python slices', () => {
    expect(col(x.slice(1, 2, 5))).toEqual([2, 3, 4]);
    expect(col(x.slice(1, 1, 7, 2))).toEqual([1, 3, 5]);
    expect(col(x.slice(1, 0, undefined, 3))).toEqual([0, 3, 6]);
    expect(col(x.slice(1, 1, 6, 4))).toEqual([1, 5]);
    expect(arr(x.slice(0, 1))).toEqual(arr(x).slice(7));
  });

  it('counts negative bounds from the end', () => {
    expect(col(x.slice(1, -3))).toEqual([4, 5, 6]);
    expect(col(x.slice(1, -5, -1))).toEqual([2, 3, 4, 5]);
    expect(col(x.slice(1, 1, -1, 2))).toEqual([1, 3, 5]);
    expect(col(x.slice(-1, -2, 7))).toEqual([5, 6]);
  });

  it('clamps bounds past either end and gives empty slices when start >= end', () => {
    expect(col(x.slice(1, -100, 100))).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(col(x.slice(1, 5, 100))).toEqual([5, 6]);
    expect(x.slice(1, 5, 2).shape).toEqual([3, 0]);
    expect(x.slice(1, 100, 200).shape).toEqual([3, 0]);
    expect(x.slice(1, -2, -5).shape).toEqual([3, 0]);
    expect(arr(x.slice(1, 4, 4))).toEqual([]);
  });

  it('slices of slices keep their offsets', () => {
    const y = x.slice(0, 1).slice(1, 1, 7, 2).slice(1, 1);
    expect(y.shape).toEqual([2, 2]);
    expect(arr(y)).toEqual([10, 12, 17, 19]);
    expect(arr(x.narrow(1, 2, 3))).toEqual([2, 3, 4, 9, 10, 11, 16, 17, 18]);
  });

  it('rejects bad steps and bounds', () => {
    expectTensorError(() => x.slice(1, 0, 7, 0), 'slice', 'step', 'positive', '0');
    expectTensorError(() => x.slice(1, 5, 0, -1), 'slice', 'step', '-1');
    expectTensorError(() => x.slice(1, 0.5), 'slice', 'integers', '0.5');
    expectTensorError(() => x.slice(2, 0), 'slice', 'axis 2', 'rank 2');
  });

  it('has a gradient that is zero outside the slice', () => {
    const a = tensor(spread(21), { shape: [3, 7], dtype: 'float64', requiresGrad: true });
    a.slice(1, 1, 6, 2).mul(2).sum().backward();
    const g = gradOf(a);
    expect(g).toEqual(indices([3, 7]).map(([, j]) => (j === 1 || j === 3 || j === 5 ? 2 : 0)));
    expect(gradcheck((t) => t.slice(1, -5, -1, 3).exp(), [leaf([3, 7])])).toBeLessThan(1e-6);
    expect(gradcheck((t) => t.slice(0, 1).slice(1, 2, 6), [leaf([3, 7], 2)])).toBeLessThan(1e-6);
  });

  it('select picks one index and removes the axis', () => {
    expect(arr(x.select(0, 1))).toEqual([7, 8, 9, 10, 11, 12, 13]);
    expect(arr(x.select(1, -1))).toEqual([6, 13, 20]);
    expect(x.select(1, 0).shape).toEqual([3]);
    expectTensorError(() => x.select(1, 7), 'select', 'index 7', 'axis 1', 'size 7');
    expectTensorError(() => x.select(0, -4), 'select', 'index -4', 'size 3');
    const a = tensor(spread(6), { shape: [2, 3], dtype: 'float64', requiresGrad: true });
    a.select(1, 2).sum().backward();
    expect(gradOf(a)).toEqual([0, 0, 1, 0, 0, 1]);
  });
});

describe('split', () => {
  const x = iota([5, 2]);

  it('splits into pieces of equal size, the last one shorter', () => {
    const parts = x.split(2);
    expect(parts.map((p) => p.shape)).toEqual([
      [2, 2],
      [2, 2],
      [1, 2],
    ]);
    expect(parts.map(arr)).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    expect(split(x, 1, 1).map(arr)).toEqual([
      [0, 2, 4, 6, 8],
      [1, 3, 5, 7, 9],
    ]);
  });

  it('splits by a list of sizes, zeros allowed', () => {
    const parts = x.split([1, 0, 4]);
    expect(parts.map((p) => p.shape)).toEqual([
      [1, 2],
      [0, 2],
      [4, 2],
    ]);
    expect(arr(parts[2])).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('names the sizes, the total and the shape in its errors', () => {
    expectTensorError(() => x.split([2, 2]), 'split', '[2,2]', 'summing to 5', '[5, 2]');
    expectTensorError(() => x.split([6, -1]), 'split', '[6,-1]');
    expectTensorError(() => x.split(0), 'split', 'positive', '0');
  });

  it('sends zero gradients to pieces that are not used', () => {
    const a = tensor(spread(10), { shape: [5, 2], dtype: 'float64', requiresGrad: true });
    const [, mid] = a.split([1, 3, 1]);
    mid.mul(3).sum().backward();
    expect(gradOf(a)).toEqual([0, 0, 3, 3, 3, 3, 3, 3, 0, 0]);
    expect(
      gradcheck(
        (t) => {
          const p = t.split(2, 1);
          return p[0].mul(p[2].exp());
        },
        [leaf([3, 5])],
      ),
    ).toBeLessThan(1e-6);
  });
});

describe('concat and stack', () => {
  const a = iota([2, 3]);
  const b = iota([2, 2]).add(100);

  it('concat joins along an axis', () => {
    const y = concat([a, b], 1);
    expect(y.shape).toEqual([2, 5]);
    expect(arr(y)).toEqual([0, 1, 2, 100, 101, 3, 4, 5, 102, 103]);
    expect(arr(concat([a, a.add(6)], 0))).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(arr(concat([a, b], -1))).toEqual(arr(y));
    expect(arr(concat([a.transpose(), b.transpose()], 0))).toEqual(arr(y.transpose()));
    expect(concat([a, iota([2, 0])], 1).shape).toEqual([2, 3]);
  });

  it('concat names the mismatching tensor, shapes and dtypes', () => {
    expectTensorError(() => concat([a, b], 0), 'concat', 'tensor 1', '[2, 2]', '[2, 3]', 'axis 0');
    expectTensorError(
      () => concat([a, iota([2, 3], 'float64')], 0),
      'concat',
      'float64',
      'float32',
    );
    expectTensorError(() => concat([]), 'concat', 'at least one');
    expectTensorError(() => concat([tensor(1), tensor(2)]), 'concat', '[]');
    expectTensorError(() => concat([a, b], 2), 'concat', 'axis 2');
  });

  it('concat passes each input its part of the gradient', () => {
    const x = leaf([2, 3]);
    const y = leaf([2, 1], 2);
    expect(gradcheck((p, q) => concat([p, q, p], 1).exp(), [x, y])).toBeLessThan(1e-6);
    const u = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const v = tensor([3], { dtype: 'float64', requiresGrad: true });
    concat([u, v, u])
      .mul(tensor([1, 2, 3, 4, 5], { dtype: 'float64' }))
      .sum()
      .backward();
    expect(gradOf(u)).toEqual([1 + 4, 2 + 5]);
    expect(gradOf(v)).toEqual([3]);
  });

  it('stack adds a new axis', () => {
    const c = a.add(10);
    expect(stack([a, c]).shape).toEqual([2, 2, 3]);
    expect(arr(stack([a, c]))).toEqual([...arr(a), ...arr(c)]);
    const mid = stack([a, c], 1);
    expect(mid.shape).toEqual([2, 2, 3]);
    expect(arr(mid)).toEqual([0, 1, 2, 10, 11, 12, 3, 4, 5, 13, 14, 15]);
    const last = stack([a, c], -1);
    expect(last.shape).toEqual([2, 3, 2]);
    expect(arr(last)).toEqual([0, 10, 1, 11, 2, 12, 3, 13, 4, 14, 5, 15]);
    expect(stack([tensor(1), tensor(2)]).shape).toEqual([2]);
  });

  it('stack names mismatching shapes and passes gradients', () => {
    expectTensorError(() => stack([a, b]), 'stack', 'tensor 1', '[2, 2]', '[2, 3]');
    expectTensorError(() => stack([]), 'stack', 'at least one');
    expect(
      gradcheck((p, q) => stack([p, q], 1).tanh(), [leaf([2, 3]), leaf([2, 3], 4)]),
    ).toBeLessThan(1e-6);
  });
});

describe('contiguous and clone', () => {
  it('returns a contiguous tensor as is and copies strided views in logical order', () => {
    const x = iota([3, 4]);
    expect(x.contiguous()).toBe(x);
    const t = x.transpose();
    const c = t.contiguous();
    expect(c.isContiguous).toBe(true);
    expect(c.shape).toEqual([4, 3]);
    expect(arr(c)).toEqual(permuteRef(arr(x), [3, 4], [1, 0]));
    const s = x.slice(1, 1, 4, 2).contiguous();
    expect(arr(s)).toEqual([1, 3, 5, 7, 9, 11]);
    const e = tensor([1, 2]).unsqueeze(1).expand(2, 3).contiguous();
    expect(e.isContiguous).toBe(true);
    expect(arr(e)).toEqual([1, 1, 1, 2, 2, 2]);
  });

  it('clone is an independent copy', () => {
    const x = iota([2, 2]);
    const c = x.clone();
    x.assign(zeros([2, 2]));
    expect(arr(c)).toEqual([0, 1, 2, 3]);
  });

  it('copies int32 views too', () => {
    const x = arange(6).reshape(2, 3);
    expect(x.dtype).toBe('int32');
    expect(arr(x.transpose().contiguous())).toEqual([0, 3, 1, 4, 2, 5]);
  });
});

describe('elementwise ops on strided and broadcast views', () => {
  const base = tensor(spread(24, 7), { shape: [4, 6] });

  const views: [string, () => Tensor][] = [
    ['transposed', () => base.transpose()],
    ['sliced with a step', () => base.slice(1, 1, 6, 2)],
    ['sliced with an offset', () => base.slice(0, 1, 3)],
    ['permuted 3-D', () => base.reshape(2, 2, 6).permute(2, 0, 1)],
    ['selected column', () => base.select(1, 3)],
    ['expanded', () => base.select(0, 2).expand(3, 6)],
  ];

  for (const [name, make] of views) {
    it(`unary and binary ops on a ${name} view equal those on its contiguous copy`, () => {
      const v = make();
      const c = v.contiguous();
      expect(arr(v.exp())).toEqual(arr(c.exp()));
      expect(arr(v.mul(v))).toEqual(arr(c.mul(c)));
      expect(arr(v.add(c.neg()))).toEqual(new Array(v.size).fill(0));
      const other = tensor(spread(v.size, 3), { shape: [...v.shape] });
      expect(arr(v.sub(other))).toEqual(arr(c.sub(other)));
      expect(arr(other.maximum(v))).toEqual(arr(other.maximum(c)));
      // Against plain JS on the logical values.
      const cv = arr(c);
      const ov = arr(other);
      expectClose(
        arr(v.mul(other)),
        cv.map((p, i) => Math.fround(p * ov[i])),
        0,
      );
    });
  }

  it('broadcasts a strided view against another', () => {
    const t = base.transpose(); // [6, 4]
    const row = base.select(0, 1).slice(0, 0, 4); // [4], a view with an offset
    const y = t.add(row);
    const tv = arr(t.contiguous());
    const rv = arr(row);
    expect(arr(y)).toEqual(tv.map((p, i) => Math.fround(p + rv[i % 4])));
  });

  it('gradients flow through strided views into the base', () => {
    expect(
      gradcheck(
        (t) =>
          t
            .transpose()
            .slice(0, 1, 4, 2)
            .mul(t.slice(1, 0, 2).transpose()),
        [leaf([4, 3])],
      ),
    ).toBeLessThan(1e-6);
  });
});

describe('assign', () => {
  it('writes in place, visible through views', () => {
    const x = zeros([2, 3]);
    const v = x.transpose();
    x.assign(iota([2, 3]));
    expect(arr(x)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(arr(v)).toEqual([0, 3, 1, 4, 2, 5]);
  });

  it('broadcasts the source to the target', () => {
    const x = zeros([2, 3]);
    x.assign(tensor([1, 2, 3]));
    expect(arr(x)).toEqual([1, 2, 3, 1, 2, 3]);
    x.assign(tensor(7));
    expect(arr(x)).toEqual([7, 7, 7, 7, 7, 7]);
  });

  it('writes into a strided view of a larger tensor', () => {
    const x = zeros([2, 4]);
    x.slice(1, 1, 4, 2).assign(
      tensor([
        [1, 2],
        [3, 4],
      ]),
    );
    expect(arr(x)).toEqual([0, 1, 0, 2, 0, 3, 0, 4]);
    x.transpose()
      .select(0, 0)
      .assign(tensor([9, 8]));
    expect(arr(x)).toEqual([9, 1, 0, 2, 8, 3, 0, 4]);
  });

  it('converts dtypes (float to int32 truncates toward zero)', () => {
    const x = zeros([4], { dtype: 'int32' });
    x.assign(tensor([1.7, -1.7, 2.5, -0.5]));
    expect(arr(x)).toEqual([1, -1, 2, 0]);
    const f = zeros([2], { dtype: 'float64' });
    f.assign(tensor([3, 4], { dtype: 'int32' }));
    expect(arr(f)).toEqual([3, 4]);
  });

  it('rejects sources that do not broadcast to the target shape', () => {
    expectTensorError(() => zeros([2, 3]).assign(tensor([1, 2])), 'assign', '[2]', '[2, 3]');
    expectTensorError(() => zeros([3]).assign(zeros([2, 3])), 'assign', '[2, 3]', '[3]');
    // [2, 1] broadcasts *with* [1, 3] (to [2, 3]) but not *to* it.
    expectTensorError(() => zeros([1, 3]).assign(tensor([[1], [2]])), 'assign', '[2, 1]', '[1, 3]');
  });

  it('rejects a broadcast target, whose elements share memory', () => {
    const base = zeros([1, 3]);
    expectTensorError(
      () =>
        base.expand(2, 3).assign(
          tensor([
            [1, 2, 3],
            [4, 5, 6],
          ]),
        ),
      'assign',
      '[2, 3]',
      'broadcast',
      'axis 0',
    );
    expect(arr(base)).toEqual([0, 0, 0]);
  });

  it('reads the source before writing when both share memory', () => {
    const x = tensor([
      [1, 2],
      [3, 4],
    ]);
    x.assign(x.transpose());
    expect(arr(x)).toEqual([1, 3, 2, 4]);
    const y = tensor([1, 2, 3, 4, 5]);
    y.slice(0, 1, 5).assign(y.slice(0, 0, 4));
    expect(arr(y)).toEqual([1, 1, 2, 3, 4]);
  });

  it('is not recorded for autograd, and refuses to overwrite a tensor requiring a gradient while recording', () => {
    const x = zeros([2], { dtype: 'float64', requiresGrad: true });
    const src = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    expectTensorError(() => x.assign(src), 'assign', 'noGrad()');
    noGrad(() => x.assign(src));
    expect(x.isLeaf).toBe(true);
    expect(arr(x)).toEqual([1, 2]);
  });
});
