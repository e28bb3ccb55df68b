import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import {
  getBackend,
  type SelectiveScanInputs,
  selectiveScan,
  type Tensor,
  TensorError,
} from '../../src/index.js';
import { loadSafetensors } from '../../src/node.js';
import { fixturesDir, gradcheck, leaf, relErr, values } from '../helpers.js';

interface ScanCase {
  file: string;
  shape: { batch: number; dim: number; seqlen: number; dstate: number };
  delta_softplus: boolean;
  inputs: string[];
}

const dir = join(fixturesDir(), 'scan');
const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as ScanCase[];

/** Fixture names to the op's argument names. */
const ARG: Record<string, string> = {
  u: 'u',
  delta: 'delta',
  A: 'A',
  B: 'B',
  C: 'C',
  D: 'D',
  z: 'z',
  delta_bias: 'deltaBias',
  h0: 'h0',
  state_offset: 'stateOffset',
};

// Tolerances of the fixtures README: relative error 1e-5 forward, 1e-4 gradients.
describe('selectiveScan against the golden fixtures', () => {
  it('finds cases', () => {
    expect(cases.length).toBeGreaterThan(0);
  });

  for (const c of cases) {
    it(`${c.file} (${Object.entries(c.shape)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}, inputs ${c.inputs.join(',')})`, async () => {
      const { tensors } = await loadSafetensors(join(dir, c.file));
      const get = (name: string) => {
        const t = tensors.get(name);
        if (!t) throw new Error(`${c.file} lacks ${name}`);
        return t;
      };
      const args: Record<string, Tensor> = {};
      for (const name of c.inputs) {
        if (name === 'dy') continue;
        args[ARG[name]] = get(name).requiresGrad_();
      }
      const { y, lastState } = selectiveScan({
        ...(args as unknown as SelectiveScanInputs),
        deltaSoftplus: c.delta_softplus,
      });
      expect(relErr(values(y), values(get('expected.y')))).toBeLessThan(1e-5);
      expect(relErr(values(lastState), values(get('expected.last_state')))).toBeLessThan(1e-5);
      y.mul(get('dy')).sum().backward();
      for (const name of c.inputs) {
        if (name === 'dy') continue;
        const grad = args[ARG[name]].grad;
        expect(grad, `gradient of ${name}`).not.toBeNull();
        const err = relErr(values(grad as Tensor), values(get(`expected.grad.${name}`)));
        expect(err, `gradient of ${name}`).toBeLessThan(1e-4);
      }
    });
  }
});

describe('selectiveScan op', () => {
  const make = (b: number, d: number, l: number, n: number) => ({
    u: leaf([b, d, l], 1).cast('float32'),
    delta: leaf([b, d, l], 2, -0.5).cast('float32'),
    A: leaf([d, n], 3, -1.5).cast('float32'),
    B: leaf([b, n, l], 4).cast('float32'),
    C: leaf([b, n, l], 5).cast('float32'),
  });

  it('takes per-batch initial states and offsets, equal to running each sequence alone', () => {
    const x = make(2, 3, 7, 4);
    const h0 = leaf([2, 3, 4], 6).cast('float32');
    const off = leaf([2, 3, 4], 7).cast('float32');
    const both = selectiveScan({ ...x, deltaSoftplus: true, h0, stateOffset: off });
    for (let b = 0; b < 2; b++) {
      const one = (t: Tensor) => t.slice(0, b, b + 1);
      const alone = selectiveScan({
        u: one(x.u),
        delta: one(x.delta),
        A: x.A,
        B: one(x.B),
        C: one(x.C),
        deltaSoftplus: true,
        h0: h0.select(0, b),
        stateOffset: off.select(0, b),
      });
      expect(relErr(values(one(both.y)), values(alone.y))).toBeLessThan(1e-6);
      expect(relErr(values(one(both.lastState)), values(alone.lastState))).toBeLessThan(1e-6);
    }
  });

  it('continues from its last state: two halves equal one whole', () => {
    const x = make(1, 4, 10, 3);
    const whole = selectiveScan({ ...x, deltaSoftplus: true });
    const half = (t: Tensor, s: number, e: number) => t.slice(2, s, e);
    const first = selectiveScan({
      u: half(x.u, 0, 6),
      delta: half(x.delta, 0, 6),
      A: x.A,
      B: half(x.B, 0, 6),
      C: half(x.C, 0, 6),
      deltaSoftplus: true,
    });
    const second = selectiveScan({
      u: half(x.u, 6, 10),
      delta: half(x.delta, 6, 10),
      A: x.A,
      B: half(x.B, 6, 10),
      C: half(x.C, 6, 10),
      deltaSoftplus: true,
      h0: first.lastState,
    });
    expect(relErr(values(second.y), values(half(whole.y, 6, 10)))).toBeLessThan(1e-6);
    expect(relErr(values(second.lastState), values(whole.lastState))).toBeLessThan(1e-6);
  });

  it('passes gradients through lastState (finite differences on float32 inputs)', () => {
    // The scan is float32-only, so this check uses a larger step and tolerance than the float64 ones.
    const x = make(1, 2, 5, 3);
    x.u = x.u.detach();
    const h0 = leaf([2, 3], 8).cast('float32').detach().requiresGrad_();
    const u = x.u.requiresGrad_();
    const f = (uu: Tensor, hh: Tensor) => {
      const r = selectiveScan({ ...x, u: uu, h0: hh, deltaSoftplus: true });
      return r.lastState.sum().add(r.y.sum());
    };
    expect(gradcheck(f, [u, h0], 1e-2)).toBeLessThan(2e-3);
  });

  it('saves no checkpoints when no input needs a gradient, and does when one does', () => {
    const x = make(1, 2, 4, 2);
    const plain = Object.fromEntries(
      Object.entries(x).map(([k, t]) => [k, t.detach()]),
    ) as typeof x;
    const spy = vi.spyOn(getBackend(), 'selectiveScan');
    try {
      const r = selectiveScan(plain);
      expect(r.y.gradFn).toBeNull();
      expect(spy.mock.calls[0][0].saveCheckpoints).toBe(false);
      const trained = selectiveScan({ ...plain, u: plain.u.detach().requiresGrad_() });
      expect(trained.y.gradFn).not.toBeNull();
      expect(spy.mock.calls[1][0].saveCheckpoints).toBe(true);
    } finally {
      spy.mockRestore();
    }
  });

  it('rejects bad shapes and dtypes, naming the input and the expected layout', () => {
    const x = make(2, 3, 5, 4);
    expect(() => selectiveScan({ ...x, B: leaf([2, 3, 5], 1).cast('float32') })).toThrow(
      /selectiveScan: B must be \(batch, dstate, seqlen\) = \[2, 4, 5\], got \[2, 3, 5\]/,
    );
    expect(() => selectiveScan({ ...x, u: leaf([2, 3, 5], 1) })).toThrow(
      /u must be float32.*float64/,
    );
    expect(() => selectiveScan({ ...x, h0: leaf([3, 5], 1).cast('float32') })).toThrow(
      /h0 must be \(dim, dstate\) or \(batch, dim, dstate\) = \[3, 4\]/,
    );
    expect(() => selectiveScan({ ...x, A: leaf([4, 4], 1).cast('float32') })).toThrow(TensorError);
  });
});
