import { Generator, type Linear, type Tensor } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import { MambaForCausalLM, MambaModelError, mambaConfig } from '../src/index.js';
import { values } from './helpers.js';

const config = mambaConfig({ dModel: 32, nLayer: 4, vocabSize: 50, dState: 6, dtRank: 4 });

describe("Mamba's random initialisation", () => {
  const model = new MambaForCausalLM(config, { generator: new Generator(5) });
  const mixer = model.mixers[0];

  it('A_log = log(1..dState) on every channel, D = 1', () => {
    const a = values(mixer.A_log);
    for (let d = 0; d < config.dInner; d++) {
      for (let n = 0; n < config.dState; n++) {
        expect(a[d * config.dState + n]).toBeCloseTo(Math.log(n + 1), 6);
      }
    }
    expect(values(mixer.D).every((v) => v === 1)).toBe(true);
  });

  it('softplus(dt_proj.bias) lies in [dtMin, dtMax] and dt_proj.weight in ±dtRank^-0.5', () => {
    const dt = values((mixer.dt_proj as Linear).bias as Tensor).map((b) => Math.log1p(Math.exp(b)));
    expect(Math.min(...dt)).toBeGreaterThanOrEqual(config.dtMin * (1 - 1e-4));
    expect(Math.max(...dt)).toBeLessThanOrEqual(config.dtMax * (1 + 1e-4));
    // log-uniform: the median is near the geometric mean of the range.
    const sorted = [...dt].sort((x, y) => x - y);
    expect(Math.log(sorted[sorted.length >> 1])).toBeCloseTo(
      (Math.log(config.dtMin) + Math.log(config.dtMax)) / 2,
      0,
    );
    const bound = config.dtRank ** -0.5;
    const w = values((mixer.dt_proj as Linear).weight);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(bound * 0.5);
  });

  it('out_proj is rescaled by 1/sqrt(nLayer); the embedding has std 0.02', () => {
    const w = values((mixer.out_proj as Linear).weight);
    const bound = 1 / Math.sqrt(config.dInner) / Math.sqrt(config.nLayer);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(bound * 0.9);
    const e = values(model.backbone.embeddings.weight);
    const std = Math.sqrt(e.reduce((s, v) => s + v * v, 0) / e.length);
    expect(std).toBeGreaterThan(0.018);
    expect(std).toBeLessThan(0.022);
  });

  it('is reproducible with a seeded generator', () => {
    const again = new MambaForCausalLM(config, { generator: new Generator(5) });
    const other = new MambaForCausalLM(config, { generator: new Generator(6) });
    const w = (m: MambaForCausalLM) => values((m.mixers[2].in_proj as Linear).weight);
    expect(w(again)).toEqual(w(model));
    expect(w(other)).not.toEqual(w(model));
  });

  it('an untied head is its own Linear', () => {
    const m = new MambaForCausalLM({ ...config, tieEmbeddings: false });
    expect(m.stateDict().get('lm_head.weight')).not.toBe(m.backbone.embeddings.weight);
    expect(m.namedParameters().map(([n]) => n)).toContain('lm_head.weight');
  });

  it('reports inputs of the wrong shape', () => {
    expect(() => model.forward({ inputIds: [[1, 2], [3]] })).toThrow(MambaModelError);
    expect(() => model.forward({ inputIds: [[1, 2]], labels: [[1, 2, 3]] })).toThrow(
      /labels must be/,
    );
    model.mixers[1].initialState = model.mixers[1].A_log.reshape(-1);
    expect(() => model.forward({ inputIds: [[1, 2]] })).toThrow(/layer 1 mixer: initialState/);
    model.mixers[1].initialState = null;
  });
});
