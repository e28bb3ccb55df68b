import { generate, type MambaForCausalLM } from '@statetune/mamba';
import { AdamW, Generator, type Tensor, tidy } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import {
  countBaseParameters,
  formatTrainableParameters,
  getPeftModel,
  PeftError,
  type PeftModel,
} from '../src/index.js';
import {
  METHOD_CASES,
  perturb,
  relErr,
  smallConfig,
  smallModel,
  tokenRows,
  values,
} from './helpers.js';

const ids = tokenRows(2, 6);
const baseLogits = () => values(smallModel().forward({ inputIds: ids }).logits);
const logitsOf = (p: PeftModel) => values(p.forward({ inputIds: ids }).logits);
const ADAPTER_CASES = METHOD_CASES.filter(([t]) => t !== 'FULL_FINETUNING');

/** Every module instance of a model by path, and every mixer's entry fields. */
function snapshot(model: MambaForCausalLM) {
  return {
    modules: new Map(model.namedModules()),
    params: new Map(model.namedParameters()),
  };
}

function expectEntriesCleared(model: MambaForCausalLM): void {
  for (const m of model.mixers) {
    expect(m.initialState).toBeNull();
    expect(m.stateOffset).toBeNull();
    expect(m.outputOffset).toBeNull();
    expect(m.extraStates).toBeNull();
    expect(m.convState).toBeNull();
  }
}

describe.each(ADAPTER_CASES)('%s in a PeftModel', (_, config) => {
  it('with the adapter disabled the output is the base model, bit for bit', () => {
    const peft = getPeftModel(smallModel(), config);
    perturb(peft.adapter());
    const on = logitsOf(peft);
    expect(relErr(on, baseLogits())).toBeGreaterThan(1e-5);
    expect(peft.withAdapterDisabled(() => logitsOf(peft))).toEqual(baseLogits());
    expect(peft.isDisabled).toBe(false);
    expect(logitsOf(peft)).toEqual(on);
    peft.disableAdapter();
    expect(logitsOf(peft)).toEqual(baseLogits());
    peft.enableAdapter();
    expect(logitsOf(peft)).toEqual(on);
  });

  it('generation with the adapter disabled is the base model', async () => {
    const peft = getPeftModel(smallModel(), config);
    perturb(peft.adapter());
    const prompts = [
      [1, 2, 3],
      [4, 5],
    ];
    const opts = { maxNewTokens: 4, eosTokenId: null };
    const base = await generate(smallModel(), prompts, opts);
    const off = await peft.withAdapterDisabled(async () => {
      await Promise.resolve();
      return peft.generate(prompts, opts);
    });
    expect(off.sequences).toEqual(base.sequences);
    expect(peft.isDisabled).toBe(false);
  });

  it('deleteAdapter and unload give the model back as it was', () => {
    const model = smallModel();
    const before = snapshot(model);
    const peft = getPeftModel(model, config);
    peft.addAdapter(config, { adapterName: 'second' });
    peft.forward({ inputIds: ids });
    peft.setAdapter('second');
    peft.deleteAdapter('default');
    expect(peft.adapterNames).toEqual(['second']);
    expect(() => peft.adapter('default')).toThrow(/no adapter named "default"/);
    const back = peft.unload();
    expect(back).toBe(model);
    const after = snapshot(model);
    expect([...after.modules.keys()]).toEqual([...before.modules.keys()]);
    for (const [k, m] of before.modules) expect(after.modules.get(k), k).toBe(m);
    for (const [k, p] of before.params) expect(after.params.get(k), k).toBe(p);
    expectEntriesCleared(model);
    expect(values(model.forward({ inputIds: ids }).logits)).toEqual(baseLogits());
  });

  it('AdamW steps on the adapter leave every base weight unchanged, bit for bit', () => {
    const model = smallModel();
    const weights = new Map([...model.stateDict()].map(([k, t]) => [k, values(t)]));
    const peft = getPeftModel(model, config);
    perturb(peft.adapter());
    const trainable = peft.trainableParameters();
    expect(new Set(trainable)).toEqual(new Set(peft.adapter().parameters()));
    const adapterBefore = trainable.map(values);
    const opt = new AdamW(trainable, { lr: 0.01, weightDecay: 0.1 });
    for (let step = 0; step < 2; step++) {
      const { loss } = peft.forward({ inputIds: ids, labels: ids });
      (loss as Tensor).backward();
      opt.step();
      opt.zeroGrad();
    }
    for (const [k, t] of model.stateDict()) expect(values(t), k).toEqual(weights.get(k));
    for (const p of model.parameters()) expect(p.grad).toBeNull();
    // ...while the adapter itself did train.
    expect(trainable.map(values)).not.toEqual(adapterBefore);
  });
});

