import {
  Generator,
  type Linear,
  noGrad,
  randn,
  type Tensor,
  tensor,
  tidy,
} from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import { MambaCache, MambaForCausalLM, mambaConfig, projectionRows } from '../src/index.js';
import { LoraLinear } from './adapters.js';
import { relErr, values } from './helpers.js';

const config = mambaConfig({ dModel: 16, nLayer: 2, vocabSize: 23, dState: 4, dtRank: 3 });
const { dInner, dState, dModel, vocabSize } = config;

function model(seed = 1): MambaForCausalLM {
  return new MambaForCausalLM(config, { generator: new Generator(seed) });
}

function small(shape: number[], seed: number, std = 0.3): Tensor {
  return randn(shape, { std, generator: new Generator(seed) });
}

function randomIds(batch: number, len: number, seed: number): number[][] {
  const g = new Generator(seed);
  const u = randn([batch * len], { generator: g }).dataSync();
  return Array.from({ length: batch }, (_, b) =>
    Array.from({ length: len }, (_, t) => Math.floor(Math.abs(u[b * len + t] * 1000)) % vocabSize),
  );
}

/** Logits of the whole sequence by prefill of `k` tokens, then steps of one token. */
function recurrentLogits(
  m: MambaForCausalLM,
  ids: number[][],
  k: number,
  extra: { prefixEmbeds?: Tensor | null } = {},
): number[] {
  const batch = ids.length;
  const len = ids[0].length;
  const out: Float32Array[] = [];
  return noGrad(() => {
    let cache: MambaCache;
    if (k > 0 || extra.prefixEmbeds) {
      const r = m.forward({
        inputIds: ids.map((r) => r.slice(0, k)),
        returnCache: true,
        prefixEmbeds: extra.prefixEmbeds,
      });
      cache = r.cache as MambaCache;
      if (k > 0) out.push(r.logits.dataSync() as Float32Array);
    } else {
      cache = m.newCache(batch);
    }
    const perStep: Float32Array[] = [];
    for (let t = k; t < len; t++) {
      perStep.push(
        m
          .step(
            ids.map((r) => r[t]),
            cache,
          )
          .dataSync() as Float32Array,
      );
    }
    // Reassemble (batch, len, vocab).
    const all: number[] = [];
    const prefill = out[0];
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < len; t++) {
        if (t < k)
          all.push(...prefill.subarray((b * k + t) * vocabSize, (b * k + t + 1) * vocabSize));
        else all.push(...perStep[t - k].subarray(b * vocabSize, (b + 1) * vocabSize));
      }
    }
    return all;
  });
}

function parallelLogits(m: MambaForCausalLM, ids: number[][], prefixEmbeds?: Tensor | null) {
  return noGrad(() => values(m.forward({ inputIds: ids, prefixEmbeds }).logits));
}

type Attach = (m: MambaForCausalLM) => { prefixEmbeds?: Tensor };

