import { describe, expect, it } from 'vitest';
import { argmax, full, max, mean, min, sum, type Tensor, tensor } from '../../src/index.js';
import { gradcheck, leaf } from '../helpers.js';
import { arr, expectClose, expectTensorError, flatIndex, gradOf, indices, spread } from './util.js';

type Op = 'sum' | 'mean' | 'max' | 'min';

const OPS: Record<Op, (x: Tensor, axes?: number | number[], keepdim?: boolean) => Tensor> = {
  sum,
  mean,
  max,
  min,
};

/** Plain-JS reduction of row-major `vals` over normalised `axes`. */
function reduceRef(
  op: Op,
  vals: number[],
  shape: number[],
  axes: number[],
  keepdim: boolean,
): { shape: number[]; values: number[] } {
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const acc = new Map<number, number[]>();
  for (const idx of indices(shape)) {
    const key = flatIndex(
      idx.map((v, i) => (axes.includes(i) ? 0 : v)),
      kept,
    );
    const list = acc.get(key) ?? [];
    list.push(vals[flatIndex(idx, shape)]);
    acc.set(key, list);
  }
  const n = kept.reduce((p, d) => p * d, 1);
  const values = Array.from({ length: n }, (_, k) => {
    const list = acc.get(k) ?? [];
    if (op === 'sum') return list.reduce((p, v) => p + v, 0);
    if (op === 'mean') return list.reduce((p, v) => p + v, 0) / list.length;
    if (list.some(Number.isNaN)) return Number.NaN;
    return op === 'max' ? Math.max(...list) : Math.min(...list);
  });
  return { shape: keepdim ? kept : shape.filter((_, i) => !axes.includes(i)), values };
}

const SHAPE = [3, 4, 5];
const base = tensor(spread(60, 2), { shape: SHAPE });

/**
 * Inputs with their logical shape. The CPU kernel picks a strategy per call: one strided
 * sweep per output when the reduced elements are the nearer ones in memory, or whole rows
 * accumulated when the kept ones are (e.g. axis 0 of a contiguous tensor, or the last axis
 * of a transposed one); both are exercised below.
 */
const INPUTS: [string, () => Tensor][] = [
  ['contiguous', () => base],
  ['transposed', () => base.permute(2, 1, 0)],
  ['last two swapped', () => base.transpose()],
  ['sliced with a step', () => tensor(spread(120, 4), { shape: [3, 8, 5] }).slice(1, 1, 8, 2)],
  ['sliced with an offset', () => tensor(spread(100, 5), { shape: [5, 4, 5] }).slice(0, 2)],
  ['expanded', () => tensor(spread(20, 6), { shape: [1, 4, 5] }).expand(3, 4, 5)],
];

const AXES: (number | number[] | undefined)[] = [
  0,
  1,
  2,
  -1,
  -3,
  [0, 2],
  [2, 0],
  [1, 2],
  [0, 1],
  [-1, 0, 1],
  undefined,
];

function normalise(axes: number | number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  return (typeof axes === 'number' ? [axes] : axes).map((a) => (a < 0 ? a + rank : a));
}