describe('adapter management', () => {
  const so = { peft_type: 'STATE_OFFSET_TUNING', init: 'random' } as const;

  it('setAdapter switches the adapter and only the active one trains', () => {
    const peft = getPeftModel(smallModel(), so);
    peft.addAdapter({ ...so, variant: 'y' }, { adapterName: 'other' });
    expect(peft.activeAdapter).toBe('default');
    expect(peft.adapterNames).toEqual(['default', 'other']);
    const first = logitsOf(peft);
    for (const p of peft.adapter('other').parameters()) expect(p.requiresGrad).toBe(false);

    peft.setAdapter('other');
    expect(peft.activeAdapter).toBe('other');
    const second = logitsOf(peft);
    expect(relErr(second, first)).toBeGreaterThan(1e-5);
    expect(new Set(peft.trainableParameters())).toEqual(
      new Set(peft.adapter('other').parameters()),
    );
    const { loss } = peft.forward({ inputIds: ids, labels: ids });
    (loss as Tensor).backward();
    for (const p of peft.adapter('other').parameters()) expect(p.grad).not.toBeNull();
    for (const p of peft.adapter('default').parameters()) {
      expect(p.requiresGrad).toBe(false);
      expect(p.grad).toBeNull();
    }
    peft.setAdapter('default');
    expect(logitsOf(peft)).toEqual(first);
  });

  it('the same adapter alone gives the same output as among others', () => {
    const alone = getPeftModel(smallModel(), so, { adapterName: 'x' });
    const among = getPeftModel(smallModel(), { peft_type: 'INITIAL_STATE_TUNING' });
    among.addAdapter(so, { adapterName: 'x' });
    among.setAdapter('x');
    expect(logitsOf(among)).toEqual(logitsOf(alone));
    expect(relErr(logitsOf(alone), baseLogits())).toBeGreaterThan(1e-3);
  });

  it('an adapter added with isTrainable false stays frozen when active', () => {
    const peft = getPeftModel(smallModel(), so);
    peft.addAdapter(so, { adapterName: 'frozen', isTrainable: false });
    peft.setAdapter('frozen');
    expect(peft.trainableParameters()).toEqual([]);
    expect(peft.getNbTrainableParameters().trainable).toBe(0);
  });

  it('names: duplicates, bad characters and unknown names are errors', () => {
    const peft = getPeftModel(smallModel(), so);
    expect(() => peft.addAdapter(so)).toThrow(/an adapter named "default" already exists/);
    expect(() => peft.addAdapter(so, { adapterName: '../x' })).toThrow(/must use letters/);
    expect(() => peft.setAdapter('nope')).toThrow(/no adapter named "nope" \(adapters: default\)/);
    expect(() => peft.deleteAdapter('nope')).toThrow(PeftError);
  });

  it('the active adapter cannot be deleted while others exist', () => {
    const peft = getPeftModel(smallModel(), so);
    peft.addAdapter(so, { adapterName: 'b' });
    expect(() => peft.deleteAdapter('default')).toThrow(/is the active adapter/);
    peft.deleteAdapter('b');
    expect(peft.adapterNames).toEqual(['default']);
  });

  it('a bad config leaves the model as it was given', () => {
    const model = smallModel();
    expect(() =>
      getPeftModel(model, { peft_type: 'STATE_OFFSET_TUNING', rank: 2 } as never),
    ).toThrow(/unknown key "rank"/);
    for (const p of model.parameters()) expect(p.requiresGrad).toBe(true);
    expect(() =>
      getPeftModel(model, { peft_type: 'LORA', r: 2, target_modules: ['nope'] }),
    ).toThrow(PeftError);
    for (const p of model.parameters()) expect(p.requiresGrad).toBe(true);
  });

  it('every forward starts from cleared entry points', () => {
    const init = { peft_type: 'INITIAL_STATE_TUNING', init: 'random' } as const;
    const peft = getPeftModel(smallModel(), so);
    perturb(peft.adapter());
    peft.addAdapter(init, { adapterName: 'init' });
    const withOffset = logitsOf(peft);
    expect(relErr(withOffset, baseLogits())).toBeGreaterThan(1e-3);
    peft.setAdapter('init');
    // The same h0 (same default seed) alone: no state offset of the first adapter leaks in.
    const alone = logitsOf(getPeftModel(smallModel(), init, { adapterName: 'init' }));
    expect(relErr(logitsOf(peft), alone)).toBeLessThan(1e-6);
    expect(relErr(alone, withOffset)).toBeGreaterThan(1e-3);
  });
});

