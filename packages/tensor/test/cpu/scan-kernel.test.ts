import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { setCpuThreads, shutdownPool } from '../../src/cpu/pool.js';
import {
  configureScanKernel,
  type ScanGrads,
  type ScanInputs,
  type ScanShape,
  scanChunkSize,
  scanWorkerStats,
  selectiveScanBackward,
  selectiveScanForward,
} from '../../src/cpu/scan.js';
import { mulberry32, uniform } from '../helpers.js';

// The kernels are checked against a float64 reference that stores every state and whose
// backward is written directly from the chain rule; the reference itself is checked by
// finite differences. Every kernel path runs the same cases: WebAssembly SIMD on one thread
// and split over worker threads, and the JS fallback (on one thread and on workers).

const FORWARD_TOL = 1e-5;
const GRAD_TOL = 1e-4;

type Field = 'u' | 'delta' | 'A' | 'B' | 'C' | 'D' | 'z' | 'deltaBias' | 'h0' | 'stateOffset';
const FIELDS: readonly Field[] = [
  'u',
  'delta',
  'A',
  'B',
  'C',
  'D',
  'z',
  'deltaBias',
  'h0',
  'stateOffset',
];
const GRAD_OF: Record<Field, keyof ScanGrads> = {
  u: 'du',
  delta: 'ddelta',
  A: 'dA',
  B: 'dB',
  C: 'dC',
  D: 'dD',
  z: 'dz',
  deltaBias: 'ddeltaBias',
  h0: 'dh0',
  stateOffset: 'dStateOffset',
};

type Placement = 'none' | 'shared' | 'perBatch';

interface Case {
  shape: ScanShape;
  hasD: boolean;
  hasZ: boolean;
  hasBias: boolean;
  softplus: boolean;
  h0: Placement;
  offset: Placement;
  hasDLast: boolean;
  /** Put `delta + deltaBias` on both sides of softplus's threshold (20). */
  nearThreshold?: boolean;
}

interface Problem {
  inputs: ScanInputs;
  dout: Float32Array;
  dLast: Float32Array | null;
}

/** Reference inputs: the same values as a {@link Problem}, as float64. */
interface RefInputs {
  shape: ScanShape;
  arrays: Record<Field, Float64Array | null>;
  deltaSoftplus: boolean;
  h0PerBatch: boolean;
  offsetPerBatch: boolean;
  dout: Float64Array;
  dLast: Float64Array | null;
}

function makeProblem(c: Case, seed: number): Problem {
  const rand = mulberry32(seed);
  const { batch, dim, seqlen, dstate } = c.shape;
  const bdl = batch * dim * seqlen;
  const stateLength = (p: Placement) => (p === 'perBatch' ? batch : 1) * dim * dstate;
  const deltaBias = c.hasBias ? uniform(rand, dim, c.softplus ? -0.5 : 0, 0.2) : null;
  let delta: Float32Array;
  if (c.nearThreshold) {
    delta = uniform(rand, bdl, 17, 23);
    // Keep v = delta + bias clear of the threshold so finite differences stay on one branch.
    for (let i = 0; i < bdl; i++) {
      const bias = deltaBias ? deltaBias[Math.floor(i / seqlen) % dim] : 0;
      const v = delta[i] + bias;
      if (Math.abs(v - 20) < 0.1) delta[i] += v < 20 ? -0.2 : 0.2;
    }
  } else {
    delta = c.softplus ? uniform(rand, bdl, -3, 1) : uniform(rand, bdl, 0.01, 0.5);
  }
  const inputs: ScanInputs = {
    shape: c.shape,
    u: uniform(rand, bdl, -1, 1),
    delta,
    A: uniform(rand, dim * dstate, -2, -0.2),
    B: uniform(rand, batch * dstate * seqlen, -1, 1),
    C: uniform(rand, batch * dstate * seqlen, -1, 1),
    D: c.hasD ? uniform(rand, dim, -1, 1) : null,
    z: c.hasZ ? uniform(rand, bdl, -2, 2) : null,
    deltaBias,
    deltaSoftplus: c.softplus,
    h0: c.h0 === 'none' ? null : uniform(rand, stateLength(c.h0), -1, 1),
    h0PerBatch: c.h0 === 'perBatch',
    stateOffset: c.offset === 'none' ? null : uniform(rand, stateLength(c.offset), -1, 1),
    offsetPerBatch: c.offset === 'perBatch',
  };
  return {
    inputs,
    dout: uniform(rand, bdl, -1, 1),
    dLast: c.hasDLast ? uniform(rand, batch * dim * dstate, -1, 1) : null,
  };
}

