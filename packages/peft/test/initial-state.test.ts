import { generate } from '@statetune/mamba';
import { Generator, type Tensor, tensor } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import { countAdapterParameters, getPeftModel, InitialStateAdapter } from '../src/index.js';
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

describe('INITIAL_STATE_TUNING', () => {
  it('the mamba-130m config has dInner 1536 and dtRank 48', () => {
    expect(MAMBA_130M.dInner).toBe(1536);
    expect(MAMBA_130M.dtRank).toBe(48);
  });

  it('counts 589,824 parameters on mamba-130m, as the paper', () => {
    expect(countAdapterParameters(MAMBA_130M, { peft_type: 'INITIAL_STATE_TUNING' })).toBe(589_824);
    expect(
      countAdapterParameters(MAMBA_130M, {
        peft_type: 'INITIAL_STATE_TUNING',
        layers_to_transform: [0, 23],
      }),
    ).toBe(2 * 1536 * 16);
  });

  it('the count from the config equals the created adapter on a model', () => {
    for (const layers of [null, [1], [0, 2]]) {
      const model = microModel();
      const config = { peft_type: 'INITIAL_STATE_TUNING', layers_to_transform: layers } as const;
      const peft = getPeftModel(model, config);
      expect(peft.getNbTrainableParameters().trainable).toBe(
        countAdapterParameters(model.config, config),
      );
    }
  });

  it('zero init: the model output equals the base model exactly', async () => {
    const model = await tinyModel();
    const base = values(model.forward({ inputIds: microIds() }).logits);
    const peft = getPeftModel(model, { peft_type: 'INITIAL_STATE_TUNING' });
    for (const [, p] of peft.adapter().namedParameters())
      expect(values(p).every((v) => v === 0)).toBe(true);
    expect(values(peft.forward({ inputIds: microIds() }).logits)).toEqual(base);
  });

  it('random init: kaiming-uniform within 1/sqrt(dState), reproducible from the generator', () => {
    const make = (seed: number) =>
      getPeftModel(
        microModel(),
        { peft_type: 'INITIAL_STATE_TUNING', init: 'random' },
        { generator: new Generator(seed) },
      ).adapter();
    const a = make(1);
    const bound = 1 / Math.sqrt(4);
    for (const [, p] of a.namedParameters()) {
      expect(p.shape).toEqual([16, 4]);
      const v = values(p);
      expect(v.every((x) => Math.abs(x) <= bound)).toBe(true);
      expect(Math.max(...v.map(Math.abs))).toBeGreaterThan(bound / 2);
    }
    const again = new Map(make(1).namedParameters());
    const other = new Map(make(2).namedParameters());
    for (const [k, p] of a.namedParameters()) {
      expect(values(again.get(k) as Tensor)).toEqual(values(p));
      expect(values(other.get(k) as Tensor)).not.toEqual(values(p));
    }
  });

  it('layers_to_transform: only those layers get a state, under their saved keys', () => {
    const model = microModel();
    const peft = getPeftModel(model, {
      peft_type: 'INITIAL_STATE_TUNING',
      layers_to_transform: [2, 0],
    });
    const adapter = peft.adapter();
    expect(adapter).toBeInstanceOf(InitialStateAdapter);
    expect([...adapter.adapterStateDict().keys()]).toEqual([
      'backbone.layers.0.mixer.initial_state',
      'backbone.layers.2.mixer.initial_state',
    ]);
    expect(adapter.keyPrefix).toBe('base_model.model.');
    const entries = adapter.mixerEntries();
    expect(entries?.map((e) => e !== null)).toEqual([true, false, true]);
    adapter.activate();
    expect(model.mixers.map((m) => m.initialState !== null)).toEqual([true, false, true]);
  });

  it('a per-sequence mixed batch equals each sequence run alone', () => {
    const peft = getPeftModel(
      microModel(),
      { peft_type: 'INITIAL_STATE_TUNING', init: 'random' },
      { generator: new Generator(9) },
    );
    const x = microIds();
    const alone = values(peft.forward({ inputIds: x }).logits);
    const base = peft.withAdapterDisabled(() => values(peft.forward({ inputIds: x }).logits));
    const mixed = values(peft.forward({ inputIds: x, adapterNames: ['default', null] }).logits);
    const half = alone.length / 2;
    expect(mixed.slice(0, half)).toEqual(alone.slice(0, half));
    expect(mixed.slice(half)).toEqual(base.slice(half));
  });

  it('bad configs are errors that name the key', () => {
    const model = microModel();
    expect(() =>
      getPeftModel(model, { peft_type: 'INITIAL_STATE_TUNING', layers_to_transform: [3] }),
    ).toThrow(/layers_to_transform names layer\(s\) 3 but the model has 3 layers/);
    expect(() =>
      getPeftModel(microModel(), bad({ peft_type: 'INITIAL_STATE_TUNING', init: 'ones' })),
    ).toThrow(/"init"/);
    expect(() =>
      getPeftModel(microModel(), bad({ peft_type: 'INITIAL_STATE_TUNING', int: 'zero' })),
    ).toThrow(/did you mean "init"/);
  });

  it('AdamW steps lower the loss; the base weights stay frozen', () => {
    const model = microModel();
    const before = values(model.mixers[0].A_log);
    const peft = getPeftModel(model, { peft_type: 'INITIAL_STATE_TUNING' });
    expectLossFell(trainLosses(peft, microIds(), { lr: 0.1 }));
    expect(values(model.mixers[0].A_log)).toEqual(before);
  });

  it('generation starts from the trained state', async () => {
    const peft = getPeftModel(
      microModel(),
      { peft_type: 'INITIAL_STATE_TUNING', init: 'random' },
      { generator: new Generator(4) },
    );
    // Greedy generation with the recurrent path equals the parallel forward's argmax.
    const prompt = [1, 5, 3];
    const out = await peft.generate([prompt], { maxNewTokens: 3, eosTokenId: null });
    const seq = out.sequences[0];
    // The state changes what is generated (a generation that ignored it would be the base's).
    const base = await generate(microModel(), [prompt], { maxNewTokens: 3, eosTokenId: null });
    expect(seq).not.toEqual(base.sequences[0]);
    for (let t = prompt.length; t < seq.length; t++) {
      const input = tensor(Int32Array.from(seq.slice(0, t)), { shape: [1, t] });
      const logits = peft.forward({ inputIds: input }).logits;
      const row = values(logits).slice((t - 1) * 16, t * 16);
      expect(seq[t]).toBe(row.indexOf(Math.max(...row)));
    }
  });
});
