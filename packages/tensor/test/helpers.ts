import { fileURLToPath } from 'node:url';
import { type HostArray, noGrad, type Tensor, tensor } from '../src/index.js';

/** The fixture folder: STATETUNE_FIXTURES when set, else the repository's copy. */
export function fixturesDir(): string {
  return (
    process.env.STATETUNE_FIXTURES ?? fileURLToPath(new URL('../../../fixtures', import.meta.url))
  );
}

/** ||got - expected|| / ||expected|| (absolute norm when expected is all zeros). */
export function relErr(got: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (got.length !== expected.length) {
    throw new Error(`length mismatch: got ${got.length}, expected ${expected.length}`);
  }
  let num = 0;
  let den = 0;
  for (let i = 0; i < got.length; i++) {
    const d = got[i] - expected[i];
    num += d * d;
    den += expected[i] * expected[i];
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** Values of a tensor as a plain number array. */
export function values(t: Tensor): number[] {
  return Array.from(t.dataSync() as HostArray);
}

/**
 * Checks autograd against central finite differences: for every input (float64, requiring
 * grad), d(sum(f(inputs) * w))/d(input) with a fixed random weight w, so every output
 * element matters. Returns the worst relative error over the inputs.
 */
export function gradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], eps = 1e-6): number {
  for (const x of inputs) {
    if (!x.isContiguous)
      throw new Error('gradcheck perturbs memory in place: pass contiguous inputs');
    x.grad = null;
  }
  const out = f(...inputs);
  const w = tensor(
    Array.from({ length: out.size }, (_, i) => Math.sin(i * 1.7 + 0.3) + 0.5),
    { dtype: out.dtype, shape: out.shape },
  );
  out.mul(w).sum().backward();
  let worst = 0;
  const objective = () =>
    noGrad(() =>
      f(...inputs)
        .mul(w)
        .sum()
        .item(),
    );
  for (const x of inputs) {
    if (!x.requiresGrad) continue;
    const analytic = x.grad ? values(x.grad) : new Array(x.size).fill(0);
    const numeric = new Array<number>(x.size);
    const flat = x.kernelView().data as HostArray;
    for (let i = 0; i < x.size; i++) {
      const at = x.offset + i;
      const orig = flat[at];
      flat[at] = orig + eps;
      const up = objective();
      flat[at] = orig - eps;
      const down = objective();
      flat[at] = orig;
      numeric[i] = (up - down) / (2 * eps);
    }
    worst = Math.max(worst, relErr(analytic, numeric));
  }
  return worst;
}

/** A float64 leaf with deterministic pseudo-random values in [-1, 1) (plus `shift`). */
export function leaf(shape: number[], seed = 1, shift = 0): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  const v = Array.from({ length: n }, (_, i) => Math.sin((i + 1) * 12.9898 * seed) * 0.999 + shift);
  return tensor(v, { dtype: 'float64', shape, requiresGrad: true });
}

/** Values of a tensor's gradient (an error when it has none). */
export function gradValues(t: Tensor): number[] {
  if (!t.grad) throw new Error(`tensor ${t.name ?? ''} has no gradient`);
  return values(t.grad);
}

/** Writes values into a parameter, as `with torch.no_grad(): p.copy_(v)`. */
export function setValue(target: Tensor, source: Tensor): void {
  noGrad(() => target.assign(source));
}

/** Deterministic uniform 32-bit integers (mulberry32), for test inputs independent of the RNG under test. */
export function randomUint32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Deterministic uniform numbers in [0, 1) from {@link randomUint32}. */
export function mulberry32(seed: number): () => number {
  const next = randomUint32(seed);
  return () => next() / 4294967296;
}

/** `length` float32 values uniform in [lo, hi). */
export function uniform(rand: () => number, length: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = lo + (hi - lo) * rand();
  return out;
}

/**
 * `length` float32 values uniform in [-1, 1) from {@link randomUint32}, so failures reproduce;
 * `shared` puts them in a SharedArrayBuffer (memory the CPU workers read in place).
 */
export function randomFloats(length: number, seed: number, shared = false): Float32Array {
  const x = shared ? new Float32Array(new SharedArrayBuffer(length * 4)) : new Float32Array(length);
  const next = randomUint32(seed);
  for (let i = 0; i < length; i++) x[i] = next() / 2 ** 31 - 1;
  return x;
}