function toRef(p: Problem): RefInputs {
  const f64 = (a: Float32Array | null) => (a === null ? null : Float64Array.from(a));
  const arrays = {} as Record<Field, Float64Array | null>;
  for (const f of FIELDS) arrays[f] = f64(p.inputs[f]);
  return {
    shape: p.inputs.shape,
    arrays,
    deltaSoftplus: p.inputs.deltaSoftplus,
    h0PerBatch: p.inputs.h0PerBatch,
    offsetPerBatch: p.inputs.offsetPerBatch,
    dout: Float64Array.from(p.dout),
    dLast: f64(p.dLast),
  };
}

interface RefForward {
  out: Float64Array;
  /** Output before the gate. */
  y: Float64Array;
  lastState: Float64Array;
  /** Every state, (batch, dim, seqlen + 1, dstate); index 0 is h0. */
  states: Float64Array;
  /** (batch, dim, seqlen). */
  dt: Float64Array;
  /** d dt / d (delta + bias), (batch, dim, seqlen). */
  dtPrime: Float64Array;
}

function refForward(r: RefInputs): RefForward {
  const { batch, dim, seqlen: L, dstate: N } = r.shape;
  const { u, delta, A, B, C, D, z, deltaBias, h0, stateOffset } = r.arrays as Record<
    Field,
    Float64Array
  >;
  const out = new Float64Array(batch * dim * L);
  const y = new Float64Array(batch * dim * L);
  const lastState = new Float64Array(batch * dim * N);
  const states = new Float64Array(batch * dim * (L + 1) * N);
  const dt = new Float64Array(batch * dim * L);
  const dtPrime = new Float64Array(batch * dim * L);
  const st = (b: number, d: number, t: number, n: number) => ((b * dim + d) * (L + 1) + t) * N + n;
  for (let b = 0; b < batch; b++) {
    for (let d = 0; d < dim; d++) {
      for (let n = 0; n < N; n++) {
        const i = ((r.h0PerBatch ? b * dim : 0) + d) * N + n;
        states[st(b, d, 0, n)] = h0 ? h0[i] : 0;
      }
      for (let t = 0; t < L; t++) {
        const i = (b * dim + d) * L + t;
        const v = delta[i] + (deltaBias ? deltaBias[d] : 0);
        if (r.deltaSoftplus) {
          dt[i] = v > 20 ? v : Math.log1p(Math.exp(v));
          dtPrime[i] = v > 20 ? 1 : 1 / (1 + Math.exp(-v));
        } else {
          dt[i] = v;
          dtPrime[i] = 1;
        }
        let yt = D ? D[d] * u[i] : 0;
        for (let n = 0; n < N; n++) {
          const bn = B[(b * N + n) * L + t];
          const cn = C[(b * N + n) * L + t];
          const h = Math.exp(dt[i] * A[d * N + n]) * states[st(b, d, t, n)] + dt[i] * bn * u[i];
          states[st(b, d, t + 1, n)] = h;
          const off = stateOffset ? stateOffset[((r.offsetPerBatch ? b * dim : 0) + d) * N + n] : 0;
          yt += cn * (h + off);
        }
        y[i] = yt;
        out[i] = z ? yt * (z[i] / (1 + Math.exp(-z[i]))) : yt;
      }
      for (let n = 0; n < N; n++) lastState[(b * dim + d) * N + n] = states[st(b, d, L, n)];
    }
  }
  return { out, y, lastState, states, dt, dtPrime };
}

