import { noGrad, type Tensor } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import {
  AdditionalScanAdapter,
  countAdapterParameters,
  getPeftModel,
  PAPER_EXTRA_A_LOG,
} from '../src/index.js';
import {
  bad,
  expectLossFell,
  MAMBA_130M,
  microIds,
  microModel,
  tinyModel,
  trainLosses,
  values,
} from './helpers.js';

function params(peft: ReturnType<typeof getPeftModel>): Map<string, Tensor> {
  return new Map(peft.adapter().namedParameters());
}

describe('ADDITIONAL_SCAN', () => {
  it('counts 884,736 parameters on mamba-130m with 8 extra states, as the paper', () => {
    expect(MAMBA_130M.dInner).toBe(1536);
    expect(MAMBA_130M.dtRank).toBe(48);
    expect(countAdapterParameters(MAMBA_130M, { peft_type: 'ADDITIONAL_SCAN', d_state: 8 })).toBe(
      884_736,
    );
    expect(
      countAdapterParameters(MAMBA_130M, {
        peft_type: 'ADDITIONAL_SCAN',
        d_state: 2,
        layers_to_transform: [3],
      }),
    ).toBe(3 * 2 * 1536);
  });

  it('the count from the config equals the created adapter on a model', () => {
    for (const [d_state, layers] of [
      [8, null],
      [3, [1]],
      [1, [0, 2]],
    ] as const) {
      const model = microModel();
      const config = {
        peft_type: 'ADDITIONAL_SCAN',
        d_state,
        layers_to_transform: layers,
      } as const;
      const peft = getPeftModel(model, config);
      expect(peft.getNbTrainableParameters().trainable).toBe(
        countAdapterParameters(model.config, config),
      );
    }
  });

  it("init 'paper' (default): A_log 16, B kaiming-uniform (fan-in dInner), C zero", () => {
    const peft = getPeftModel(microModel(), { peft_type: 'ADDITIONAL_SCAN', d_state: 3 });
    const p = params(peft);
    expect(PAPER_EXTRA_A_LOG).toBe(16);
    const aLog = p.get('backbone.layers.1.mixer.extra_A_log') as Tensor;
    expect(aLog.shape).toEqual([16, 3]);
    expect(values(aLog).every((v) => v === 16)).toBe(true);
    const B = p.get('backbone.layers.1.mixer.extra_B') as Tensor;
    expect(B.shape).toEqual([3, 16]);
    const bound = 1 / Math.sqrt(16);
    expect(values(B).every((v) => Math.abs(v) <= bound)).toBe(true);
    expect(Math.max(...values(B).map(Math.abs))).toBeGreaterThan(bound / 2);
    const C = p.get('backbone.layers.1.mixer.extra_C') as Tensor;
    expect(C.shape).toEqual([3, 16]);
    expect(values(C).every((v) => v === 0)).toBe(true);
  });

  it("init 'log': A_log rows are log(N + 1), ..., log(N + k)", () => {
    const peft = getPeftModel(microModel(), {
      peft_type: 'ADDITIONAL_SCAN',
      d_state: 3,
      a_log_init: 'log',
    });
    const aLog = values(params(peft).get('backbone.layers.0.mixer.extra_A_log') as Tensor);
    const want = [Math.log(5), Math.log(6), Math.log(7)];
    for (let d = 0; d < 16; d++) {
      for (let j = 0; j < 3; j++) expect(aLog[d * 3 + j]).toBeCloseTo(want[j], 6);
    }
  });

  it('at init the model output equals the base model exactly', async () => {
    for (const a_log_init of ['paper', 'log'] as const) {
      const model = await tinyModel();
      const base = values(model.forward({ inputIds: microIds() }).logits);
      const peft = getPeftModel(model, { peft_type: 'ADDITIONAL_SCAN', d_state: 4, a_log_init });
      const got = values(peft.forward({ inputIds: microIds() }).logits);
      expect(got).toEqual(base);
      // The adapter really is in the scan: non-zero C changes the output.
      noGrad(() => {
        for (const [k, t] of params(peft)) if (k.endsWith('extra_C')) t.assign(t.add(0.5));
      });
      const changed = values(peft.forward({ inputIds: microIds() }).logits);
      expect(changed.some((v, i) => Math.abs(v - base[i]) > 1e-4)).toBe(true);
    }
  });

  it('layers_to_transform: only those mixers get extra states, under their saved keys', () => {
    const model = microModel();
    const peft = getPeftModel(model, {
      peft_type: 'ADDITIONAL_SCAN',
      d_state: 2,
      layers_to_transform: [1],
    });
    const adapter = peft.adapter();
    expect(adapter).toBeInstanceOf(AdditionalScanAdapter);
    expect([...adapter.adapterStateDict().keys()]).toEqual([
      'backbone.layers.1.mixer.extra_A_log',
      'backbone.layers.1.mixer.extra_B',
      'backbone.layers.1.mixer.extra_C',
    ]);
    adapter.activate();
    expect(model.mixers.map((m) => m.stateSize)).toEqual([4, 6, 4]);
    expect(adapter.mixerEntries()).toBeNull();
    expect(() => adapter.merge()).toThrow(/cannot be merged/);
  });

  it('bad configs are errors that name the key', () => {
    expect(() => getPeftModel(microModel(), { peft_type: 'ADDITIONAL_SCAN', d_state: 0 })).toThrow(
      /"d_state"/,
    );
    expect(() =>
      getPeftModel(microModel(), bad({ peft_type: 'ADDITIONAL_SCAN', a_log_init: 'random' })),
    ).toThrow(/"a_log_init"/);
    expect(() =>
      getPeftModel(microModel(), { peft_type: 'ADDITIONAL_SCAN', layers_to_transform: [7] }),
    ).toThrow(/layers_to_transform names layer\(s\) 7/);
  });

  it('AdamW steps lower the loss; the base weights stay frozen', () => {
    const model = microModel();
    const before = values(model.mixers[1].D);
    const peft = getPeftModel(model, { peft_type: 'ADDITIONAL_SCAN', d_state: 2 });
    expectLossFell(trainLosses(peft, microIds(), { lr: 0.05 }));
    expect(values(model.mixers[1].D)).toEqual(before);
  });
});