const entryPoints: [string, Attach][] = [
  ['plain model', () => ({})],
  [
    'initialState',
    (m) => {
      m.mixers.forEach((x, i) => {
        x.initialState = small([dInner, dState], 10 + i);
      });
      return {};
    },
  ],
  [
    'stateOffset',
    (m) => {
      m.mixers.forEach((x, i) => {
        x.stateOffset = small([dInner, dState], 20 + i);
      });
      return {};
    },
  ],
  [
    'outputOffset',
    (m) => {
      m.mixers.forEach((x, i) => {
        x.outputOffset = small([dInner], 30 + i);
      });
      return {};
    },
  ],
  [
    'extraStates',
    (m) => {
      m.mixers.forEach((x, i) => {
        x.extraStates = {
          A_log: small([dInner, 3], 40 + i, 1),
          B: small([3, dInner], 50 + i),
          C: small([3, dInner], 60 + i),
        };
        x.stateOffset = small([dInner, dState], 70 + i); // padded to the extra states
      });
      return {};
    },
  ],
  [
    'LoRA on x_proj_B and in_proj_z (row ranges)',
    (m) => {
      const rowsOf = projectionRows(config);
      m.mixers.forEach((x, i) => {
        const prefix = `backbone.layers.${i}.mixer`;
        const [bs, be] = rowsOf.x_proj.B;
        m.setSubmodule(
          `${prefix}.x_proj`,
          new LoraLinear(
            x.x_proj as Linear,
            small([2, dInner], 80 + i),
            small([be - bs, 2], 90 + i),
            1,
            [bs, be],
          ),
        );
        const [zs, ze] = rowsOf.in_proj.z;
        m.setSubmodule(
          `${prefix}.in_proj`,
          new LoraLinear(
            x.in_proj as Linear,
            small([2, dModel], 100 + i),
            small([ze - zs, 2], 110 + i),
            1,
            [zs, ze],
          ),
        );
        m.setSubmodule(
          `${prefix}.dt_proj`,
          new LoraLinear(
            x.dt_proj as Linear,
            small([2, config.dtRank], 120 + i),
            small([dInner, 2], 130 + i),
            1,
          ),
        );
      });
      return {};
    },
  ],
  ['prefixEmbeds', () => ({ prefixEmbeds: small([3, dModel], 140) })],
  [
    'everything at once',
    (m) => {
      m.mixers.forEach((x, i) => {
        x.initialState = small([dInner, dState], 150 + i);
        x.stateOffset = small([dInner, dState], 160 + i);
        x.outputOffset = small([dInner], 170 + i);
        x.extraStates = {
          A_log: small([dInner, 2], 180 + i, 1),
          B: small([2, dInner], 190 + i),
          C: small([2, dInner], 200 + i),
        };
      });
      return { prefixEmbeds: small([2, dModel], 210) };
    },
  ],
];

describe.each(entryPoints)('recurrent step equals the parallel forward: %s', (_name, attach) => {
  const ids = randomIds(2, 9, 7);
  for (const k of [0, 1, 2, 5]) {
    it(`prefill of ${k} tokens, then steps`, () => {
      const m = model();
      const { prefixEmbeds } = attach(m);
      const want = parallelLogits(m, ids, prefixEmbeds);
      const got = recurrentLogits(m, ids, k, { prefixEmbeds });
      expect(relErr(got, want)).toBeLessThan(1e-5);
    });
  }

  it('prefill in chunks through a cache', () => {
    const m = model();
    const { prefixEmbeds } = attach(m);
    const want = parallelLogits(m, ids, prefixEmbeds);
    const got = noGrad(() => {
      const a = m.forward({
        inputIds: ids.map((r) => r.slice(0, 4)),
        returnCache: true,
        prefixEmbeds,
      });
      const b = m.forward({ inputIds: ids.map((r) => r.slice(4)), cache: a.cache });
      const va = values(a.logits);
      const vb = values(b.logits);
      const v = vocabSize;
      return ids.flatMap((_, r) => [
        ...va.slice(r * 4 * v, (r + 1) * 4 * v),
        ...vb.slice(r * 5 * v, (r + 1) * 5 * v),
      ]);
    });
    expect(relErr(got, want)).toBeLessThan(1e-5);
  });
});

describe('per-sequence entry-point tensors (multi-adapter batches)', () => {
  it('a batched stateOffset equals running each sequence with its own offset', () => {
    const m = model();
    const ids = randomIds(3, 6, 3);
    const offsets = m.mixers.map((_, i) => small([3, dInner, dState], 300 + i));
    const outputs = m.mixers.map((_, i) => small([3, dInner], 310 + i));
    m.mixers.forEach((x, i) => {
      x.stateOffset = offsets[i];
      x.outputOffset = outputs[i];
    });
    const batched = parallelLogits(m, ids);
    const steps = recurrentLogits(m, ids, 2);
    expect(relErr(steps, batched)).toBeLessThan(1e-5);
    const single: number[] = [];
    for (let b = 0; b < 3; b++) {
      m.mixers.forEach((x, i) => {
        x.stateOffset = offsets[i].select(0, b);
        x.outputOffset = outputs[i].select(0, b);
      });
      single.push(...parallelLogits(m, [ids[b]]));
    }
    expect(relErr(batched, single)).toBeLessThan(1e-6);
  });

  it('adapterRows maps sequences to rows of the batched tensors', () => {
    const m = model();
    const ids = randomIds(2, 5, 4);
    const offsets = m.mixers.map((_, i) => small([3, dInner, dState], 320 + i));
    m.mixers.forEach((x, i) => {
      x.initialState = offsets[i];
    });
    const mapped = noGrad(() => values(m.forward({ inputIds: ids, adapterRows: [2, 0] }).logits));
    m.mixers.forEach((x, i) => {
      x.initialState = offsets[i].select(0, 2);
    });
    const first = parallelLogits(m, [ids[0]]);
    m.mixers.forEach((x, i) => {
      x.initialState = offsets[i].select(0, 0);
    });
    const second = parallelLogits(m, [ids[1]]);
    expect(relErr(mapped, [...first, ...second])).toBeLessThan(1e-6);
  });

  it('reports a batched tensor whose rows do not match the batch', () => {
    const m = model();
    m.mixers[1].stateOffset = small([3, dInner, dState], 1);
    expect(() => m.forward({ inputIds: randomIds(2, 4, 1) })).toThrow(
      /layer 1 mixer: stateOffset has 3 rows/,
    );
  });
});