function refLoss(r: RefInputs): number {
  const f = refForward(r);
  let loss = 0;
  for (let i = 0; i < f.out.length; i++) loss += f.out[i] * r.dout[i];
  if (r.dLast) for (let i = 0; i < f.lastState.length; i++) loss += f.lastState[i] * r.dLast[i];
  return loss;
}

function refBackward(r: RefInputs): Record<Field, Float64Array | null> {
  const { batch, dim, seqlen: L, dstate: N } = r.shape;
  const { u, A, B, C, D, z, stateOffset } = r.arrays as Record<Field, Float64Array>;
  const f = refForward(r);
  const g = {} as Record<Field, Float64Array | null>;
  for (const k of FIELDS) {
    const a = r.arrays[k];
    g[k] = a === null ? null : new Float64Array(a.length);
  }
  const st = (b: number, d: number, t: number, n: number) => ((b * dim + d) * (L + 1) + t) * N + n;
  const dh = new Float64Array((L + 1) * N); // dL/d state[t], t = 0..L (state index, 0 is h0)

  for (let b = 0; b < batch; b++) {
    for (let d = 0; d < dim; d++) {
      const io = (t: number) => (b * dim + d) * L + t;
      const bc = (n: number, t: number) => (b * N + n) * L + t;
      const oi = (n: number) => ((r.offsetPerBatch ? b * dim : 0) + d) * N + n;
      // dL/dy (pre-gate) and dz.
      const dy = new Float64Array(L);
      for (let t = 0; t < L; t++) {
        const i = io(t);
        if (z) {
          const s = 1 / (1 + Math.exp(-z[i]));
          dy[t] = r.dout[i] * z[i] * s;
          g.z![i] = r.dout[i] * f.y[i] * (s + z[i] * s * (1 - s));
        } else {
          dy[t] = r.dout[i];
        }
      }
      // dL/dh_t: through y_t, and through h_{t+1} = a_{t+1} h_t + ...
      for (let n = 0; n < N; n++) dh[L * N + n] = r.dLast ? r.dLast[(b * dim + d) * N + n] : 0;
      for (let t = L - 1; t >= 0; t--) {
        for (let n = 0; n < N; n++) {
          dh[(t + 1) * N + n] += dy[t] * C[bc(n, t)];
          dh[t * N + n] = Math.exp(f.dt[io(t)] * A[d * N + n]) * dh[(t + 1) * N + n];
        }
      }
      if (g.h0) {
        for (let n = 0; n < N; n++) g.h0[((r.h0PerBatch ? b * dim : 0) + d) * N + n] += dh[n];
      }
      for (let t = 0; t < L; t++) {
        const i = io(t);
        const dti = f.dt[i];
        if (D) {
          g.D![d] += dy[t] * u[i];
          g.u![i] += dy[t] * D[d];
        }
        let ddt = 0;
        for (let n = 0; n < N; n++) {
          const hPrev = f.states[st(b, d, t, n)];
          const h = f.states[st(b, d, t + 1, n)];
          const a = Math.exp(dti * A[d * N + n]);
          const gh = dh[(t + 1) * N + n];
          const off = stateOffset ? stateOffset[oi(n)] : 0;
          g.C![bc(n, t)] += dy[t] * (h + off);
          if (g.stateOffset) g.stateOffset[oi(n)] += dy[t] * C[bc(n, t)];
          g.A![d * N + n] += gh * hPrev * a * dti;
          g.B![bc(n, t)] += gh * dti * u[i];
          g.u![i] += gh * dti * B[bc(n, t)];
          ddt += gh * (hPrev * a * A[d * N + n] + B[bc(n, t)] * u[i]);
        }
        g.delta![i] = ddt * f.dtPrime[i];
        if (g.deltaBias) g.deltaBias[d] += ddt * f.dtPrime[i];
      }
    }
  }
  return g;
}

