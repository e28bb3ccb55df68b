import { type Tensor, tensor } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import { getPeftModel, PeftError, StateOffsetAdapter } from '../src/index.js';
import { relErr, smallConfig, smallModel, tokenRows, values } from './helpers.js';

const ids = tokenRows(2, 7);
const { dInner, dState, nLayer } = smallConfig();

function logitsOf(peft: { forward: (i: { inputIds: number[][] }) => { logits: Tensor } }) {
  return values(peft.forward({ inputIds: ids }).logits);
}

describe('State-offset Tuning', () => {
  it('starts as the base model (zero init) and changes it with random init', () => {
    const base = values(smallModel().forward({ inputIds: ids }).logits);
    const zero = getPeftModel(smallModel(), { peft_type: 'STATE_OFFSET_TUNING' });
    expect(logitsOf(zero)).toEqual(base);
    const random = getPeftModel(smallModel(), { peft_type: 'STATE_OFFSET_TUNING', init: 'random' });
    expect(relErr(logitsOf(random), base)).toBeGreaterThan(1e-4);
  });

  it('registers one offset per layer under the saved keys', () => {
    const h = getPeftModel(smallModel(), { peft_type: 'STATE_OFFSET_TUNING' }).adapter();
    expect(h).toBeInstanceOf(StateOffsetAdapter);
    expect(h.keyPrefix).toBe('base_model.model.');
    expect([...h.adapterStateDict()].map(([k, t]) => [k, t.shape])).toEqual(
      Array.from({ length: nLayer }, (_, i) => [
        `backbone.layers.${i}.mixer.state_offset`,
        [dInner, dState],
      ]),
    );
    const y = getPeftModel(smallModel(), {
      peft_type: 'STATE_OFFSET_TUNING',
      variant: 'y',
    }).adapter();
    expect([...y.adapterStateDict()].map(([k, t]) => [k, t.shape])).toEqual(
      Array.from({ length: nLayer }, (_, i) => [
        `backbone.layers.${i}.mixer.output_offset`,
        [dInner],
      ]),
    );
  });

  it("low rank: h' = lora_B @ lora_A, with A (r, dState) and B (dInner, r)", () => {
    const r = 2;
    const low = getPeftModel(smallModel(), { peft_type: 'STATE_OFFSET_TUNING', r });
    const a = low.adapter();
    const keys = [...a.adapterStateDict()].map(([k, t]) => [k, t.shape]);
    expect(keys).toEqual(
      Array.from({ length: nLayer }, (_, i) => [
        [`backbone.layers.${i}.mixer.state_offset.lora_A`, [r, dState]],
        [`backbone.layers.${i}.mixer.state_offset.lora_B`, [dInner, r]],
      ]).flat(),
    );
    // B starts at zero: the model starts as the base model.
    expect(logitsOf(low)).toEqual(values(smallModel().forward({ inputIds: ids }).logits));

    // Known factors, and a full offset holding their product.
    const Av = Array.from({ length: r * dState }, (_, i) => Math.sin(i + 1));
    const Bv = Array.from({ length: dInner * r }, (_, i) => Math.cos(0.3 * i));
    const product: number[] = [];
    for (let d = 0; d < dInner; d++) {
      for (let n = 0; n < dState; n++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += Bv[d * r + k] * Av[k * dState + n];
        product.push(s);
      }
    }
    const lowTensors = new Map<string, Tensor>();
    const fullTensors = new Map<string, Tensor>();
    for (let i = 0; i < nLayer; i++) {
      const key = `backbone.layers.${i}.mixer.state_offset`;
      lowTensors.set(`${key}.lora_A`, tensor(Av, { shape: [r, dState] }));
      lowTensors.set(`${key}.lora_B`, tensor(Bv, { shape: [dInner, r] }));
      fullTensors.set(key, tensor(product, { shape: [dInner, dState] }));
    }
    a.loadAdapterStateDict(lowTensors, 'test');
    const full = getPeftModel(smallModel(), { peft_type: 'STATE_OFFSET_TUNING' });
    full.adapter().loadAdapterStateDict(fullTensors, 'test');
    const got = logitsOf(low);
    expect(relErr(got, logitsOf(full))).toBeLessThan(1e-5);
    expect(relErr(got, values(smallModel().forward({ inputIds: ids }).logits))).toBeGreaterThan(
      1e-4,
    );
    // The product is what the mixers receive (set by activate, cleared after each forward).
    low.adapter().activate();
    const entry = low.baseModel.mixers[0].stateOffset as Tensor;
    expect(relErr(values(entry), product)).toBeLessThan(1e-6);
  });

  it('low rank trains both factors', () => {
    const low = getPeftModel(smallModel(), {
      peft_type: 'STATE_OFFSET_TUNING',
      r: 2,
      init: 'random',
    });
    const { loss } = low.forward({ inputIds: ids, labels: ids });
    (loss as Tensor).backward();
    for (const [k, p] of low.adapter().namedParameters()) {
      expect(p.grad, k).not.toBeNull();
      expect(
        values(p.grad as Tensor).some((v) => v !== 0),
        k,
      ).toBe(true);
    }
  });

  it('layers_to_transform adapts only those layers', () => {
    const one = getPeftModel(smallModel(), {
      peft_type: 'STATE_OFFSET_TUNING',
      layers_to_transform: [1],
      init: 'random',
    });
    expect([...one.adapter().adapterStateDict().keys()]).toEqual([
      'backbone.layers.1.mixer.state_offset',
    ]);
    one.adapter().activate();
    expect(one.baseModel.mixers[0].stateOffset).toBeNull();
    expect(one.baseModel.mixers[1].stateOffset).not.toBeNull();
  });

  it('a layer the model does not have is an error', () => {
    expect(() =>
      getPeftModel(smallModel(), { peft_type: 'STATE_OFFSET_TUNING', layers_to_transform: [2] }),
    ).toThrow(/layers_to_transform names layer\(s\) 2 but the model has 2 layers/);
  });

  it('variant y sets the output offset and leaves the state alone', () => {
    const y = getPeftModel(smallModel(), {
      peft_type: 'STATE_OFFSET_TUNING',
      variant: 'y',
      init: 'random',
    });
    y.adapter().activate();
    for (const m of y.baseModel.mixers) {
      expect(m.outputOffset?.shape).toEqual([dInner]);
      expect(m.stateOffset).toBeNull();
    }
  });

  it('cannot be merged into the weights', () => {
    const peft = getPeftModel(smallModel(), { peft_type: 'STATE_OFFSET_TUNING', init: 'random' });
    const before = logitsOf(peft);
    expect(() => peft.mergeAdapter()).toThrow(PeftError);
    expect(() => peft.mergeAndUnload()).toThrow(
      /STATE_OFFSET_TUNING adapter "default" cannot be merged/,
    );
    // Nothing changed: the adapter is still there and active, with the same output.
    expect(peft.adapterNames).toEqual(['default']);
    expect(logitsOf(peft)).toEqual(before);
  });
});
