import { mambaConfig } from '@statetune/mamba';
import { describe, expect, it } from 'vitest';
import {
  countAdapterParameters,
  countBaseParameters,
  formatTrainableParameters,
  getPeftModel,
  PEFT_TYPES,
  type PeftConfigInput,
} from '../src/index.js';
import { METHOD_CASES, smallConfig, smallModel } from './helpers.js';

/** state-spaces/mamba-130m as its config.json describes it (no weights are read). */
const mamba130m = mambaConfig({ dModel: 768, nLayer: 24, vocabSize: 50280, dState: 16 });

describe('parameter counts of mamba-130m from its config alone (the paper, Table 1)', () => {
  const cases: [string, PeftConfigInput, number][] = [
    ['State-offset Tuning (h)', { peft_type: 'STATE_OFFSET_TUNING', variant: 'h' }, 589_824],
    ['State-offset Tuning (y)', { peft_type: 'STATE_OFFSET_TUNING', variant: 'y' }, 36_864],
    ['Initial State Tuning', { peft_type: 'INITIAL_STATE_TUNING' }, 589_824],
    [
      'LoRA r=8 on x_proj_dt, x_proj_B, x_proj_C and dt_proj',
      {
        peft_type: 'LORA',
        r: 8,
        target_modules: ['x_proj_dt', 'x_proj_B', 'x_proj_C', 'dt_proj'],
      },
      1_204_224,
    ],
    ['Additional-scan, 8 extra states', { peft_type: 'ADDITIONAL_SCAN', d_state: 8 }, 884_736],
    ['BitFit (conv1d and dt_proj biases)', { peft_type: 'BITFIT' }, 73_728],
  ];
  it.each(cases)('%s', (_, config, expected) => {
    expect(countAdapterParameters(mamba130m, config)).toBe(expected);
  });

  it('the config is the one of the checkpoint', () => {
    expect([mamba130m.dInner, mamba130m.dtRank, mamba130m.dConv]).toEqual([1536, 48, 4]);
  });

  it('the base model has 129,135,360 weights (tied head counted once)', () => {
    expect(countBaseParameters(mamba130m)).toBe(129_135_360);
  });

  it("prints PEFT's line for State-offset Tuning (h) on mamba-130m", () => {
    const base = countBaseParameters(mamba130m);
    expect(formatTrainableParameters(589_824, base + 589_824)).toBe(
      'trainable params: 589,824 || all params: 129,725,184 || trainable%: 0.4547',
    );
  });

  it('a low-rank state offset counts r (dInner + dState) per layer', () => {
    expect(
      countAdapterParameters(mamba130m, { peft_type: 'STATE_OFFSET_TUNING', variant: 'h', r: 4 }),
    ).toBe(24 * 4 * (1536 + 16));
  });

  it('layers_to_transform counts the covered layers only', () => {
    expect(
      countAdapterParameters(mamba130m, {
        peft_type: 'STATE_OFFSET_TUNING',
        layers_to_transform: [0, 5, 23],
      }),
    ).toBe(3 * 1536 * 16);
  });
});

describe('parameter counts of mamba-1.4b from its config alone', () => {
  const mamba1b4 = mambaConfig({ dModel: 2048, nLayer: 48, vocabSize: 50280, dState: 16 });
  const cases: [PeftConfigInput, number][] = [
    [{ peft_type: 'STATE_OFFSET_TUNING' }, 3_145_728],
    [{ peft_type: 'STATE_OFFSET_TUNING', variant: 'y' }, 196_608],
    [{ peft_type: 'INITIAL_STATE_TUNING' }, 3_145_728],
    [{ peft_type: 'LORA', r: 8 }, 6_402_048],
    [{ peft_type: 'ADDITIONAL_SCAN', d_state: 8 }, 4_718_592],
    [{ peft_type: 'BITFIT' }, 393_216],
  ];
  it.each(cases)('%o', (config, expected) => {
    expect(countAdapterParameters(mamba1b4, config)).toBe(expected);
  });
});

describe('countBaseParameters equals a constructed model', () => {
  const variants = [
    ['tied, conv bias', {}],
    ['untied head', { tieEmbeddings: false }],
    ['projection biases, no conv bias', { useBias: true, convBias: false }],
    ['odd sizes', { dModel: 12, dState: 3, dtRank: 5, expand: 3, dConv: 3 }],
  ] as const;
  it.each(variants)('%s', (_, over) => {
    const model = smallModel(0, over);
    expect(countBaseParameters(smallConfig(over))).toBe(model.numParameters());
  });
});

describe('countParameters agrees with the adapter a method creates', () => {
  it('covers every PEFT type', () => {
    expect(METHOD_CASES.map(([t]) => t).sort()).toEqual([...PEFT_TYPES].sort());
  });
  it.each(METHOD_CASES)('%s', (_, config) => {
    const peft = getPeftModel(smallModel(), config);
    const { trainable, all } = peft.getNbTrainableParameters();
    expect(trainable).toBe(countAdapterParameters(smallConfig(), config));
    expect(trainable).toBeGreaterThan(0);
    if (config.peft_type === 'FULL_FINETUNING') {
      expect(all).toBe(countBaseParameters(smallConfig()));
    } else {
      // The base weights plus the adapter's (PEFT's get_nb_trainable_parameters).
      expect(all).toBe(countBaseParameters(smallConfig()) + trainable);
    }
  });
});