function relError(got: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(got.length).toBe(expected.length);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < got.length; i++) {
    diff += (got[i] - expected[i]) ** 2;
    norm += expected[i] ** 2;
  }
  return norm === 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
}

/** Reference results of each problem, computed once and shared by the kernel paths. */
const references = new WeakMap<
  Problem,
  { want: RefForward; wantGrads: Record<Field, Float64Array | null> }
>();

function reference(p: Problem) {
  let r = references.get(p);
  if (r === undefined) {
    const ref = toRef(p);
    r = { want: refForward(ref), wantGrads: refBackward(ref) };
    references.set(p, r);
  }
  return r;
}

function checkAgainstReference(p: Problem, chunkSize: number | undefined): void {
  const { want, wantGrads } = reference(p);
  const fwd = selectiveScanForward(p.inputs, { saveCheckpoints: true, chunkSize });
  expect(relError(fwd.y, want.out)).toBeLessThan(FORWARD_TOL);
  expect(relError(fwd.lastState, want.lastState)).toBeLessThan(FORWARD_TOL);

  const { batch, dim, seqlen: L, dstate: N } = p.inputs.shape;
  const chunk = fwd.chunkSize;
  expect(chunk).toBe(chunkSize ?? scanChunkSize(L));
  const nChunks = Math.ceil(L / chunk);
  const wantCheckpoints = new Float64Array(batch * dim * nChunks * N);
  for (let bd = 0; bd < batch * dim; bd++) {
    for (let c = 0; c < nChunks; c++) {
      for (let n = 0; n < N; n++) {
        wantCheckpoints[(bd * nChunks + c) * N + n] =
          want.states[(bd * (L + 1) + c * chunk) * N + n];
      }
    }
  }
  expect(relError(fwd.checkpoints, wantCheckpoints)).toBeLessThan(FORWARD_TOL);

  const grads = selectiveScanBackward(p.inputs, fwd, p.dout, p.dLast);
  for (const f of FIELDS) {
    const got = grads[GRAD_OF[f]];
    const expected = wantGrads[f];
    if (expected === null) {
      expect(got, GRAD_OF[f]).toBeNull();
    } else {
      expect(got, GRAD_OF[f]).not.toBeNull();
      expect(relError(got!, expected), GRAD_OF[f]).toBeLessThan(GRAD_TOL);
    }
  }
}

/**
 * Every combination of optional inputs, on sizes that cycle through odd ones: dim off the
 * 4-channel vectors (1 to 9), dstate odd and even up to 16, seqlen from 1 across chunks.
 */
function allCases(): Case[] {
  const seqlens = [1, 2, 5, 7, 10, 64, 67, 130];
  const dstates = [1, 2, 3, 5, 8, 13, 16];
  const dims = [1, 3, 5, 6, 9];
  const placements: Placement[] = ['none', 'shared', 'perBatch'];
  const cases: Case[] = [];
  let i = 0;
  for (const hasD of [false, true])
    for (const hasZ of [false, true])
      for (const hasBias of [false, true])
        for (const softplus of [false, true])
          for (const h0 of placements)
            for (const offset of placements)
              for (const hasDLast of [false, true]) {
                const shape = {
                  batch: 1 + (i % 2),
                  dim: dims[i % dims.length],
                  seqlen: seqlens[i % seqlens.length],
                  dstate: dstates[i % dstates.length],
                };
                cases.push({ shape, hasD, hasZ, hasBias, softplus, h0, offset, hasDLast });
                i++;
              }
  return cases;
}