describe('merged adapters', () => {
  const lora = { peft_type: 'LORA', r: 2, lora_alpha: 4 } as const;

  it('setAdapter unmerges the others first, as PEFT does', () => {
    const peft = getPeftModel(smallModel(), lora);
    perturb(peft.adapter());
    peft.addAdapter(lora, { adapterName: 'b' });
    perturb(peft.adapter('b'), 3);
    peft.setAdapter('b');
    const bAlone = logitsOf(peft);
    peft.setAdapter('default');
    peft.mergeAdapter();
    expect(peft.adapter().merged).toBe(true);
    peft.setAdapter('b');
    expect(peft.adapter('default').merged).toBe(false);
    expect(relErr(logitsOf(peft), bAlone)).toBeLessThan(1e-5);
  });

  it('a merged adapter cannot be mixed per sequence; disabling unmerges it, as PEFT does', () => {
    const peft = getPeftModel(smallModel(), lora);
    perturb(peft.adapter());
    const adapted = logitsOf(peft);
    peft.addAdapter({ peft_type: 'STATE_OFFSET_TUNING' }, { adapterName: 'so' });
    peft.mergeAdapter();
    expect(() => peft.forward({ inputIds: ids, adapterNames: ['so', null] })).toThrow(
      /unmergeAdapter\("default"\) before mixing/,
    );
    expect(relErr(logitsOf(peft), adapted)).toBeLessThan(1e-5);
    // The weights are the base model's again while disabled, and the adapter stays unmerged.
    expect(
      relErr(
        peft.withAdapterDisabled(() => logitsOf(peft)),
        baseLogits(),
      ),
    ).toBeLessThan(1e-6);
    expect(peft.adapter().merged).toBe(false);
    expect(relErr(logitsOf(peft), adapted)).toBeLessThan(1e-5);
  });
});

