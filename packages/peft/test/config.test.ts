import { describe, expect, it } from 'vitest';
import {
  adapterConfigJson,
  nearest,
  PEFT_TYPES,
  PeftError,
  parsePeftConfig,
} from '../src/index.js';
import { METHOD_CASES } from './helpers.js';

describe('parsePeftConfig', () => {
  it('fills the defaults and the common keys', () => {
    expect(parsePeftConfig({ peft_type: 'STATE_OFFSET_TUNING' })).toEqual({
      peft_type: 'STATE_OFFSET_TUNING',
      task_type: 'CAUSAL_LM',
      base_model_name_or_path: null,
      inference_mode: false,
      variant: 'h',
      r: null,
      init: 'zero',
      layers_to_transform: null,
    });
  });

  it('knows the eight methods', () => {
    expect([...PEFT_TYPES].sort()).toEqual(
      [
        'ADDITIONAL_SCAN',
        'BITFIT',
        'FULL_FINETUNING',
        'INITIAL_STATE_TUNING',
        'LORA',
        'PREFIX_TUNING',
        'PROMPT_TUNING',
        'STATE_OFFSET_TUNING',
      ].sort(),
    );
  });

  it('the per-method test cases cover every PEFT type (describe.each runs them all)', () => {
    expect(METHOD_CASES.map(([t]) => t).sort()).toEqual([...PEFT_TYPES].sort());
  });

  it.each(METHOD_CASES)('%s: a parsed config parses to itself', (_, input) => {
    const parsed = parsePeftConfig(input);
    expect(parsed.peft_type).toBe(input.peft_type);
    expect(parsePeftConfig(parsed)).toEqual(parsed);
    // What adapter_config.json holds parses back to the same keys.
    const json = JSON.parse(JSON.stringify(adapterConfigJson(parsed, 'some/model')));
    expect(parsePeftConfig(json)).toEqual({
      ...parsed,
      base_model_name_or_path: 'some/model',
      inference_mode: true,
    });
  });

  it('an unknown key is an error naming the nearest valid key', () => {
    expect(() =>
      parsePeftConfig({ peft_type: 'STATE_OFFSET_TUNING', varient: 'y' }, 'my/adapter_config.json'),
    ).toThrow(/my\/adapter_config\.json: unknown key "varient" \(did you mean "variant"\?\)/);
  });

  it('an unknown key far from every valid key gets no suggestion', () => {
    const err = catchError(() =>
      parsePeftConfig({ peft_type: 'STATE_OFFSET_TUNING', completely_else: 1 }),
    );
    expect(err).toBeInstanceOf(PeftError);
    expect(err.message).toContain('unknown key "completely_else"');
    expect(err.message).not.toContain('did you mean');
  });

  it('an unknown peft_type lists the valid ones and the nearest', () => {
    const err = catchError(() => parsePeftConfig({ peft_type: 'STATE_OFFSET_TUNNING' }));
    expect(err).toBeInstanceOf(PeftError);
    expect(err.message).toContain('did you mean "STATE_OFFSET_TUNING"?');
    for (const t of PEFT_TYPES) expect(err.message).toContain(t);
  });

  it('a peft_type that names an Object property is unknown too', () => {
    expect(() => parsePeftConfig({ peft_type: 'constructor' })).toThrow(PeftError);
    expect(() => parsePeftConfig({ peft_type: 'toString' })).toThrow(/"peft_type" must be one of/);
  });

  it('a missing peft_type is an error', () => {
    expect(() => parsePeftConfig({ variant: 'h' })).toThrow(/"peft_type" must be one of/);
  });

  it('a config that is not an object is an error', () => {
    expect(() => parsePeftConfig([] as never)).toThrow(/must be an object/);
    expect(() => parsePeftConfig(null as never)).toThrow(/must be an object/);
  });

  it('a bad value names the key, what it must be and the value', () => {
    expect(() => parsePeftConfig({ peft_type: 'STATE_OFFSET_TUNING', variant: 'z' })).toThrow(
      /"variant" must be one of "h", "y", got "z"/,
    );
    expect(() => parsePeftConfig({ peft_type: 'STATE_OFFSET_TUNING', r: 0 })).toThrow(
      /"r" must be a positive integer, got 0/,
    );
    expect(() =>
      parsePeftConfig({ peft_type: 'STATE_OFFSET_TUNING', layers_to_transform: [1, 1] }),
    ).toThrow(/"layers_to_transform" must be null \(all layers\) or a list of distinct/);
  });

  it('every problem is reported at once', () => {
    const err = catchError(() =>
      parsePeftConfig({ peft_type: 'STATE_OFFSET_TUNING', variant: 'z', rr: 2 }),
    );
    expect(err.message).toContain('"variant"');
    expect(err.message).toContain('unknown key "rr"');
  });

  it('checks the common keys', () => {
    expect(() =>
      parsePeftConfig({ peft_type: 'STATE_OFFSET_TUNING', inference_mode: 'yes' }),
    ).toThrow(/"inference_mode" must be true or false, got "yes"/);
    expect(() =>
      parsePeftConfig({ peft_type: 'STATE_OFFSET_TUNING', base_model_name_or_path: 3 }),
    ).toThrow(/"base_model_name_or_path" must be a string or null, got 3/);
  });

  it('accepts the keys PEFT writes into every adapter_config.json', () => {
    const c = parsePeftConfig({
      peft_type: 'STATE_OFFSET_TUNING',
      task_type: 'CAUSAL_LM',
      base_model_name_or_path: 'state-spaces/mamba-130m-hf',
      inference_mode: true,
      revision: null,
      auto_mapping: null,
    });
    expect(c.base_model_name_or_path).toBe('state-spaces/mamba-130m-hf');
    expect(c.inference_mode).toBe(true);
  });

  it('cross-key checks of a method', () => {
    expect(() => parsePeftConfig({ peft_type: 'STATE_OFFSET_TUNING', variant: 'y', r: 4 })).toThrow(
      /"r" \(low rank\) applies to variant "h" only/,
    );
  });
});