function describeCase(c: Case): string {
  const { batch, dim, seqlen, dstate } = c.shape;
  const parts = [`b${batch} d${dim} l${seqlen} n${dstate}`];
  if (c.hasD) parts.push('D');
  if (c.hasZ) parts.push('z');
  if (c.hasBias) parts.push('deltaBias');
  if (c.softplus) parts.push('softplus');
  if (c.h0 !== 'none') parts.push(`h0 ${c.h0}`);
  if (c.offset !== 'none') parts.push(`offset ${c.offset}`);
  if (c.hasDLast) parts.push('dLastState');
  if (c.nearThreshold) parts.push('near threshold');
  return parts.join(', ');
}

const FULL: Omit<Case, 'shape'> = {
  hasD: true,
  hasZ: true,
  hasBias: true,
  softplus: true,
  h0: 'shared',
  offset: 'shared',
  hasDLast: true,
};

describe('selective-scan reference', () => {
  const cases: Case[] = [
    { ...FULL, shape: { batch: 2, dim: 2, seqlen: 6, dstate: 3 } },
    {
      ...FULL,
      hasZ: false,
      softplus: false,
      h0: 'perBatch',
      offset: 'perBatch',
      shape: { batch: 2, dim: 3, seqlen: 5, dstate: 2 },
    },
    { ...FULL, nearThreshold: true, shape: { batch: 1, dim: 2, seqlen: 4, dstate: 2 } },
  ];

  it.each(cases.map((c, i) => [describeCase(c), c, i] as const))(
    'gradients match finite differences (%s)',
    (_name, c, i) => {
      const ref = toRef(makeProblem(c, 1000 + i));
      const grads = refBackward(ref);
      const rand = mulberry32(2000 + i);
      for (const f of FIELDS) {
        const x = ref.arrays[f];
        if (x === null) continue;
        for (let k = 0; k < 4; k++) {
          const j = Math.floor(rand() * x.length);
          const saved = x[j];
          const eps = 1e-6 * Math.max(1, Math.abs(saved));
          x[j] = saved + eps;
          const plus = refLoss(ref);
          x[j] = saved - eps;
          const minus = refLoss(ref);
          x[j] = saved;
          const fd = (plus - minus) / (2 * eps);
          const analytic = grads[f]![j];
          expect(
            Math.abs(fd - analytic),
            `${f}[${j}]: fd ${fd}, analytic ${analytic}`,
          ).toBeLessThan(1e-6 * (1 + Math.abs(analytic)));
        }
      }
    },
  );
});

interface KernelPath {
  name: string;
  simd: boolean;
  threads: number;
}

const PATHS: KernelPath[] = [
  { name: 'WebAssembly SIMD, one thread', simd: true, threads: 1 },
  { name: 'WebAssembly SIMD, two threads', simd: true, threads: 2 },
  { name: 'JS fallback, one thread', simd: false, threads: 1 },
  { name: 'JS fallback, two threads', simd: false, threads: 2 },
];

const ALL_CASES = allCases().map((c, i) => [describeCase(c), makeProblem(c, i)] as const);

afterAll(() => shutdownPool());

