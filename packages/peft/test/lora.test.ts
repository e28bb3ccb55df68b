import { MambaForCausalLM, mambaConfig } from '@statetune/mamba';
import { Generator, Linear, linear, noGrad, randn, type Tensor } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import {
  adapterToFiles,
  countAdapterParameters,
  getPeftModel,
  LoraLayer,
  loraTargetSpec,
  type PeftConfigInput,
  peftModelFromFiles,
} from '../src/index.js';
import {
  expectLogitsNear,
  expectLossFell,
  logitsOf,
  relErr,
  TINY_INPUT,
  tinyModel,
  trainLosses,
  values,
} from './helpers.js';

/** Weights of the model by name, copied out. */
function snapshot(model: MambaForCausalLM): Map<string, number[]> {
  return new Map([...model.stateDict()].map(([k, t]) => [k, values(t)]));
}

const lora = (extra: Partial<Record<string, unknown>> = {}): PeftConfigInput =>
  ({ peft_type: 'LORA', r: 2, lora_alpha: 4, init_lora_weights: false, ...extra }) as never;

describe('LoRA on mamba-tiny', () => {
  it('a piece target changes only its output rows, by scale * x A^T B^T', async () => {
    const model = await tinyModel();
    const W = new Map(
      ['x_proj', 'in_proj'].map((m) => [
        m,
        values(model.getTensor(`backbone.layers.1.mixer.${m}.weight`)),
      ]),
    );
    const peft = getPeftModel(model, lora({ target_modules: ['x_proj_B', 'in_proj_z'] }));
    const adapter = peft.adapter();
    adapter.activate();
    const params = new Map(adapter.namedParameters());
    const mixer = model.mixers[1];
    for (const [module, target] of [
      ['x_proj', 'x_proj_B'],
      ['in_proj', 'in_proj_z'],
    ] as const) {
      const proj = mixer[module];
      expect(proj).toBeInstanceOf(LoraLayer);
      const s = loraTargetSpec(model.config, target);
      const x = randn([2, 3, s.inFeatures], { generator: new Generator(3) });
      const got = noGrad(() => proj.forward(x));
      const weight = model.getTensor(`backbone.layers.1.mixer.${module}.weight`);
      expect(values(weight)).toEqual(W.get(module));
      const base = noGrad(() => linear(x, weight));
      const A = params.get(`backbone.layers.1.mixer.${target}.lora_A.weight`) as Tensor;
      const B = params.get(`backbone.layers.1.mixer.${target}.lora_B.weight`) as Tensor;
      expect(A.shape).toEqual([2, s.inFeatures]);
      expect(B.shape).toEqual([s.end - s.start, 2]);
      const delta = noGrad(() => linear(linear(x, A), B).mul(2));
      // Rows outside the piece are the base output exactly; the piece is base + delta.
      const axis = 2;
      expect(values(got.slice(axis, 0, s.start))).toEqual(values(base.slice(axis, 0, s.start)));
      expect(values(got.slice(axis, s.end))).toEqual(values(base.slice(axis, s.end)));
      const want = noGrad(() => base.slice(axis, s.start, s.end).add(delta));
      expect(relErr(values(got.slice(axis, s.start, s.end)), values(want))).toBeLessThan(1e-6);
      // The delta is not negligible, so the checks above could tell it missing.
      expect(
        relErr(values(got.slice(axis, s.start, s.end)), values(base.slice(axis, s.start, s.end))),
      ).toBeGreaterThan(1e-3);
    }
    // No layers_to_transform: layer 0 is wrapped too; an untargeted projection is not.
    expect(model.mixers[0].x_proj).toBeInstanceOf(LoraLayer);
    expect(model.mixers[0].out_proj).not.toBeInstanceOf(LoraLayer);
  });

  it('with B = 0 (the default init) the model gives the base logits', async () => {
    const model = await tinyModel();
    const base = logitsOf(() => model.forward({ inputIds: TINY_INPUT }));
    const peft = getPeftModel(model, {
      peft_type: 'LORA',
      target_modules: ['in_proj', 'x_proj', 'dt_proj', 'out_proj'],
    });
    const got = logitsOf(() => peft.forward({ inputIds: TINY_INPUT }));
    expect(relErr(got, base)).toBeLessThan(1e-6);
    // lora_A is drawn U(-1/sqrt(in), 1/sqrt(in)), lora_B is zero.
    for (const [k, t] of peft.adapter().namedParameters()) {
      const v = values(t);
      if (k.includes('lora_B')) expect(v.every((x) => x === 0)).toBe(true);
      else {
        const bound = 1 / Math.sqrt(t.shape[1]);
        expect(v.every((x) => Math.abs(x) <= bound)).toBe(true);
        expect(v.some((x) => x !== 0)).toBe(true);
      }
    }
  });

  it('merge gives the same logits, unmerge restores the weights, mergeAndUnload leaves a plain model', async () => {
    const model = await tinyModel();
    const before = snapshot(model);
    const originals = model.mixers.map((m) => [m.in_proj, m.x_proj, m.dt_proj, m.out_proj]);
    const peft = getPeftModel(
      model,
      lora({ target_modules: ['in_proj_x', 'x_proj_dt', 'x_proj_C', 'dt_proj', 'out_proj'] }),
    );
    const unmerged = logitsOf(() => peft.forward({ inputIds: TINY_INPUT }));
    const base = peft.withAdapterDisabled(() =>
      logitsOf(() => peft.forward({ inputIds: TINY_INPUT })),
    );
    expect(relErr(unmerged, base)).toBeGreaterThan(1e-3);

    peft.mergeAdapter();
    expect(peft.adapter().merged).toBe(true);
    expect(values(model.getTensor('backbone.layers.0.mixer.x_proj.weight'))).not.toEqual(
      before.get('backbone.layers.0.mixer.x_proj.weight'),
    );
    const merged = logitsOf(() => peft.forward({ inputIds: TINY_INPUT }));
    expect(relErr(merged, unmerged)).toBeLessThan(1e-5);

    peft.unmergeAdapter();
    expect(peft.adapter().merged).toBe(false);
    for (const [k, v] of snapshot(model)) {
      expect(relErr(v, before.get(k) as number[]), k).toBeLessThan(1e-6);
    }
    expectLogitsNear(() => peft.forward({ inputIds: TINY_INPUT }), unmerged, 1e-6);

    const plain = peft.mergeAndUnload();
    expect(plain).toBe(model);
    for (const [name, m] of plain.namedModules()) {
      expect(m, name).not.toBeInstanceOf(LoraLayer);
    }
    plain.mixers.forEach((m, i) => {
      expect([m.in_proj, m.x_proj, m.dt_proj, m.out_proj]).toEqual(originals[i]);
      expect(m.dt_proj).toBeInstanceOf(Linear);
    });
    expect([...plain.stateDict().keys()]).toEqual([...before.keys()]);
    expectLogitsNear(() => plain.forward({ inputIds: TINY_INPUT }), unmerged, 1e-5);
  });

  it('dropout on the LoRA input applies in training mode only', async () => {
    const withDropout = getPeftModel(await tinyModel(), lora({ lora_dropout: 0.5 }));
    const without = getPeftModel(await tinyModel(), lora({ lora_dropout: 0 }));
    withDropout.train();
    const a = logitsOf(() => withDropout.forward({ inputIds: TINY_INPUT }));
    const b = logitsOf(() => withDropout.forward({ inputIds: TINY_INPUT }));
    const clean = logitsOf(() => without.forward({ inputIds: TINY_INPUT }));
    expect(relErr(a, b)).toBeGreaterThan(1e-4);
    expect(relErr(a, clean)).toBeGreaterThan(1e-4);
    // The masks come from the adapter's generator: the same seed gives the same masks.
    const again = getPeftModel(await tinyModel(), lora({ lora_dropout: 0.5 }));
    again.train();
    expect(logitsOf(() => again.forward({ inputIds: TINY_INPUT }))).toEqual(a);
    withDropout.eval();
    without.eval();
    const e1 = logitsOf(() => withDropout.forward({ inputIds: TINY_INPUT }));
    const e2 = logitsOf(() => withDropout.forward({ inputIds: TINY_INPUT }));
    expect(e1).toEqual(e2);
    // Same seed, same weights: in eval mode dropout is the identity.
    expectLogitsNear(() => without.forward({ inputIds: TINY_INPUT }), e1, 1e-7);
  });

  it('two LoRA adapters share one wrapper; only the active one applies; deleting restores the projection', async () => {
    const model = await tinyModel();
    const original = model.mixers[0].x_proj;
    const peft = getPeftModel(model, lora({ target_modules: ['x_proj_B'] }), {
      adapterName: 'one',
    });
    const wrapper = model.mixers[0].x_proj;
    peft.addAdapter(lora({ target_modules: ['x_proj'], lora_alpha: 2 }), {
      adapterName: 'two',
      generator: new Generator(7),
    });
    expect(model.mixers[0].x_proj).toBe(wrapper);
    const one = logitsOf(() => peft.forward({ inputIds: TINY_INPUT }));
    peft.setAdapter('two');
    const two = logitsOf(() => peft.forward({ inputIds: TINY_INPUT }));
    expect(relErr(one, two)).toBeGreaterThan(1e-4);

    // "two" alone on a fresh model gives the same logits: "one" has no effect while inactive.
    const alone = getPeftModel(
      await tinyModel(),
      lora({ target_modules: ['x_proj'], lora_alpha: 2 }),
      { generator: new Generator(7) },
    );
    expectLogitsNear(() => alone.forward({ inputIds: TINY_INPUT }), two, 1e-7);

    peft.deleteAdapter('one');
    expect(model.mixers[0].x_proj).toBe(wrapper);
    peft.unload();
    expect(model.mixers[0].x_proj).toBe(original);
  });

  it('saves as PEFT files and loads into a fresh model with the same logits', async () => {
    const peft = getPeftModel(
      await tinyModel(),
      lora({ target_modules: ['x_proj_dt', 'x_proj_B', 'dt_proj'], layers_to_transform: [0] }),
    );
    const files = await adapterToFiles(peft);
    expect(files.config.peft_type).toBe('LORA');
    const loaded = peftModelFromFiles(await tinyModel(), files, { source: 'lora' });
    expect([...loaded.adapter().adapterStateDict().keys()]).toEqual([
      'backbone.layers.0.mixer.x_proj_dt.lora_A.weight',
      'backbone.layers.0.mixer.x_proj_dt.lora_B.weight',
      'backbone.layers.0.mixer.x_proj_B.lora_A.weight',
      'backbone.layers.0.mixer.x_proj_B.lora_B.weight',
      'backbone.layers.0.mixer.dt_proj.lora_A.weight',
      'backbone.layers.0.mixer.dt_proj.lora_B.weight',
    ]);
    expectLogitsNear(
      () => loaded.forward({ inputIds: TINY_INPUT }),
      logitsOf(() => peft.forward({ inputIds: TINY_INPUT })),
      1e-7,
    );
  });

  it('a couple of AdamW steps lower the loss', async () => {
    const peft = getPeftModel(await tinyModel(), { peft_type: 'LORA', r: 4, lora_alpha: 8 });
    expectLossFell(trainLosses(peft, TINY_INPUT, { lr: 1e-2 }));
    for (const p of peft.baseModel.parameters()) expect(p.grad).toBeNull();
  });
});