describe('printTrainableParameters', () => {
  it("prints PEFT's line", () => {
    const peft = getPeftModel(smallModel(), { peft_type: 'STATE_OFFSET_TUNING' });
    const lines: string[] = [];
    peft.printTrainableParameters((l) => lines.push(l));
    const { dInner, dState, nLayer } = smallConfig();
    const trainable = nLayer * dInner * dState;
    const all = countBaseParameters(smallConfig()) + trainable;
    expect(lines).toEqual([formatTrainableParameters(trainable, all)]);
    expect(lines[0]).toMatch(
      /^trainable params: [\d,]+ \|\| all params: [\d,]+ \|\| trainable%: \d+\.\d{4}$/,
    );
  });

  it('formats as Python does with {:,d} and {:.4f}', () => {
    expect(formatTrainableParameters(589_824, 129_725_184)).toBe(
      'trainable params: 589,824 || all params: 129,725,184 || trainable%: 0.4547',
    );
    expect(formatTrainableParameters(12, 999)).toBe(
      'trainable params: 12 || all params: 999 || trainable%: 1.2012',
    );
    expect(formatTrainableParameters(1_000_000, 1_000_000)).toBe(
      'trainable params: 1,000,000 || all params: 1,000,000 || trainable%: 100.0000',
    );
  });
});

describe('full fine-tuning in a PeftModel', () => {
  it('trains the base weights and stands alone', () => {
    const peft = getPeftModel(smallModel(), { peft_type: 'FULL_FINETUNING' });
    expect(peft.getNbTrainableParameters().trainable).toBe(countBaseParameters(smallConfig()));
    expect(() => peft.disableAdapter()).toThrow(
      /adapter "default" \(FULL_FINETUNING\) cannot be disabled/,
    );
    expect(() =>
      peft.addAdapter({ peft_type: 'STATE_OFFSET_TUNING' }, { adapterName: 'x' }),
    ).toThrow(
      /adapter "x" \(STATE_OFFSET_TUNING\): FULL_FINETUNING \(adapter "default"\) .*cannot be combined/,
    );
    const lora = getPeftModel(smallModel(), { peft_type: 'LORA', r: 2 }, { adapterName: 'l' });
    expect(() => lora.addAdapter({ peft_type: 'FULL_FINETUNING' }, { adapterName: 'all' })).toThrow(
      /adapter "all" \(FULL_FINETUNING\): .*cannot be combined .*\(adapters: l\)/,
    );
  });

  it('unload() and deleteAdapter() leave every weight frozen, not trainable without it', () => {
    for (const drop of ['unload', 'mergeAndUnload', 'deleteAdapter'] as const) {
      const model = smallModel();
      const peft = getPeftModel(model, { peft_type: 'FULL_FINETUNING' });
      expect(model.parameters().every((p) => p.requiresGrad)).toBe(true);
      if (drop === 'deleteAdapter') peft.deleteAdapter('default');
      else peft[drop]();
      for (const [k, p] of model.namedParameters())
        expect(p.requiresGrad, `${drop} ${k}`).toBe(false);
      expect(peft.trainableParameters()).toEqual([]);
    }
  });
});

describe('entry points after a forward', () => {
  it('hold no adapter tensor once forward returns, so a tidy() scope cannot leave disposed ones', () => {
    const peft = getPeftModel(
      smallModel(),
      { peft_type: 'STATE_OFFSET_TUNING', variant: 'h', r: 2, init: 'random' },
      { generator: new Generator(3) },
    );
    const base = baseLogits();
    const adapted = logitsOf(peft);
    expect(relErr(adapted, base)).toBeGreaterThan(1e-3);
    // The low-rank product B A is made in the forward, inside the scope, and disposed with it.
    tidy(() => peft.forward({ inputIds: ids }).logits.sum().backward());
    expectEntriesCleared(peft.baseModel);
    // The model called directly is the base model (state-based adapters act through PeftModel).
    expect(relErr(values(peft.baseModel.forward({ inputIds: ids }).logits), base)).toBeLessThan(
      1e-6,
    );
    expect(relErr(logitsOf(peft), adapted)).toBeLessThan(1e-6);
  });

  it('hold no adapter tensor once generate settles', async () => {
    const peft = getPeftModel(smallModel(), { peft_type: 'INITIAL_STATE_TUNING', init: 'random' });
    await peft.generate([[1, 2, 3]], { maxNewTokens: 2, eosTokenId: null });
    expectEntriesCleared(peft.baseModel);
  });
});
