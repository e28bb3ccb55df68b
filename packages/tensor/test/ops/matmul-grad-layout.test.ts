import { describe, expect, it } from 'vitest';
import {
  type BackendData,
  type BinaryOp,
  CpuBackend,
  type DType,
  embedding,
  linear,
  matmul,
  type Shape,
  type Tensor,
  tensor,
  type View,
} from '../../src/index.js';
import { gradcheck, leaf } from '../helpers.js';
import { arr, expectClose, spread } from './util.js';

/**
 * The gradient of a matmul operand that is a transposed view (the weight of `x @ W^T`, a tied
 * embedding used as the LM head) comes back in the operand's own layout: the leaf's gradient
 * is contiguous, never a strided view of a gradient computed for W^T.
 */

/** Plain-JS dW = sum over rows of dy^T x, for y = x @ W^T with x (rows, k) and W (n, k). */
function weightGradRef(x: number[], dy: number[], rows: number, k: number, n: number): number[] {
  const out = new Array<number>(n * k).fill(0);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < n; o++) {
      for (let i = 0; i < k; i++) out[o * k + i] += dy[r * n + o] * x[r * k + i];
    }
  }
  return out;
}

/** A CPU backend that notes every elementwise read or copy of a view not row-major inside. */
class LayoutSpy extends CpuBackend {
  readonly strided: string[] = [];

  private note(op: string, v: View): void {
    const r = v.shape.length;
    if (r >= 2 && v.shape[r - 1] > 1 && v.strides[r - 1] > 1) {
      this.strided.push(`${op} [${v.shape.join(', ')}] strides [${v.strides.join(', ')}]`);
    }
  }

  override copy(x: View, dtype: DType): BackendData {
    this.note('copy', x);
    return super.copy(x, dtype);
  }

  override binary(op: BinaryOp, a: View, b: View, outShape: Shape, outDtype: DType): BackendData {
    this.note(op, a);
    this.note(op, b);
    return super.binary(op, a, b, outShape, outDtype);
  }
}

describe('matmul backward keeps each operand layout', () => {
  it('linear: the weight gradient is contiguous and equals dy^T @ x', () => {
    const [rows, k, n] = [6, 5, 7];
    const xv = spread(rows * k, 1);
    const dyv = spread(rows * n, 2);
    const x = tensor(xv, { shape: [2, 3, k] });
    const w = tensor(spread(n * k, 3), { shape: [n, k], requiresGrad: true });
    linear(x, w)
      .mul(tensor(dyv, { shape: [2, 3, n] }))
      .sum()
      .backward();
    const g = w.grad as Tensor;
    expect(g.shape).toEqual([n, k]);
    expect(g.isContiguous).toBe(true);
    expectClose(arr(g), weightGradRef(xv, dyv, rows, k, n), 1e-5);
  });

  it('no kernel of the backward reads a transposed gradient (no strided copy or add)', () => {
    const spy = new LayoutSpy();
    const [vocab, dim] = [11, 4];
    const table = tensor(spread(vocab * dim, 4), {
      backend: spy,
      shape: [vocab, dim],
      requiresGrad: true,
    });
    const x = tensor(spread(3 * dim, 5), { backend: spy, shape: [3, dim] });
    const ids = tensor([1, 10, 1], { backend: spy, dtype: 'int32', shape: [3] });
    // A tied table: a lookup and the LM head x @ W^T, whose gradients meet in one add.
    const h = embedding(table, ids).add(x);
    const loss = linear(h, table).square().sum();
    spy.strided.length = 0;
    loss.backward();
    expect(spy.strided).toEqual([]);
    expect((table.grad as Tensor).isContiguous).toBe(true);
  });

  it('a transposed left operand gets a contiguous gradient too', () => {
    const [m, k, n] = [3, 4, 5];
    const a = tensor(spread(k * m, 6), { shape: [k, m], requiresGrad: true });
    const bv = spread(k * n, 7);
    const b = tensor(bv, { shape: [k, n] });
    matmul(a.transpose(0, 1), b).sum().backward();
    const g = a.grad as Tensor;
    expect(g.isContiguous).toBe(true);
    // d/dA^T[i, kk] = sum_j B[kk, j]; so dA[kk, i] = sum_j B[kk, j].
    const rowSums = Array.from({ length: k }, (_, kk) =>
      bv.slice(kk * n, kk * n + n).reduce((p, v) => p + v, 0),
    );
    expectClose(
      arr(g),
      Array.from({ length: k * m }, (_, j) => rowSums[Math.floor(j / m)]),
      1e-5,
    );
  });

  it('a tied embedding: lookup and LM head gradients add into one contiguous gradient', () => {
    const [vocab, dim] = [9, 4];
    const ids = [3, 0, 8, 3];
    const tv = spread(vocab * dim, 8);
    const table = tensor(tv, { shape: [vocab, dim], requiresGrad: true });
    const h = embedding(table, tensor(ids, { dtype: 'int32', shape: [1, 4] }));
    const dyv = spread(4 * vocab, 9);
    linear(h, table)
      .mul(tensor(dyv, { shape: [1, 4, vocab] }))
      .sum()
      .backward();
    const g = table.grad as Tensor;
    expect(g.isContiguous).toBe(true);
    // Reference: head part dW = dy^T h, lookup part dh = dy W scattered to the ids.
    const hv = ids.flatMap((i) => tv.slice(i * dim, i * dim + dim));
    const want = weightGradRef(hv, dyv, 4, dim, vocab);
    ids.forEach((id, r) => {
      for (let i = 0; i < dim; i++) {
        let s = 0;
        for (let o = 0; o < vocab; o++) s += dyv[r * vocab + o] * tv[o * dim + i];
        want[id * dim + i] += s;
      }
    });
    expectClose(arr(g), want, 1e-5);
  });

  it('batched, broadcast and transposed operands pass gradcheck (float64)', () => {
    const a = leaf([2, 3, 4], 1);
    const bT = leaf([1, 5, 4], 2);
    const aT = leaf([2, 4, 3], 3);
    expect(gradcheck((x, y) => matmul(x, y.transpose(-2, -1)), [a, bT])).toBeLessThan(1e-6);
    expect(
      gradcheck((x, y) => matmul(x.transpose(-2, -1), y.transpose(-2, -1)), [aT, bT]),
    ).toBeLessThan(1e-6);
    for (const t of [a, bT, aT]) expect((t.grad as Tensor | null)?.isContiguous ?? true).toBe(true);
  });
});
