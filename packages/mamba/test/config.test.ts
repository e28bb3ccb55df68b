import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MambaConfigError, mambaConfig, parseMambaConfig, toHfConfigJson } from '../src/config.js';

const FIXTURES =
  process.env.STATETUNE_FIXTURES ??
  resolve(dirname(fileURLToPath(import.meta.url)), '../../../fixtures');

function fixtureConfig(folder: string): unknown {
  return JSON.parse(readFileSync(join(FIXTURES, folder, 'config.json'), 'utf8'));
}

/** mamba-130m-hf's config.json as published (Hugging Face layout). */
const MAMBA_130M_HF = {
  architectures: ['MambaForCausalLM'],
  bos_token_id: 0,
  conv_kernel: 4,
  eos_token_id: 0,
  expand: 2,
  fused_add_norm: true,
  hidden_act: 'silu',
  hidden_size: 768,
  initializer_range: 0.1,
  intermediate_size: 1536,
  layer_norm_epsilon: 1e-5,
  model_type: 'mamba',
  n_layer: 24,
  num_hidden_layers: 24,
  pad_token_id: 0,
  pad_vocab_size_multiple: 8,
  rescale_prenorm_residual: false,
  residual_in_fp32: true,
  rms_norm: true,
  state_size: 16,
  time_step_floor: 0.0001,
  time_step_init_scheme: 'random',
  time_step_max: 0.1,
  time_step_min: 0.001,
  time_step_rank: 48,
  time_step_scale: 1.0,
  torch_dtype: 'float32',
  use_bias: false,
  use_cache: true,
  use_conv_bias: true,
  vocab_size: 50280,
};

/** state-spaces/mamba-130m's config.json (original layout). */
const MAMBA_130M_SSM = {
  d_model: 768,
  n_layer: 24,
  vocab_size: 50277,
  ssm_cfg: {},
  rms_norm: true,
  residual_in_fp32: true,
  fused_add_norm: true,
  pad_vocab_size_multiple: 8,
};

const SIZES_130M = {
  dModel: 768,
  nLayer: 24,
  vocabSize: 50280,
  dState: 16,
  dConv: 4,
  expand: 2,
  dInner: 1536,
  dtRank: 48,
  rmsNormEps: 1e-5,
  residualInFp32: true,
  useBias: false,
  convBias: true,
  tieEmbeddings: true,
};

function errorOf(fn: () => unknown): MambaConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(MambaConfigError);
    return error as MambaConfigError;
  }
  throw new Error('expected a MambaConfigError');
}

