import { type Backend, noGrad, setBackend } from '@statetune/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { getPeftModel, PeftError, type PeftModel } from '../src/index.js';
import {
  gpuBackend,
  METHOD_CONFIGS,
  relErr,
  smallModel,
  tokenRows,
  values,
  valuesOf,
} from './helpers.js';

/** A PeftModel with several state-based adapters (random, so each changes the output). */
function multi(): PeftModel {
  const peft = getPeftModel(
    smallModel(),
    { peft_type: 'STATE_OFFSET_TUNING', variant: 'h', init: 'random' },
    { adapterName: 'h' },
  );
  peft.addAdapter(
    { peft_type: 'STATE_OFFSET_TUNING', variant: 'y', init: 'random' },
    { adapterName: 'y' },
  );
  peft.addAdapter(
    { peft_type: 'STATE_OFFSET_TUNING', variant: 'h', r: 2, init: 'random' },
    { adapterName: 'low' },
  );
  peft.addAdapter({ peft_type: 'INITIAL_STATE_TUNING', init: 'random' }, { adapterName: 'init' });
  peft.addAdapter(
    { peft_type: 'STATE_OFFSET_TUNING', variant: 'h', layers_to_transform: [1], init: 'random' },
    { adapterName: 'one' },
  );
  return peft;
}

/** The logits of one sequence with one adapter active (null: disabled). */
function alone(peft: PeftModel, row: number[], name: string | null): number[] {
  return noGrad(() => {
    if (name === null)
      return peft.withAdapterDisabled(() => values(peft.forward({ inputIds: [row] }).logits));
    peft.setAdapter(name);
    return values(peft.forward({ inputIds: [row] }).logits);
  });
}

const names = ['h', null, 'y', 'init', 'low', 'h', 'one'];