describe('MambaCache', () => {
  it('owns its states: stepping never releases entry-point tensors or the caller rows', () => {
    const m = model();
    const ids = randomIds(2, 6, 5);
    const initial = m.mixers.map((_, i) => small([2, dInner, dState], 400 + i));
    m.mixers.forEach((x, i) => {
      x.initialState = initial[i];
    });
    const want = parallelLogits(m, ids);
    const got = recurrentLogits(m, ids, 0); // fresh cache from the batched initial state
    expect(relErr(got, want)).toBeLessThan(1e-5);
    for (const t of initial) expect(t.isDisposed).toBe(false);
    const rowsT = tensor(Int32Array.from([1, 0]));
    const { cache } = noGrad(() =>
      m.forward({ inputIds: ids, returnCache: true, adapterRows: rowsT }),
    );
    noGrad(() => m.step([1, 2], cache as MambaCache));
    (cache as MambaCache).dispose();
    expect(rowsT.isDisposed).toBe(false);
    expect(initial.every((t) => !t.isDisposed)).toBe(true);
  });

  it('survives tidy scopes and releases old states as it advances', () => {
    const m = model();
    const { cache } = tidy(() =>
      noGrad(() => m.forward({ inputIds: [[1, 2, 3]], returnCache: true })),
    );
    const c = cache as MambaCache;
    const before = c.layers[0].ssm;
    expect(before.isDisposed).toBe(false);
    tidy(() => noGrad(() => m.step([4], c)));
    expect(before.isDisposed).toBe(true);
    expect(c.layers[0].ssm.isDisposed).toBe(false);
  });

  it('select reorders and repeats rows; concat joins caches', () => {
    const m = model();
    const ids = randomIds(3, 4, 9);
    const { cache } = noGrad(() => m.forward({ inputIds: ids, returnCache: true }));
    const c = cache as MambaCache;
    expect(c.layers[0].conv.shape).toEqual([3, dInner, config.dConv]);
    expect(c.layers[0].ssm.shape).toEqual([3, dInner, dState]);
    const picked = c.select([2, 2, 0]);
    expect(values(picked.layers[1].ssm.select(0, 0))).toEqual(values(c.layers[1].ssm.select(0, 2)));
    const joined = MambaCache.concat([c.select([0]), c.select([1, 2])]);
    expect(values(joined.layers[0].conv)).toEqual(values(c.layers[0].conv));
    expect(() => c.select([3])).toThrow(/out of range/);
  });
});

describe('lastLogitsOnly', () => {
  it('gives the last position of the full forward, with and without prefix embeddings', () => {
    const m = model(3);
    const ids = randomIds(2, 6, 11);
    const prefix = small([3, dModel], 12);
    noGrad(() => {
      for (const prefixEmbeds of [null, prefix]) {
        const full = m.forward({ inputIds: ids, prefixEmbeds }).logits;
        const last = m.forward({ inputIds: ids, prefixEmbeds, lastLogitsOnly: true }).logits;
        expect(last.shape).toEqual([2, 1, vocabSize]);
        const want = values(full.narrow(1, full.shape[1] - 1, 1).contiguous());
        expect(relErr(values(last), want)).toBeLessThan(1e-6);
      }
    });
  });

  it('refuses labels, since it computes no loss', () => {
    const ids = randomIds(1, 4, 5);
    expect(() => model().forward({ inputIds: ids, labels: ids, lastLogitsOnly: true })).toThrow(
      /lastLogitsOnly gives no loss/,
    );
  });
});
