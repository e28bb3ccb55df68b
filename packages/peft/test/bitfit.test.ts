import { MambaForCausalLM, mambaConfig } from '@statetune/mamba';
import { Conv1d, Generator, Linear } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import {
  adapterToFiles,
  BitFitLayer,
  countAdapterParameters,
  getPeftModel,
  LoraLayer,
  peftModelFromFiles,
} from '../src/index.js';
import {
  expectLogitsNear,
  expectLossFell,
  logitsOf,
  perturbTrainable,
  relErr,
  TINY_INPUT,
  tinyModel,
  trainLosses,
  values,
} from './helpers.js';

/** A small random model with biases everywhere BitFit can train. */
function biasedModel(): MambaForCausalLM {
  const config = mambaConfig({ dModel: 16, nLayer: 2, vocabSize: 32, dState: 4, useBias: true });
  return new MambaForCausalLM(config, { generator: new Generator(1) });
}

describe('BitFit', () => {
  it('trains copies: the base biases never change, disabling gives the base output', async () => {
    const model = await tinyModel();
    const base = logitsOf(() => model.forward({ inputIds: TINY_INPUT }));
    const biases = [0, 1].flatMap((i) =>
      ['conv1d', 'dt_proj'].map((m) => model.getTensor(`backbone.layers.${i}.mixer.${m}.bias`)),
    );
    const before = biases.map(values);
    const peft = getPeftModel(model, { peft_type: 'BITFIT' });
    const keys = peft
      .adapter()
      .namedParameters()
      .map(([k]) => k);
    expect(keys).toEqual([
      'backbone.layers.0.mixer.conv1d.bias',
      'backbone.layers.0.mixer.dt_proj.bias',
      'backbone.layers.1.mixer.conv1d.bias',
      'backbone.layers.1.mixer.dt_proj.bias',
    ]);
    // Copies start at the base values, so the model starts as the base model.
    expect(
      peft
        .adapter()
        .namedParameters()
        .map(([, t]) => values(t)),
    ).toEqual(before);
    expectLogitsNear(() => peft.forward({ inputIds: TINY_INPUT }), base, 1e-6);

    expectLossFell(trainLosses(peft, TINY_INPUT, { lr: 5e-2 }));
    // Every copy is used: the gradient reaches each of them.
    for (const [k, p] of peft.adapter().namedParameters()) {
      expect(
        values(p.grad ?? p.mul(0)).some((v) => v !== 0),
        k,
      ).toBe(true);
    }
    expect(biases.map(values)).toEqual(before);
    for (const p of model.parameters()) expect(p.grad).toBeNull();
    const trained = logitsOf(() => peft.forward({ inputIds: TINY_INPUT }));
    expect(relErr(trained, base)).toBeGreaterThan(1e-4);
    expect(
      peft.withAdapterDisabled(() => logitsOf(() => peft.forward({ inputIds: TINY_INPUT }))),
    ).toEqual(base);
  });

  it('merge writes the copies into the biases, unmerge puts the originals back, mergeAndUnload leaves a plain model', async () => {
    const model = biasedModel();
    const originals = model.mixers.map((m) => [m.in_proj, m.conv1d, m.dt_proj, m.out_proj]);
    const before = new Map([...model.stateDict()].map(([k, t]) => [k, values(t)]));
    const peft = getPeftModel(model, {
      peft_type: 'BITFIT',
      target_modules: ['in_proj', 'conv1d', 'dt_proj', 'out_proj'],
    });
    perturbTrainable(peft);
    const unmerged = logitsOf(() => peft.forward({ inputIds: TINY_INPUT }));
    const base = peft.withAdapterDisabled(() =>
      logitsOf(() => peft.forward({ inputIds: TINY_INPUT })),
    );
    expect(relErr(unmerged, base)).toBeGreaterThan(1e-4);
    peft.mergeAdapter();
    for (const [k, t] of peft.adapter().namedParameters()) {
      expect(values(model.getTensor(k)), k).toEqual(values(t));
    }
    expectLogitsNear(() => peft.forward({ inputIds: TINY_INPUT }), unmerged, 1e-5);
    peft.unmergeAdapter();
    for (const [k, t] of model.stateDict()) expect(values(t), k).toEqual(before.get(k));

    const plain = peft.mergeAndUnload();
    for (const [name, m] of plain.namedModules()) expect(m, name).not.toBeInstanceOf(BitFitLayer);
    plain.mixers.forEach((m, i) => {
      expect([m.in_proj, m.conv1d, m.dt_proj, m.out_proj]).toEqual(originals[i]);
    });
    expect(plain.mixers[0].conv1d).toBeInstanceOf(Conv1d);
    expect(plain.mixers[0].dt_proj).toBeInstanceOf(Linear);
    expectLogitsNear(() => plain.forward({ inputIds: TINY_INPUT }), unmerged, 1e-5);
  });

  it('saves as PEFT files and loads into a fresh model with the same logits', async () => {
    const peft = getPeftModel(await tinyModel(), { peft_type: 'BITFIT' });
    perturbTrainable(peft);
    const files = await adapterToFiles(peft);
    const loaded = peftModelFromFiles(await tinyModel(), files, { source: 'bitfit' });
    expectLogitsNear(
      () => loaded.forward({ inputIds: TINY_INPUT }),
      logitsOf(() => peft.forward({ inputIds: TINY_INPUT })),
      1e-7,
    );
  });

  it('stacks with LoRA on the same module; each applies only while active', async () => {
    const loraCfg = {
      peft_type: 'LORA',
      target_modules: ['dt_proj'],
      init_lora_weights: false,
    } as const;
    const bitfitCfg = { peft_type: 'BITFIT', target_modules: ['dt_proj'] } as const;
    // References: each adapter alone on its own model, with the same trained values.
    const loraAlone = getPeftModel(await tinyModel(), loraCfg);
    const bitfitAlone = getPeftModel(await tinyModel(), bitfitCfg);
    perturbTrainable(bitfitAlone);

    const model = await tinyModel();
    const original = model.mixers[0].dt_proj;
    const peft = getPeftModel(model, loraCfg, { adapterName: 'lora' });
    peft.addAdapter(bitfitCfg, { adapterName: 'bitfit' });
    expect(model.mixers[0].dt_proj).toBeInstanceOf(BitFitLayer);
    peft.setAdapter('bitfit');
    perturbTrainable(peft);
    const got = logitsOf(() => peft.forward({ inputIds: TINY_INPUT }));
    expectLogitsNear(() => bitfitAlone.forward({ inputIds: TINY_INPUT }), got, 1e-6);
    peft.setAdapter('lora');
    expectLogitsNear(
      () => peft.forward({ inputIds: TINY_INPUT }),
      logitsOf(() => loraAlone.forward({ inputIds: TINY_INPUT })),
      1e-6,
    );
    // Removing the inner wrapper keeps the outer one working on the original layer.
    peft.setAdapter('bitfit');
    peft.deleteAdapter('lora');
    const w = model.mixers[0].dt_proj as BitFitLayer;
    expect(w.base).toBe(original);
    expectLogitsNear(() => peft.forward({ inputIds: TINY_INPUT }), got, 1e-6);
    peft.unload();
    expect(model.mixers[0].dt_proj).toBe(original);
    for (const [, m] of model.namedModules()) expect(m).not.toBeInstanceOf(LoraLayer);
  });
});