describe('parseMambaConfig', () => {
  it('reads the Hugging Face fixture config', () => {
    const c = parseMambaConfig(fixtureConfig('mamba-tiny'));
    expect(c).toMatchObject({
      dModel: 32,
      nLayer: 2,
      vocabSize: 64,
      dState: 8,
      dConv: 4,
      expand: 2,
      dInner: 64,
      dtRank: 2,
      rmsNormEps: 1e-5,
      useBias: false,
      convBias: true,
      tieEmbeddings: true,
      residualInFp32: true,
      bosTokenId: 0,
      eosTokenId: 0,
      padTokenId: 0,
    });
  });

  it('reads the state-spaces fixture configs to the same model', () => {
    const hf = parseMambaConfig(fixtureConfig('mamba-tiny'));
    for (const folder of ['mamba-tiny-ssm', 'mamba-tiny-bin']) {
      const c = parseMambaConfig(fixtureConfig(folder));
      for (const key of [
        'dModel',
        'nLayer',
        'vocabSize',
        'dState',
        'dConv',
        'dInner',
        'dtRank',
        'useBias',
        'convBias',
        'tieEmbeddings',
      ] as const) {
        expect(c[key], `${folder} ${key}`).toBe(hf[key]);
      }
      expect(c.padVocabSizeMultiple).toBe(1);
    }
  });

  it('reads mamba-130m in both layouts (vocabulary padded to 50280, dt_rank auto = 48)', () => {
    const hf = parseMambaConfig(MAMBA_130M_HF);
    const ssm = parseMambaConfig(MAMBA_130M_SSM);
    expect(hf).toMatchObject(SIZES_130M);
    expect(ssm).toMatchObject(SIZES_130M);
    expect(ssm.padVocabSizeMultiple).toBe(8);
    expect({ ...hf, bosTokenId: undefined, eosTokenId: undefined, padTokenId: undefined }).toEqual({
      ...ssm,
      bosTokenId: undefined,
      eosTokenId: undefined,
      padTokenId: undefined,
    });
    // "auto" explicitly, and the Hugging Face default of time_step_rank.
    expect(parseMambaConfig({ ...MAMBA_130M_SSM, ssm_cfg: { dt_rank: 'auto' } }).dtRank).toBe(48);
    const { time_step_rank: _, ...noRank } = MAMBA_130M_HF;
    expect(parseMambaConfig(noRank).dtRank).toBe(48);
    expect(parseMambaConfig({ ...MAMBA_130M_HF, time_step_rank: 'auto' }).dtRank).toBe(48);
  });

  it('pads the vocabulary as each reference does', () => {
    // Original MambaLMHeadModel pads vocab_size up to pad_vocab_size_multiple (default 8).
    const { pad_vocab_size_multiple: _, ...noMultiple } = MAMBA_130M_SSM;
    expect(parseMambaConfig(noMultiple).vocabSize).toBe(50280);
    expect(parseMambaConfig({ ...MAMBA_130M_SSM, pad_vocab_size_multiple: 16 }).vocabSize).toBe(
      50288,
    );
    expect(parseMambaConfig({ ...MAMBA_130M_SSM, pad_vocab_size_multiple: 1 }).vocabSize).toBe(
      50277,
    );
    // Hugging Face MambaConfig has no padding: vocab_size is the embedding's row count.
    expect(parseMambaConfig({ ...MAMBA_130M_HF, vocab_size: 50277 }).vocabSize).toBe(50277);
  });

  it('reads ssm_cfg options and untied embeddings', () => {
    const c = parseMambaConfig({
      ...MAMBA_130M_SSM,
      tie_embeddings: false,
      ssm_cfg: {
        d_state: 8,
        d_conv: 3,
        expand: 3,
        dt_rank: 10,
        bias: true,
        conv_bias: false,
        dt_init: 'constant',
      },
    });
    expect(c).toMatchObject({
      dState: 8,
      dConv: 3,
      dInner: 2304,
      dtRank: 10,
      useBias: true,
      convBias: false,
      tieEmbeddings: false,
      dtInit: 'constant',
    });
  });

  it('rejects malformed values naming the key, the value and what was expected', () => {
    const e1 = errorOf(() =>
      parseMambaConfig({ ...MAMBA_130M_HF, state_size: '16x' }, 'm/config.json'),
    );
    expect(e1.message).toBe('m/config.json: "state_size" must be a positive integer, got "16x"');
    expect(e1.key).toBe('state_size');
    const e2 = errorOf(() => parseMambaConfig({ ...MAMBA_130M_SSM, ssm_cfg: { d_state: 0 } }));
    expect(e2.message).toContain('"ssm_cfg.d_state" must be a positive integer, got 0');
    const e3 = errorOf(() => parseMambaConfig({ ...MAMBA_130M_HF, time_step_rank: 'big' }));
    expect(e3.message).toContain(
      '"time_step_rank" must be a positive integer or "auto", got "big"',
    );
    const e4 = errorOf(() => parseMambaConfig({ ...MAMBA_130M_HF, use_bias: 'no' }));
    expect(e4.message).toContain('"use_bias" must be true or false');
    const { num_hidden_layers: _n, n_layer: _l, ...noLayers } = MAMBA_130M_HF;
    expect(parseMambaConfig(noLayers).nLayer).toBe(32); // the Hugging Face default
    const { n_layer: _m, ...ssmNoLayers } = MAMBA_130M_SSM;
    expect(errorOf(() => parseMambaConfig(ssmNoLayers)).message).toContain('"n_layer" is required');
    // Checks across keys name the file's keys.
    expect(errorOf(() => parseMambaConfig({ ...MAMBA_130M_HF, eos_token_id: 60000 })).message).toBe(
      'config.json: "eos_token_id" (60000) must be below the vocabulary size 50280',
    );
    expect(errorOf(() => parseMambaConfig({ ...MAMBA_130M_HF, time_step_min: 0.5 })).message).toBe(
      'config.json: "time_step_min" (0.5) must not exceed "time_step_max" (0.1)',
    );
    const ssmDt = { ...MAMBA_130M_SSM, ssm_cfg: { dt_min: 0.5 } };
    expect(errorOf(() => parseMambaConfig(ssmDt)).message).toBe(
      'config.json: "ssm_cfg.dt_min" (0.5) must not exceed "ssm_cfg.dt_max" (0.1)',
    );
    expect(() => mambaConfig({ dModel: 8, nLayer: 1, vocabSize: 9, eosTokenId: 9 })).toThrow(
      'mambaConfig: "eosTokenId" (9) must be below the vocabulary size 9',
    );
    expect(
      errorOf(() => parseMambaConfig({ ...MAMBA_130M_HF, layer_norm_epsilon: -1 })).message,
    ).toContain('"layer_norm_epsilon" must be a positive finite number, got -1');
    expect(errorOf(() => parseMambaConfig([1, 2])).message).toContain('must be a JSON object');
    expect(errorOf(() => parseMambaConfig({ n_embd: 768 })).message).toContain('"hidden_size"');
  });

  it('rejects what this package does not implement', () => {
    expect(
      errorOf(() => parseMambaConfig({ ...MAMBA_130M_SSM, rms_norm: false })).message,
    ).toContain('"rms_norm" must be true');
    expect(
      errorOf(() => parseMambaConfig({ ...MAMBA_130M_SSM, ssm_cfg: { layer: 'Mamba2' } })).message,
    ).toContain('Mamba-2');
    expect(
      errorOf(() => parseMambaConfig({ ...MAMBA_130M_SSM, ssm_cfg: { headdim: 64 } })).message,
    ).toContain('"ssm_cfg.headdim" is a Mamba-2 option');
    expect(
      errorOf(() => parseMambaConfig({ ...MAMBA_130M_HF, model_type: 'mamba2' })).message,
    ).toContain('Mamba-2');
    expect(
      errorOf(() => parseMambaConfig({ ...MAMBA_130M_HF, hidden_act: 'gelu' })).message,
    ).toContain('"hidden_act" must be "silu"');
    expect(
      errorOf(() => parseMambaConfig({ ...MAMBA_130M_SSM, d_intermediate: 512 })).message,
    ).toContain('MLP');
    expect(
      errorOf(() => parseMambaConfig({ ...MAMBA_130M_SSM, attn_layer_idx: [3] })).message,
    ).toContain('attention');
  });
});

