import { MambaForCausalLM, mambaConfig } from '@statetune/mamba';
import { AdamW, Generator, type Tensor, tensor } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import {
  countAdapterParameters,
  getPeftModel,
  InitialStateAdapter,
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
      const model = randomModel();
      const config = { peft_type: 'INITIAL_STATE_TUNING', layers_to_transform: layers } as const;
      const peft = getPeftModel(model, config);
      expect(peft.getNbTrainableParameters().trainable).toBe(
        countAdapterParameters(model.config, config),
      );
    }
  });

  it('zero init: the model output equals the base model exactly', async () => {
    const model = await tinyModel();
    const base = values(model.forward({ inputIds: ids() }).logits);
    const peft = getPeftModel(model, { peft_type: 'INITIAL_STATE_TUNING' });
    for (const [, p] of peft.adapter().namedParameters())
      expect(values(p).every((v) => v === 0)).toBe(true);
    expect(values(peft.forward({ inputIds: ids() }).logits)).toEqual(base);
  });

  it('random init: kaiming-uniform within 1/sqrt(dState), reproducible from the generator', () => {
    const make = (seed: number) =>
      getPeftModel(
        randomModel(),
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
    const model = randomModel();
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
      randomModel(),
      { peft_type: 'INITIAL_STATE_TUNING', init: 'random' },
      { generator: new Generator(9) },
    );
    const x = ids();
    const alone = values(peft.forward({ inputIds: x }).logits);
    const base = peft.withAdapterDisabled(() => values(peft.forward({ inputIds: x }).logits));
    const mixed = values(peft.forward({ inputIds: x, adapterNames: ['default', null] }).logits);
    const half = alone.length / 2;
    expect(mixed.slice(0, half)).toEqual(alone.slice(0, half));
    expect(mixed.slice(half)).toEqual(base.slice(half));
  });

  it('bad configs are errors that name the key', () => {
    const model = randomModel();
    expect(() =>
      getPeftModel(model, { peft_type: 'INITIAL_STATE_TUNING', layers_to_transform: [3] }),
    ).toThrow(/layers_to_transform names layer\(s\) 3 but the model has 3 layers/);
    expect(() =>
      getPeftModel(randomModel(), bad({ peft_type: 'INITIAL_STATE_TUNING', init: 'ones' })),
    ).toThrow(/"init"/);
    expect(() =>
      getPeftModel(randomModel(), bad({ peft_type: 'INITIAL_STATE_TUNING', int: 'zero' })),
    ).toThrow(/did you mean "init"/);
  });

  it('AdamW steps lower the loss; the base weights stay frozen', () => {
    const model = randomModel();
    const before = values(model.mixers[0].A_log);
    const peft = getPeftModel(model, { peft_type: 'INITIAL_STATE_TUNING' });
    const opt = new AdamW(peft.trainableParameters(), { lr: 0.1, weightDecay: 0 });
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
    expect(values(model.mixers[0].A_log)).toEqual(before);
  });

  it('generation starts from the trained state', async () => {
    const peft = getPeftModel(
      randomModel(),
      { peft_type: 'INITIAL_STATE_TUNING', init: 'random' },
      { generator: new Generator(4) },
    );
    // Greedy generation with the recurrent path equals the parallel forward's argmax.
    const prompt = [1, 5, 3];
    const out = await peft.generate([prompt], { maxNewTokens: 3, eosTokenId: null });
    const seq = out.sequences[0];
    for (let t = prompt.length; t < seq.length; t++) {
      const input = tensor(Int32Array.from(seq.slice(0, t)), { shape: [1, t] });
      const logits = peft.forward({ inputIds: input }).logits;
      const row = values(logits).slice((t - 1) * 16, t * 16);
      expect(seq[t]).toBe(row.indexOf(Math.max(...row)));
    }
  });
});