describe.each(PATHS)('selectiveScanForward / selectiveScanBackward: $name', (path) => {
  let simdInUse: boolean | undefined;

  beforeAll(async () => {
    // Threaded paths split every scan, however small, and wait for the worker to be up so
    // that it takes part from the first case on.
    simdInUse = configureScanKernel({
      simd: path.simd,
      parallelMinStates: path.threads > 1 ? 0 : Number.POSITIVE_INFINITY,
    });
    setCpuThreads(path.threads);
    if (path.threads > 1) {
      const p = makeProblem({ ...FULL, shape: { batch: 2, dim: 9, seqlen: 8, dstate: 2 } }, 1);
      selectiveScanForward(p.inputs);
      await vi.waitFor(() => expect(scanWorkerStats().ready).toBe(path.threads - 1), {
        timeout: 20_000,
      });
    }
  });
  afterAll(() => {
    configureScanKernel({});
    setCpuThreads('auto');
  });

  it(`runs the ${path.simd ? 'WebAssembly SIMD' : 'JS'} kernel`, () => {
    expect(simdInUse).toBe(path.simd);
  });

  it.each(ALL_CASES)('match the float64 reference (%s)', (_name, p) => {
    for (const chunkSize of [1, 3, 64, undefined]) checkAgainstReference(p, chunkSize);
  });

  it('match the reference for every dstate from 1 to 16, dim off the vector width', () => {
    for (let dstate = 1; dstate <= 16; dstate++) {
      const c: Case = {
        ...FULL,
        offset: 'perBatch',
        shape: { batch: 2, dim: 7, seqlen: 9, dstate },
      };
      checkAgainstReference(makeProblem(c, 100 + dstate), 4);
    }
  });

  it('match the reference over 2100 steps', () => {
    const c: Case = { ...FULL, shape: { batch: 1, dim: 5, seqlen: 2100, dstate: 3 } };
    checkAgainstReference(makeProblem(c, 11), undefined);
  });

  it('match the reference when a task spans many channel groups (dB, dC sums)', () => {
    // 600 channels: 150 groups of 4 in 15 blocks of 40, so the float32 dB/dC sums of a
    // block are flushed to float64 after 8 groups and again at the block's end.
    const c: Case = {
      ...FULL,
      h0: 'perBatch',
      shape: { batch: 2, dim: 600, seqlen: 12, dstate: 3 },
    };
    checkAgainstReference(makeProblem(c, 12), 5);
  });

  it('match the reference on both sides of the softplus threshold', () => {
    const c: Case = {
      ...FULL,
      nearThreshold: true,
      shape: { batch: 2, dim: 3, seqlen: 9, dstate: 4 },
    };
    checkAgainstReference(makeProblem(c, 7), 4);
  });

  it('match the reference at a Mamba-like width over several chunks', () => {
    const c: Case = { ...FULL, shape: { batch: 2, dim: 8, seqlen: 200, dstate: 16 } };
    checkAgainstReference(makeProblem(c, 8), undefined);
  });

  it('save no checkpoints unless asked, and give the same output', () => {
    const p = makeProblem({ ...FULL, shape: { batch: 1, dim: 2, seqlen: 9, dstate: 3 } }, 9);
    const inference = selectiveScanForward(p.inputs, { chunkSize: 4 });
    const training = selectiveScanForward(p.inputs, { saveCheckpoints: true, chunkSize: 4 });
    expect(inference.checkpoints.length).toBe(0);
    expect(training.checkpoints.length).toBe(1 * 2 * 3 * 3);
    expect(inference.y).toEqual(training.y);
    expect(inference.lastState).toEqual(training.lastState);
    expect(() => selectiveScanBackward(p.inputs, inference, p.dout, p.dLast)).toThrow(
      /checkpoints has length 0, expected 18/,
    );
  });

  it('reject arrays whose length does not match the shape, naming them', () => {
    const p = makeProblem({ ...FULL, shape: { batch: 2, dim: 3, seqlen: 4, dstate: 2 } }, 10);
    const bad = { ...p.inputs, C: new Float32Array(5) };
    expect(() => selectiveScanForward(bad)).toThrow(/C has length 5, expected 16/);
    const badH0 = { ...p.inputs, h0PerBatch: true };
    expect(() => selectiveScanForward(badH0)).toThrow(/h0 has length 6, expected 12/);
    const fwd = selectiveScanForward(p.inputs, { saveCheckpoints: true });
    expect(() => selectiveScanBackward(p.inputs, fwd, new Float32Array(3), null)).toThrow(
      /dout has length 3, expected 24/,
    );
    expect(() => selectiveScanForward(p.inputs, { saveCheckpoints: true, chunkSize: 0 })).toThrow(
      /chunkSize/,
    );
  });

  it('pick a chunk size between 1 and the sequence length', () => {
    for (const L of [1, 5, 64, 256, 4096]) {
      const c = scanChunkSize(L);
      expect(c).toBeGreaterThanOrEqual(1);
      expect(c).toBeLessThanOrEqual(L);
    }
  });
});
