import { describe, expect, it } from 'vitest';
import {
  clipGradNorm,
  getBackend,
  keep,
  noGrad,
  ones,
  registerBackend,
  setBackend,
  type Tensor,
  TensorError,
  tensor,
  tidy,
  withGradEnabled,
  zeros,
} from '../src/index.js';
import { gradValues, values } from './helpers.js';

const param = (v: number[]) => tensor(v, { requiresGrad: true });

describe('autograd', () => {
  it('accumulates gradients over backward calls until they are cleared', () => {
    const x = param([1, 2, 3]);
    x.mul(2).sum().backward();
    x.mul(3).sum().backward();
    expect(gradValues(x)).toEqual([5, 5, 5]);
    x.grad = null;
    x.square().sum().backward();
    expect(gradValues(x)).toEqual([2, 4, 6]);
  });

  it('adds the gradients of every path, also when one tensor is both operands', () => {
    const x = param([3]);
    x.mul(x).backward();
    expect(gradValues(x)).toEqual([6]);
    const y = param([2]);
    y.add(y).add(y.mul(4)).backward();
    expect(gradValues(y)).toEqual([6]);
  });

  it('gives each leaf gradient memory of its own, also when views of one gradient reach several', () => {
    const a = tensor([1, 2, 3], { requiresGrad: true });
    const b = tensor([4, 5, 6], { requiresGrad: true });
    a.unsqueeze(0)
      .add(b.unsqueeze(0))
      .mul(tensor([[3, 4, 0]]))
      .sum()
      .backward();
    expect((a.grad as Tensor).storage).not.toBe((b.grad as Tensor).storage);
    // In-place clipping scales each gradient once: the global norm of ([3,4,0], [3,4,0]) is
    // sqrt(50), so each becomes [3,4,0] / sqrt(50).
    clipGradNorm([a, b], 1);
    const k = 1 / Math.sqrt(50);
    for (const t of [a, b]) {
      gradValues(t).forEach((v, i) => {
        expect(v).toBeCloseTo([3, 4, 0][i] * k, 6);
      });
    }
  });

  it("never lets a leaf's gradient alias the caller's output gradient", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const g = tensor([3, 4]);
    x.backward(g);
    expect((x.grad as Tensor).storage).not.toBe(g.storage);
    const y = tensor([1, 2], { requiresGrad: true });
    y.reshape(2, 1).backward(g.reshape(2, 1));
    expect((y.grad as Tensor).storage).not.toBe(g.storage);
    expect(gradValues(y)).toEqual([3, 4]);
  });

  it('gives the root its gradient when it retains one', () => {
    const x = param([1, 2]);
    const loss = x.square().sum().retainGrad();
    loss.backward();
    expect(gradValues(loss)).toEqual([1]);
  });

  it('lets go of the inputs of a graph once its backward has run', () => {
    const x = param([1, 2]);
    const h = x.exp();
    const loss = h.sum();
    loss.backward();
    expect(loss.gradFn?.inputs).toEqual([]);
    expect(h.gradFn?.inputs).toEqual([]);
  });

  it('gives each leaf its own gradient tensor when one gradient flows to several', () => {
    const a = param([1, 2]);
    const b = param([3, 4]);
    a.add(b).sum().backward();
    expect(a.grad).not.toBe(b.grad);
    (a.grad as Tensor).dispose();
    expect(gradValues(b)).toEqual([1, 1]);
  });

  it('records nothing under noGrad, and detach() cuts the graph', () => {
    const x = param([1, 2]);
    const y = noGrad(() => x.mul(2));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(withGradEnabled(false, () => x.exp()).gradFn).toBeNull();
    const z = x.detach().mul(x).sum();
    z.backward();
    expect(gradValues(x)).toEqual([1, 2]);
  });

  it('keeps gradients of non-leaves only when asked', () => {
    const x = param([1, 2]);
    const h = x.mul(3).retainGrad();
    const k = h.mul(2);
    k.sum().backward();
    expect(gradValues(h)).toEqual([2, 2]);
    expect(k.grad).toBeNull();
  });

  it('keeps the summed gradient of a retained non-leaf that feeds several ops', () => {
    const x = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const y = x.mul(2).retainGrad();
    y.exp().sum().add(y.square().sum()).backward();
    const expected = [2, 4].map((v) => Math.exp(v) + 2 * v);
    gradValues(y).forEach((g, i) => {
      expect(g).toBeCloseTo(expected[i], 10);
    });
    gradValues(x).forEach((g, i) => {
      expect(g).toBeCloseTo(2 * expected[i], 10);
    });
  });

  it('refuses a second pass through a freed graph unless the graph is retained', () => {
    const x = param([1, 2]);
    const y = x.exp().sum();
    expect(() => y.backward({ retainGraph: true } as never)).toThrow(
      /options such as \{ retainGraph \} go second/,
    );
    y.backward();
    expect(() => y.backward()).toThrow(/already used by a backward pass.*retainGraph/);
    const z = x.exp().sum();
    z.backward(undefined, { retainGraph: true });
    z.backward();
    expect(gradValues(x).map((v) => Number(v.toFixed(4)))).toEqual([
      Number((Math.E * 3).toFixed(4)),
      Number((Math.exp(2) * 3).toFixed(4)),
    ]);
  });

  it('explains bad backward calls', () => {
    const x = param([1, 2]);
    expect(() => x.mul(2).backward()).toThrow(
      /needs a gradient argument for a tensor of shape \[2\]/,
    );
    expect(() => x.mul(2).backward(ones([3]))).toThrow(
      /gradient of shape \[3\] does not match the tensor's shape \[2\]/,
    );
    expect(() => tensor([1]).backward()).toThrow(/does not require a gradient/);
    x.mul(2).backward(tensor([1, 10]));
    expect(gradValues(x)).toEqual([2, 20]);
  });

  it('allows requiresGrad only on float leaves', () => {
    const x = param([1]);
    expect(() => {
      x.mul(2).requiresGrad = false;
    }).toThrow(/only be set on leaf tensors; this one was produced by mul/);
    expect(() => tensor([1], { dtype: 'int32' }).requiresGrad_()).toThrow(/only float tensors/);
  });

  it('handles graphs deeper than the call stack', () => {
    const x = param([1]);
    let y = x;
    for (let i = 0; i < 20000; i++) y = y.mul(1);
    y.backward();
    expect(gradValues(x)).toEqual([1]);
  });

  it('sends gradients only through the pieces of a split that were used', () => {
    const x = param([1, 2, 3, 4, 5]);
    const [, b] = x.split([2, 3]);
    b.mul(tensor([1, 2, 3]))
      .sum()
      .backward();
    expect(gradValues(x)).toEqual([0, 0, 1, 2, 3]);
  });
});