describe('LoRA parameter counts', () => {
  const paper = mambaConfig({ dModel: 768, nLayer: 24, vocabSize: 50280, dState: 16 });

  it('the paper config on mamba-130m trains 1,204,224 parameters', () => {
    expect(
      countAdapterParameters(paper, {
        peft_type: 'LORA',
        r: 8,
        lora_alpha: 8,
        lora_dropout: 0.1,
        target_modules: ['x_proj_dt', 'x_proj_B', 'x_proj_C', 'dt_proj'],
      }),
    ).toBe(1_204_224);
    // The defaults are the paper's targets and rank.
    expect(countAdapterParameters(paper, { peft_type: 'LORA' })).toBe(1_204_224);
  });

  it.each([
    [{ target_modules: ['x_proj_dt', 'x_proj_B', 'x_proj_C', 'dt_proj'] }],
    [{ target_modules: ['in_proj', 'x_proj', 'dt_proj', 'out_proj'], r: 3 }],
    [{ target_modules: ['in_proj_x', 'in_proj_z'], layers_to_transform: [1] }],
  ])('the count from the config equals the created adapter on a small model (%j)', (extra) => {
    const config = mambaConfig({ dModel: 16, nLayer: 3, vocabSize: 32, dState: 4 });
    const model = new MambaForCausalLM(config, { generator: new Generator(1) });
    const c = lora(extra);
    const peft = getPeftModel(model, c);
    const own = peft.adapter().numParameters();
    expect(own).toBe(countAdapterParameters(config, c));
    expect(peft.getNbTrainableParameters().trainable).toBe(own);
  });
});

describe('LoRA config errors', () => {
  it('an unknown target names the nearest valid one', async () => {
    const model = await tinyModel();
    expect(() => getPeftModel(model, lora({ target_modules: ['x_proj_b'] }))).toThrow(
      /"x_proj_b".*did you mean "x_proj_B"/,
    );
    expect(() => getPeftModel(model, lora({ target_modules: ['conv1d'] }))).toThrow(
      /"conv1d".*valid: in_proj/,
    );
  });

  it('a whole projection and one of its pieces at once is an error', async () => {
    const model = await tinyModel();
    expect(() => getPeftModel(model, lora({ target_modules: ['x_proj', 'x_proj_C'] }))).toThrow(
      /"x_proj" and its piece\(s\) "x_proj_C"/,
    );
    // Nothing was installed by the failed attempt.
    for (const [, m] of model.namedModules()) expect(m).not.toBeInstanceOf(LoraLayer);
  });
});
