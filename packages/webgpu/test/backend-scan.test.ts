import { type Backend, CpuBackend, selectiveScan, type Tensor, tensor } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import { sharedBackend, testBackend } from './gpu.js';

// The backend's wiring of the scan kernel (inputs made dense, the pool lent as allocator,
// outputs wrapped as tensors), against the CPU backend. The kernel's own tests are in scan*.
const gpu = await sharedBackend();
const cpu = new CpuBackend();

function seq(n: number, seed: number, lo = -1, hi = 1): number[] {
  return Array.from({ length: n }, (_, i) => {
    const s = Math.sin((i + 1) * 12.9898 + seed * 78.233) * 43758.5453;
    return lo + (s - Math.floor(s)) * (hi - lo);
  });
}

function run(b: Backend, batched: boolean) {
  const [batch, dim, len, n] = [2, 3, 37, 4];
  const mk = (shape: number[], seed: number, lo = -1, hi = 1) =>
    tensor(
      seq(
        shape.reduce((p, d) => p * d, 1),
        seed,
        lo,
        hi,
      ),
      { backend: b, shape },
    ).requiresGrad_(true);
  const u = mk([batch, dim, len], 1);
  // A strided view: the backend must copy it dense before the kernel sees it.
  const deltaFull = mk([batch, dim, len + 3], 2, -2, 0.5);
  const delta = deltaFull.narrow(2, 3, len);
  const A = mk([dim, n], 3, -1.5, -0.2);
  const B = mk([batch, n, len], 4);
  const C = mk([batch, n, len], 5);
  const D = mk([dim], 6);
  const z = mk([batch, dim, len], 7);
  const deltaBias = mk([dim], 8);
  const h0 = mk(batched ? [batch, dim, n] : [dim, n], 9);
  const stateOffset = mk([dim, n], 10);
  const { y, lastState } = selectiveScan({
    u,
    delta,
    A,
    B,
    C,
    D,
    z,
    deltaBias,
    deltaSoftplus: true,
    h0,
    stateOffset,
  });
  y.mul(mk([batch, dim, len], 11))
    .sum()
    .add(lastState.mul(mk([batch, dim, n], 12)).sum())
    .backward();
  return [
    y,
    lastState,
    u.grad,
    deltaFull.grad,
    A.grad,
    B.grad,
    C.grad,
    D.grad,
    z.grad,
    deltaBias.grad,
    h0.grad,
    stateOffset.grad,
  ] as Tensor[];
}

function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

describe.skipIf(!gpu)('selectiveScan on the webgpu backend', () => {
  for (const batched of [false, true]) {
    it(`matches the CPU forward and gradients (h0 ${batched ? 'per batch' : 'shared'})`, async () => {
      const got = run(gpu!, batched);
      const want = run(cpu, batched);
      for (let i = 0; i < want.length; i++) {
        expect(got[i].shape, `output ${i}`).toEqual(want[i].shape);
        expect(relErr(await got[i].data(), await want[i].data()), `output ${i}`).toBeLessThan(1e-4);
      }
    });
  }

  it('without a scan kernel, says the scan is not available', async () => {
    const b = await testBackend({ scanKernel: null });
    const x = tensor([1], { backend: b!, shape: [1, 1, 1] });
    expect(() =>
      selectiveScan({ u: x, delta: x, A: tensor([[-1]], { backend: b! }), B: x, C: x }),
    ).toThrow(/selective-scan kernel is not available/);
    b!.destroy();
  });
});
