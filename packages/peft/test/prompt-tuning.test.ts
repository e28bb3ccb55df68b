import { Generator, type Tensor } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import {
  countAdapterParameters,
  getPeftModel,
  PromptTuningAdapter,
  textInitTokenIds,
} from '../src/index.js';
import {
  expectLossFell,
  MAMBA_130M,
  microIds,
  microModel,
  tinyModel,
  trainLosses,
  values,
} from './helpers.js';

const randomModel = (seed = 3) => microModel(seed, 2);
const ids = microIds;

/** A stand-in tokenizer: one id per character. */
const encode = (text: string) => [...text].map((ch) => ch.charCodeAt(0) % 16);

describe('PROMPT_TUNING', () => {
  it('counts num_virtual_tokens * dModel, from the config and on a created adapter', () => {
    expect(countAdapterParameters(MAMBA_130M, { peft_type: 'PROMPT_TUNING' })).toBe(20 * 768);
    expect(
      countAdapterParameters(MAMBA_130M, { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 8 }),
    ).toBe(6144);
    const model = randomModel();
    const config = { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 5 } as const;
    const peft = getPeftModel(model, config);
    expect(peft.getNbTrainableParameters().trainable).toBe(
      countAdapterParameters(model.config, config),
    );
  });

  it('saves prompt_embeddings at the top level', () => {
    const peft = getPeftModel(randomModel(), { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 3 });
    const adapter = peft.adapter();
    expect(adapter).toBeInstanceOf(PromptTuningAdapter);
    expect(adapter.keyPrefix).toBe('');
    const saved = adapter.adapterStateDict();
    expect([...saved.keys()]).toEqual(['prompt_embeddings']);
    expect(saved.get('prompt_embeddings')?.shape).toEqual([3, 8]);
  });

  it('RANDOM init draws N(0, 1) as a fresh embedding row, reproducibly', async () => {
    const make = async (seed: number) =>
      values(
        getPeftModel(
          await tinyModel(),
          { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 40 },
          { generator: new Generator(seed) },
        )
          .adapter()
          .adapterStateDict()
          .get('prompt_embeddings') as Tensor,
      );
    const v = await make(1);
    expect(v.length).toBe(40 * 32);
    const mean = v.reduce((s, x) => s + x, 0) / v.length;
    const std = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length);
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(std).toBeGreaterThan(0.9);
    expect(std).toBeLessThan(1.1);
    expect(await make(1)).toEqual(v);
    expect(await make(2)).not.toEqual(v);
  });

  it('TEXT init: the embedding rows of the text tokens, repeated or cut', async () => {
    expect(textInitTokenIds([4, 5, 6], 7)).toEqual([4, 5, 6, 4, 5, 6, 4]);
    expect(textInitTokenIds([4, 5, 6], 2)).toEqual([4, 5]);
    expect(textInitTokenIds([4, 5, 6], 3)).toEqual([4, 5, 6]);
    for (const n of [2, 7]) {
      const model = await tinyModel();
      const emb = model.backbone.embeddings.weight.arraySync() as number[][];
      const peft = getPeftModel(
        model,
        {
          peft_type: 'PROMPT_TUNING',
          num_virtual_tokens: n,
          prompt_tuning_init: 'TEXT',
          prompt_tuning_init_text: 'abc',
        },
        { encode },
      );
      const rows = (
        peft.adapter().adapterStateDict().get('prompt_embeddings') as Tensor
      ).arraySync() as number[][];
      const want = textInitTokenIds(encode('abc'), n).map((id) => emb[id]);
      expect(rows).toEqual(want);
      // A copy: training it leaves the model's embeddings alone.
      expect(peft.adapter().parameters()[0]).not.toBe(model.backbone.embeddings.weight);
      expect(peft.adapter().parameters()[0].requiresGrad).toBe(true);
    }
  });

  it('the forward is the base model with the prompt before the tokens', () => {
    const model = randomModel();
    const peft = getPeftModel(model, { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 3 });
    const prompt = peft.adapter().parameters()[0];
    const got = peft.forward({ inputIds: ids() }).logits;
    expect(got.shape).toEqual([2, 6, 16]);
    const want = peft.withAdapterDisabled(
      () => peft.forward({ inputIds: ids(), prefixEmbeds: prompt }).logits,
    );
    expect(values(got)).toEqual(values(want));
    const base = peft.withAdapterDisabled(() => peft.forward({ inputIds: ids() }).logits);
    expect(values(got)).not.toEqual(values(base));
    expect(() => peft.forward({ inputIds: ids(), adapterNames: ['default', null] })).toThrow(
      /cannot be mixed per sequence/,
    );
  });

  it('bad configs and TEXT init without text or tokenizer are clear errors', () => {
    const m = randomModel();
    expect(() => getPeftModel(m, { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 0 })).toThrow(
      /"num_virtual_tokens"/,
    );
    expect(() =>
      getPeftModel(randomModel(), { peft_type: 'PROMPT_TUNING', prompt_tuning_init: 'TEXT' }),
    ).toThrow(/"TEXT" needs a non-empty "prompt_tuning_init_text"/);
    const text = {
      peft_type: 'PROMPT_TUNING',
      prompt_tuning_init: 'TEXT',
      prompt_tuning_init_text: 'hello',
    } as const;
    expect(() => getPeftModel(randomModel(), text)).toThrow(/needs a tokenizer; pass \{ encode \}/);
    expect(() => getPeftModel(randomModel(), text, { encode: () => [] })).toThrow(
      /encodes to no tokens/,
    );
    expect(() => getPeftModel(randomModel(), text, { encode: () => [1, 99] })).toThrow(
      /id\(s\) 99 outside the model's vocabulary \(0-15\)/,
    );
  });

  it('AdamW steps lower the loss; the base weights stay frozen', () => {
    const model = randomModel();
    const before = values(model.backbone.embeddings.weight);
    const peft = getPeftModel(model, { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 4 });
    expectLossFell(trainLosses(peft, ids(), { lr: 0.1 }));
    expect(values(model.backbone.embeddings.weight)).toEqual(before);
  });
});