describe('memory scopes', () => {
  it('disposes what a tidy() scope made, except what it returns', () => {
    let inner: Tensor | null = null;
    const out = tidy(() => {
      inner = ones([4]).mul(2);
      return inner.add(1);
    });
    expect((inner as unknown as Tensor).isDisposed).toBe(true);
    expect(out.isDisposed).toBe(false);
    expect(values(out)).toEqual([3, 3, 3, 3]);
  });

  it('returns backend memory when a scope ends', () => {
    const before = getBackend().memory().bytesInUse;
    tidy(() => {
      zeros([1000, 100]).add(1).mul(2);
    });
    expect(getBackend().memory().bytesInUse).toBe(before);
  });

  it('keeps gradients and kept tensors past the scope that made them', () => {
    const w = param([1, 2]);
    let saved: Tensor | null = null;
    tidy(() => {
      const loss = w.square().sum();
      saved = keep(loss.mul(1));
      loss.backward();
    });
    expect(gradValues(w)).toEqual([2, 4]);
    expect(values(saved as unknown as Tensor)).toEqual([5]);
  });

  it('moves returned tensors to the enclosing scope, and cleans up after a throw', () => {
    let escaped: Tensor | null = null;
    tidy(() => {
      escaped = tidy(() => ones([2]));
      return null;
    });
    expect((escaped as unknown as Tensor).isDisposed).toBe(true);
    let made: Tensor | null = null;
    expect(() =>
      tidy(() => {
        made = ones([2]);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect((made as unknown as Tensor).isDisposed).toBe(true);
  });

  it('releases the dense copy it makes to read a strided view', () => {
    const t = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]).transpose();
    const before = getBackend().memory().buffers;
    for (let i = 0; i < 5; i++) t.dataSync();
    expect(getBackend().memory().buffers).toBe(before);
  });

  it('reports use of a disposed tensor, and disposing twice is harmless', () => {
    const t = ones([2]);
    t.dispose();
    t.dispose();
    expect(() => t.add(1)).toThrow(/disposed tensor of shape \[2\]/);
  });

  it('frees shared memory only when the last view is disposed', () => {
    const t = tensor([1, 2, 3, 4]);
    const v = t.reshape(2, 2);
    t.dispose();
    expect(values(v)).toEqual([1, 2, 3, 4]);
  });

  it('rejects an async function', () => {
    expect(() => tidy(async () => ones([1]))).toThrow(/returned a Promise/);
  });
});

describe('backend choice', () => {
  it('falls back to the CPU with a one-line notice when a preferred backend cannot start', async () => {
    registerBackend(
      'broken',
      () => {
        throw new Error('no adapter found\nsecond line');
      },
      5,
    );
    const notices: string[] = [];
    const chosen = await setBackend('auto', { onNotice: (m) => notices.push(m) });
    expect(chosen.name).toBe('cpu');
    expect(notices).toEqual([
      'statetune: using the cpu backend (broken unavailable: no adapter found)',
    ]);
    await expect(setBackend('broken')).rejects.toThrow('no adapter found');
    await expect(setBackend('nope')).rejects.toThrow(/backend "nope" is not registered/);
    await setBackend('cpu');
  });

  it('refuses to mix tensors of two backends', async () => {
    const { CpuBackend } = await import('../src/index.js');
    const other = new CpuBackend();
    const a = tensor([1], { backend: other });
    expect(() => a.add(tensor([1]))).toThrow(TensorError);
    expect(() => a.add(tensor([1]))).toThrow(/different backends/);
  });
});

describe('moving between backends', () => {
  it('copies values to another backend and returns the same tensor when already there', async () => {
    const { CpuBackend } = await import('../src/index.js');
    const other = new CpuBackend();
    const t = tensor([
      [1, 2],
      [3, 4],
    ]).transpose();
    const moved = await t.to(other);
    expect(moved.backend).toBe(other);
    expect(moved.arraySync()).toEqual([
      [1, 3],
      [2, 4],
    ]);
    expect(await moved.to(other)).toBe(moved);
    await expect(t.to('nowhere')).rejects.toThrow(/backend "nowhere" has not been started/);
  });
});