describe('sum, mean, max, min', () => {
  for (const [name, make] of INPUTS) {
    for (const op of Object.keys(OPS) as Op[]) {
      it(`${op} of a ${name} input over every axis set, with and without keepdim`, () => {
        const x = make();
        const logical = arr(x.contiguous());
        const shape = [...x.shape];
        for (const axes of AXES) {
          for (const keepdim of [false, true]) {
            const y = OPS[op](x, axes, keepdim);
            const want = reduceRef(op, logical, shape, normalise(axes, shape.length), keepdim);
            expect(y.shape, `${op}(${JSON.stringify(axes)}, ${keepdim})`).toEqual(want.shape);
            expectClose(arr(y), want.values, 2e-6);
          }
        }
      });
    }
  }

  it('sums float32 in a float64 accumulator in both kernel strategies', () => {
    const tenth = Math.fround(0.1);
    const want = Math.fround(20000 * tenth);
    // Summed naively in float32 this drifts to about 2000.6 (and to 999.9 for 10000 terms).
    expect(full([20000], 0.1).sum().item()).toBe(want);
    const cols = full([20000, 3], 0.1).sum(0);
    expect(arr(cols)).toEqual([want, want, want]);
    const rows = full([3, 20000], 0.1).transpose().sum(0);
    expect(arr(rows)).toEqual([want, want, want]);
  });

  it('int32: sum, max and min stay int32; mean gives float32', () => {
    const x = tensor(
      [
        [1, -2, 7],
        [4, 5, -6],
      ],
      { dtype: 'int32' },
    );
    expect(x.sum(1).dtype).toBe('int32');
    expect(arr(x.sum(1))).toEqual([6, 3]);
    expect(arr(x.transpose().sum(1))).toEqual([5, 3, 1]);
    expect(arr(x.max(0))).toEqual([4, 5, 7]);
    expect(arr(x.min())).toEqual([-6]);
    expect(x.mean(0).dtype).toBe('float32');
    expect(arr(x.mean(0))).toEqual([2.5, 1.5, 0.5]);
  });

  it('max and min propagate NaN, in both kernel strategies', () => {
    const x = tensor([
      [1, Number.NaN, 3],
      [4, 5, 6],
    ]);
    expect(x.max().item()).toBeNaN();
    expect(arr(x.max(1)).map(Number.isNaN)).toEqual([true, false]);
    expect(arr(x.min(0)).map(Number.isNaN)).toEqual([false, true, false]);
    expect(arr(x.transpose().max(0)).map(Number.isNaN)).toEqual([true, false]);
    expect(arr(x.transpose().min(1)).map(Number.isNaN)).toEqual([false, true, false]);
  });

  it('reduces a tensor without axes over none, accepting axis 0 or -1 as PyTorch', () => {
    const s = tensor(3);
    for (const op of Object.keys(OPS) as Op[]) {
      expect(OPS[op](s).item()).toBe(3);
      expect(OPS[op](s, 0).item()).toBe(3);
      expect(OPS[op](s, -1, true).shape).toEqual([]);
    }
    expectTensorError(() => s.sum(1), 'sum', 'axis 1', 'rank 0');
  });

  it('gives 0 for sums and NaN for means over an empty axis', () => {
    const e = tensor(new Float32Array(0), { shape: [2, 0] });
    expect(arr(e.sum(1))).toEqual([0, 0]);
    expect(arr(e.mean(1)).every(Number.isNaN)).toBe(true);
    expect(e.sum(0).shape).toEqual([0]);
  });

  it('max and min reject an empty axis, naming the op and the shape', () => {
    const e = tensor(new Float32Array(0), { shape: [2, 0] });
    expectTensorError(() => e.max(1), 'max', 'empty axis', '[2, 0]');
    expectTensorError(() => e.min(), 'min', 'empty axis', '[2, 0]');
    // Reducing the non-empty axis of an empty tensor is fine: nothing to compare.
    expect(e.max(0).shape).toEqual([0]);
  });

  it('rejects axes out of range and repeated axes', () => {
    expectTensorError(() => base.sum(3), 'sum', 'axis 3', 'rank 3');
    expectTensorError(() => base.mean(-4), 'mean', 'axis -4', 'rank 3');
    expectTensorError(() => base.max([0, -3]), 'max', '[0,-3]', 'repeat');
    expectTensorError(() => base.min(1.5), 'min', 'axis 1.5');
  });
});

