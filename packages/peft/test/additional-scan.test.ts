import { MambaForCausalLM, mambaConfig } from '@statetune/mamba';
import { AdamW, Generator, noGrad, type Tensor, tensor } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import {
  AdditionalScanAdapter,
  countAdapterParameters,
  getPeftModel,
  PAPER_EXTRA_A_LOG,
  type PeftConfigInput,
} from '../src/index.js';
import { tinyModel, values } from './helpers.js';

/** A config the types reject, as a JSON file could hold it. */
const bad = (c: Record<string, unknown>) => c as unknown as PeftConfigInput;

const MAMBA_130M = mambaConfig({ dModel: 768, nLayer: 24, vocabSize: 50280, dState: 16 });

function randomModel(seed = 3): MambaForCausalLM {
  const config = mambaConfig({ dModel: 8, nLayer: 3, vocabSize: 16, dState: 4, dtRank: 2 });
  return new MambaForCausalLM(config, { generator: new Generator(seed) });
}

const ids = () => tensor(Int32Array.from([1, 5, 3, 9, 2, 7, 4, 1, 5, 3, 9, 2]), { shape: [2, 6] });

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
      const model = randomModel();
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
    const peft = getPeftModel(randomModel(), { peft_type: 'ADDITIONAL_SCAN', d_state: 3 });
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
    const peft = getPeftModel(randomModel(), {
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
      const base = values(model.forward({ inputIds: ids() }).logits);
      const peft = getPeftModel(model, { peft_type: 'ADDITIONAL_SCAN', d_state: 4, a_log_init });
      const got = values(peft.forward({ inputIds: ids() }).logits);
      expect(got).toEqual(base);
      // The adapter really is in the scan: non-zero C changes the output.
      noGrad(() => {
        for (const [k, t] of params(peft)) if (k.endsWith('extra_C')) t.assign(t.add(0.5));
      });
      const changed = values(peft.forward({ inputIds: ids() }).logits);
      expect(changed.some((v, i) => Math.abs(v - base[i]) > 1e-4)).toBe(true);
    }
  });

  it('layers_to_transform: only those mixers get extra states, under their saved keys', () => {
    const model = randomModel();
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
    expect(() => getPeftModel(randomModel(), { peft_type: 'ADDITIONAL_SCAN', d_state: 0 })).toThrow(
      /"d_state"/,
    );
    expect(() =>
      getPeftModel(randomModel(), bad({ peft_type: 'ADDITIONAL_SCAN', a_log_init: 'random' })),
    ).toThrow(/"a_log_init"/);
    expect(() =>
      getPeftModel(randomModel(), { peft_type: 'ADDITIONAL_SCAN', layers_to_transform: [7] }),
    ).toThrow(/layers_to_transform names layer\(s\) 7/);
  });

  it('AdamW steps lower the loss; the base weights stay frozen', () => {
    const model = randomModel();
    const before = values(model.mixers[1].D);
    const peft = getPeftModel(model, { peft_type: 'ADDITIONAL_SCAN', d_state: 2 });
    const opt = new AdamW(peft.trainableParameters(), { lr: 0.05, weightDecay: 0 });
    const step = () => {
      peft.zeroGrad();
      const { loss } = peft.forward({ inputIds: ids(), labels: ids() });
      (loss as Tensor).backward();
      opt.step();
      return (loss as Tensor).item();
    };
    const first = step();
    let last = first;
    for (let i = 0; i < 4; i++) last = step();
    expect(last).toBeLessThan(first);
    expect(values(model.mixers[1].D)).toEqual(before);
  });
});
