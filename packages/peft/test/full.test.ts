import { mambaConfig } from '@statetune/mamba';
import { noGrad, type Tensor, zeros } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import { countAdapterParameters, getPeftModel, PeftError } from '../src/index.js';
import { expectLossFell, TINY_INPUT, tinyModel, trainLosses, values } from './helpers.js';

describe('full fine-tuning', () => {
  it("its parameters are the model's own weights, each once, all trainable", async () => {
    const model = await tinyModel();
    const peft = getPeftModel(model, { peft_type: 'FULL_FINETUNING' });
    const adapter = peft.adapter();
    expect(adapter.keyPrefix).toBe('base_model.model.');
    const own = adapter.namedParameters();
    const base = model.namedParameters();
    expect(own.map(([k]) => k)).toEqual(base.map(([k]) => k));
    own.forEach(([, t], i) => {
      expect(t).toBe(base[i][1]);
    });
    expect([...adapter.adapterStateDict().keys()]).toEqual(base.map(([k]) => k));
    const all = model.numParameters();
    expect(countAdapterParameters(model.config, { peft_type: 'FULL_FINETUNING' })).toBe(all);
    expect(peft.getNbTrainableParameters()).toEqual({ trainable: all, all });
    expect(adapter.activate()).toEqual({});
    expect(() => peft.mergeAdapter()).toThrow(PeftError);
  });

  it('mamba-130m: every weight, the tied head once', () => {
    const paper = mambaConfig({ dModel: 768, nLayer: 24, vocabSize: 50280, dState: 16 });
    expect(countAdapterParameters(paper, { peft_type: 'FULL_FINETUNING' })).toBe(129_135_360);
  });

  it('AdamW steps change the base weights and lower the loss', async () => {
    const model = await tinyModel();
    const before = new Map(model.namedParameters().map(([k, t]) => [k, values(t)]));
    const peft = getPeftModel(model, { peft_type: 'FULL_FINETUNING' });
    expectLossFell(trainLosses(peft, TINY_INPUT, { lr: 1e-2 }));
    for (const [k, t] of model.namedParameters()) {
      expect(values(t), k).not.toEqual(before.get(k));
    }
  });

  it('loading writes into the base weights, after checking every tensor', async () => {
    const model = await tinyModel();
    const peft = getPeftModel(model, { peft_type: 'FULL_FINETUNING' });
    const adapter = peft.adapter();
    const dict = new Map(
      [...adapter.adapterStateDict()].map(([k, t]) => [k, noGrad(() => t.add(1))] as const),
    );
    const key = 'backbone.layers.0.mixer.D';
    const weight = model.getTensor(key);
    const was = values(weight);
    const bad = new Map(dict);
    bad.set(key, zeros([3]));
    expect(() => adapter.loadAdapterStateDict(bad, 'full.safetensors')).toThrow(
      /full\.safetensors: .*backbone\.layers\.0\.mixer\.D is \[3\]/,
    );
    expect(values(weight)).toEqual(was);
    adapter.loadAdapterStateDict(dict, 'full.safetensors');
    expect(model.getTensor(key)).toBe(weight);
    expect(values(weight)).toEqual(values(dict.get(key) as Tensor));
  });
});