describe('reduction gradients', () => {
  for (const op of ['sum', 'mean', 'max', 'min'] as Op[]) {
    for (const axes of [undefined, 1, [0, 2], -1] as (number | number[] | undefined)[]) {
      for (const keepdim of [false, true]) {
        it(`${op}(${JSON.stringify(axes)}, keepdim=${keepdim}) matches finite differences`, () => {
          // spread values are distinct, so max/min have a unique winner per output.
          const x = tensor(spread(24, 3), {
            shape: [2, 3, 4],
            dtype: 'float64',
            requiresGrad: true,
          });
          expect(gradcheck((t) => OPS[op](t, axes, keepdim), [x])).toBeLessThan(1e-6);
        });
      }
    }
  }

  it('on a transposed input', () => {
    expect(
      gradcheck((t) => t.transpose().sum(0).mul(t.transpose().max(1)), [leaf([3, 3])]),
    ).toBeLessThan(1e-6);
  });

  it('mean divides the gradient by the count', () => {
    const x = tensor(spread(6), { shape: [2, 3], dtype: 'float64', requiresGrad: true });
    x.mean(1).sum().backward();
    expectClose(gradOf(x), new Array(6).fill(1 / 3), 1e-15);
  });

  it('max and min share the gradient evenly among ties', () => {
    const x = tensor(
      [
        [1, 3, 3],
        [2, 2, 2],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    x.max(1)
      .mul(tensor([6, 3], { dtype: 'float64' }))
      .sum()
      .backward();
    expect(gradOf(x)).toEqual([0, 3, 3, 1, 1, 1]);
    const y = tensor([5, -1, -1, 0], { dtype: 'float64', requiresGrad: true });
    y.min().backward();
    expect(gradOf(y)).toEqual([0, 0.5, 0.5, 0]);
  });
});

describe('argmax', () => {
  it('gives int32 indices along any axis, keepdim or not', () => {
    const x = tensor(spread(60, 2), { shape: SHAPE });
    const v = arr(x);
    for (const axis of [0, 1, 2, -1]) {
      const a = axis < 0 ? axis + 3 : axis;
      const y = argmax(x, axis);
      expect(y.dtype).toBe('int32');
      const outShape = SHAPE.filter((_, i) => i !== a);
      expect(y.shape).toEqual(outShape);
      const want = indices(outShape).map((o) => {
        let best = -1;
        let at = -1;
        for (let i = 0; i < SHAPE[a]; i++) {
          const idx = [...o];
          idx.splice(a, 0, i);
          const val = v[flatIndex(idx, SHAPE)];
          if (val > best || at < 0) {
            best = val;
            at = i;
          }
        }
        return at;
      });
      expect(arr(y)).toEqual(want);
      expect(argmax(x, axis, true).shape).toEqual(SHAPE.map((d, i) => (i === a ? 1 : d)));
    }
  });

  it('picks the first of equal maxima and the first NaN', () => {
    expect(arr(tensor([1, 3, 2, 3]).argmax())).toEqual([1]);
    expect(arr(tensor([1, Number.NaN, 9, Number.NaN]).argmax())).toEqual([1]);
    expect(arr(tensor([Number.NaN, 1]).argmax())).toEqual([0]);
    expect(arr(tensor([-Infinity, -Infinity]).argmax())).toEqual([0]);
    expect(
      arr(
        tensor([
          [1, 5],
          [5, 5],
          [0, 2],
        ]).argmax(0),
      ),
    ).toEqual([1, 0]);
  });

  it('works on strided views and int32 values', () => {
    const x = tensor([
      [1, 9, 3],
      [7, 2, 8],
    ]);
    expect(arr(x.transpose().argmax(1))).toEqual([1, 0, 1]);
    expect(arr(x.slice(1, 0, 3, 2).argmax(-1))).toEqual([1, 1]);
    expect(arr(tensor([3, -4, 12, 12], { dtype: 'int32' }).argmax())).toEqual([2]);
  });

  it('gives 0 for a tensor without axes and rejects empty axes', () => {
    expect(tensor(4).argmax().item()).toBe(0);
    expect(tensor(4).argmax().dtype).toBe('int32');
    const e = tensor(new Float32Array(0), { shape: [3, 0] });
    expectTensorError(() => e.argmax(1), 'argmax', 'empty axis', '[3, 0]');
    expectTensorError(() => tensor([1, 2]).argmax(1), 'argmax', 'axis 1', 'rank 1');
  });
});