describe('a batch in which every sequence uses its own adapter', () => {
  it('gives each row the logits of that row run alone with its adapter', () => {
    const peft = multi();
    const ids = tokenRows(names.length, 6);
    const { logits } = noGrad(() => peft.forward({ inputIds: ids, adapterNames: names }));
    const [, seqlen, vocab] = logits.shape;
    const all = values(logits);
    const per = seqlen * vocab;
    const seen: number[][] = [];
    names.forEach((name, i) => {
      const got = all.slice(i * per, (i + 1) * per);
      const want = alone(peft, ids[i], name);
      expect(relErr(got, want), `row ${i} (${name})`).toBeLessThan(1e-5);
      seen.push(want);
    });
    // The adapters really differ from each other and from the base model.
    for (let i = 0; i < names.length; i++) {
      for (let j = 0; j < i; j++) {
        if (names[i] !== names[j]) expect(relErr(seen[i], seen[j])).toBeGreaterThan(1e-4);
      }
    }
  });

  it('the loss of a mixed batch trains each adapter on its own rows', () => {
    const peft = multi();
    for (const n of peft.adapterNames) peft.setAdapter(n);
    const ids = tokenRows(2, 6);
    // Only the active adapter ("one") is trainable; the others get no gradient.
    const { loss } = peft.forward({ inputIds: ids, labels: ids, adapterNames: ['one', 'h'] });
    loss?.backward();
    for (const p of peft.adapter('one').parameters()) expect(p.grad).not.toBeNull();
    for (const p of peft.adapter('h').parameters()) expect(p.grad).toBeNull();
  });

  it('generate() with adapterNames equals generating each prompt alone', async () => {
    const peft = multi();
    const prompts = [
      [1, 2, 3],
      [4, 5, 6, 7, 8],
      [9, 10],
      [11, 12, 13, 14],
      [3, 1, 4, 1, 5],
    ];
    const which = ['init', 'y', null, 'h', 'low'];
    const mixed = await peft.generate(prompts, {
      maxNewTokens: 5,
      eosTokenId: null,
      adapterNames: which,
    });
    const single: number[][] = [];
    for (let i = 0; i < prompts.length; i++) {
      const name = which[i];
      if (name === null) peft.disableAdapter();
      else peft.setAdapter(name);
      const out = await peft.generate([prompts[i]], { maxNewTokens: 5, eosTokenId: null });
      peft.enableAdapter();
      single.push(out.sequences[0]);
    }
    expect(mixed.sequences).toEqual(single);
  });

  it('a batch of base rows only is the base model', () => {
    const peft = multi();
    const ids = tokenRows(2, 5);
    const got = values(peft.forward({ inputIds: ids, adapterNames: [null, null] }).logits);
    expect(got).toEqual(values(smallModel().forward({ inputIds: ids }).logits));
  });

  it('leaves the active adapter in charge of the next plain forward', () => {
    const peft = multi();
    peft.setAdapter('y');
    const ids = tokenRows(2, 5);
    const before = values(peft.forward({ inputIds: ids }).logits);
    expect(relErr(before, values(smallModel().forward({ inputIds: ids }).logits))).toBeGreaterThan(
      1e-3,
    );
    peft.forward({ inputIds: ids, adapterNames: ['h', 'init'] });
    expect(values(peft.forward({ inputIds: ids }).logits)).toEqual(before);
  });

  it('adapters that are not state-based cannot be mixed, and the failed call changes nothing', () => {
    const others = ['LORA', 'BITFIT', 'ADDITIONAL_SCAN', 'PROMPT_TUNING', 'PREFIX_TUNING'] as const;
    const ids = tokenRows(2, 5);
    for (const type of others) {
      const peft = multi();
      const before = values(peft.forward({ inputIds: ids }).logits);
      peft.addAdapter(METHOD_CONFIGS[type], { adapterName: 'other' });
      expect(() => peft.forward({ inputIds: ids, adapterNames: ['h', 'other'] })).toThrow(
        new RegExp(`adapter "other" \\(${type}\\) cannot be mixed per sequence`),
      );
      expect(() => peft.forward({ inputIds: ids, adapterNames: ['h', 'other'] })).toThrow(
        PeftError,
      );
      // The active adapter ('h') still runs alone, with nothing of the failed call left.
      expect(relErr(values(peft.forward({ inputIds: ids }).logits), before), type).toBeLessThan(
        1e-6,
      );
    }
  });

  it('adapterNames must name every sequence and known adapters', () => {
    const peft = multi();
    const ids = tokenRows(3, 5);
    expect(() => peft.forward({ inputIds: ids, adapterNames: ['h', 'y'] })).toThrow(
      /adapterNames has 2 entries but the batch has 3 sequences/,
    );
    expect(() => peft.forward({ inputIds: ids, adapterNames: ['h', 'y', 'zz'] })).toThrow(
      /no adapter named "zz"/,
    );
  });
});

const gpu = await gpuBackend('peft webgpu mixed-batch');

describe.skipIf(!gpu)('a mixed batch on WebGPU', () => {
  afterAll(async () => {
    await setBackend('cpu');
  });

  it('gives each row the logits of that row run alone with its adapter', async () => {
    await setBackend(gpu as Backend);
    try {
      const peft = multi();
      const which = ['low', null, 'init', 'y'];
      const ids = tokenRows(which.length, 5);
      const { logits } = noGrad(() => peft.forward({ inputIds: ids, adapterNames: which }));
      expect(logits.backend.name).toBe('webgpu');
      const all = await valuesOf(logits);
      const per = all.length / which.length;
      for (let i = 0; i < which.length; i++) {
        const name = which[i];
        if (name === null) peft.disableAdapter();
        else peft.setAdapter(name);
        const one = noGrad(() => peft.forward({ inputIds: [ids[i]] }).logits);
        peft.enableAdapter();
        const got = all.slice(i * per, (i + 1) * per);
        expect(relErr(got, await valuesOf(one)), `row ${i} (${name})`).toBeLessThan(1e-5);
      }
    } finally {
      await setBackend('cpu');
    }
  });
});