describe('BitFit counts and errors', () => {
  it('conv1d and dt_proj biases of mamba-130m: 73,728', () => {
    const paper = mambaConfig({ dModel: 768, nLayer: 24, vocabSize: 50280, dState: 16 });
    expect(countAdapterParameters(paper, { peft_type: 'BITFIT' })).toBe(73_728);
  });

  it('the count from the config equals the created adapter', () => {
    const model = biasedModel();
    const config = {
      peft_type: 'BITFIT',
      target_modules: ['in_proj', 'conv1d', 'dt_proj', 'out_proj'],
      layers_to_transform: [1],
    } as const;
    const peft = getPeftModel(model, config);
    const { dInner, dModel } = model.config;
    expect(peft.adapter().numParameters()).toBe(4 * dInner + dModel);
    expect(countAdapterParameters(model.config, config)).toBe(4 * dInner + dModel);
  });

  it('a module without a bias, or an unknown one, is an error', async () => {
    const model = await tinyModel();
    expect(() => getPeftModel(model, { peft_type: 'BITFIT', target_modules: ['in_proj'] })).toThrow(
      /BITFIT adapter "default": target_modules names "in_proj" but the model has no bias there \(use_bias is false\)/,
    );
    expect(() => getPeftModel(model, { peft_type: 'BITFIT', target_modules: ['dt_prj'] })).toThrow(
      /"dt_prj".*did you mean "dt_proj"/,
    );
    for (const [, m] of model.namedModules()) expect(m).not.toBeInstanceOf(BitFitLayer);
  });
});