describe('mambaConfig and toHfConfigJson', () => {
  it('fills the mamba_simple / Hugging Face defaults', () => {
    const c = mambaConfig({ dModel: 768, nLayer: 24, vocabSize: 50277, padVocabSizeMultiple: 8 });
    expect(c).toMatchObject({
      ...SIZES_130M,
      dtMin: 0.001,
      dtMax: 0.1,
      dtInitFloor: 1e-4,
      dtScale: 1,
      dtInit: 'random',
    });
    expect(mambaConfig({ dModel: 32, nLayer: 2, vocabSize: 61 }).vocabSize).toBe(61);
    expect(() => mambaConfig({ dModel: 0, nLayer: 2, vocabSize: 61 })).toThrow(
      /"dModel" must be a positive integer/,
    );
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('defaults the token ids of the Hugging Face layout to 0 as its MambaConfig does; null means none', () => {
    const { bos_token_id, eos_token_id, pad_token_id, ...bare } = MAMBA_130M_HF;
    expect(parseMambaConfig(bare)).toMatchObject({ bosTokenId: 0, eosTokenId: 0, padTokenId: 0 });
    const none = parseMambaConfig({ ...bare, eos_token_id: null });
    expect(none.eosTokenId).toBeUndefined();
    expect(none.padTokenId).toBe(0);
    // The state-spaces layout names no token ids.
    expect(parseMambaConfig(MAMBA_130M_SSM).eosTokenId).toBeUndefined();
  });

  it('writes the keys and values of the published mamba-130m-hf config.json', () => {
    // A round trip alone cannot catch a misnamed key whose value is the default.
    const json = toHfConfigJson(parseMambaConfig(MAMBA_130M_HF));
    const published = MAMBA_130M_HF as Record<string, unknown>;
    const shared = Object.keys(json).filter((k) => k in published);
    expect(Object.keys(json).filter((k) => !(k in published))).toEqual(['tie_word_embeddings']);
    for (const k of shared) expect(json[k], k).toEqual(published[k]);
    expect(json.tie_word_embeddings).toBe(true);
  });

  it('round-trips through the Hugging Face config.json layout', () => {
    for (const c of [
      parseMambaConfig(MAMBA_130M_HF),
      parseMambaConfig(MAMBA_130M_SSM),
      mambaConfig({
        dModel: 40,
        nLayer: 3,
        vocabSize: 100,
        useBias: true,
        tieEmbeddings: false,
        dtRank: 5,
      }),
    ]) {
      const json = toHfConfigJson(c);
      expect(json.model_type).toBe('mamba');
      expect(parseMambaConfig(JSON.parse(JSON.stringify(json)))).toEqual(c);
    }
  });
});