describe('adapterConfigJson', () => {
  it('writes inference_mode true and the base model', () => {
    const json = adapterConfigJson(
      parsePeftConfig({ peft_type: 'STATE_OFFSET_TUNING', variant: 'y' }),
      'state-spaces/mamba-130m-hf',
    );
    expect(json).toMatchObject({
      peft_type: 'STATE_OFFSET_TUNING',
      task_type: 'CAUSAL_LM',
      base_model_name_or_path: 'state-spaces/mamba-130m-hf',
      inference_mode: true,
      variant: 'y',
    });
  });
});

describe('nearest', () => {
  it('finds a typo and ignores distant words', () => {
    expect(nearest('lora_alhpa', ['lora_alpha', 'lora_dropout', 'r'])).toBe('lora_alpha');
    expect(nearest('xyz', ['lora_alpha', 'target_modules'])).toBeNull();
  });
});

function catchError(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('Hugging Face PEFT LoRA configs', () => {
  // What PEFT writes for a LoRA adapter of a Mamba model (keys of recent releases).
  const peftWritten = {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: 'state-spaces/mamba-130m-hf',
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: 16,
    lora_dropout: 0.1,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    peft_type: 'LORA',
    r: 8,
    rank_pattern: {},
    revision: null,
    target_modules: ['x_proj', 'dt_proj'],
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: false,
  };

  it('loads with the features it does not have switched off', () => {
    const c = parsePeftConfig(peftWritten, 'adapter_config.json');
    expect(c).toMatchObject({ peft_type: 'LORA', r: 8, lora_alpha: 16, lora_dropout: 0.1 });
    expect(c).not.toHaveProperty('use_dora');
  });

  it('refuses a feature that is switched on, naming the key', () => {
    expect(() =>
      parsePeftConfig({ ...peftWritten, use_dora: true }, 'a/adapter_config.json'),
    ).toThrow(/a\/adapter_config\.json: "use_dora" is not supported \(only false\), got true/);
    expect(() =>
      parsePeftConfig({ ...peftWritten, rank_pattern: { x_proj: 4 } }, 'adapter_config.json'),
    ).toThrow(/"rank_pattern" is not supported/);
  });
});
