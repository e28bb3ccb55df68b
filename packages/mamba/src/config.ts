/**
 * The Mamba-1 model configuration, parsed from either `config.json` layout: the Hugging Face
 * `MambaConfig` (`hidden_size`, `state_size`, ...) and the original `state-spaces/mamba`
 * `MambaConfig` (`d_model`, `n_layer`, `ssm_cfg`, ...).
 */

/** A validated Mamba-1 configuration. Every size is a positive integer. */
export interface MambaConfig {
  /** Width of the residual stream (`hidden_size` / `d_model`). */
  readonly dModel: number;
  /** Number of Mamba blocks (`num_hidden_layers` / `n_layer`). */
  readonly nLayer: number;
  /**
   * Rows of the embedding (and of the LM head): the vocabulary size padded up to a multiple
   * of {@link MambaConfig.padVocabSizeMultiple}, as the original `MambaLMHeadModel` does.
   */
  readonly vocabSize: number;
  /** SSM state size per channel (`state_size` / `ssm_cfg.d_state`). */
  readonly dState: number;
  /** Width of the causal depthwise convolution (`conv_kernel` / `ssm_cfg.d_conv`). */
  readonly dConv: number;
  /** Expansion factor of the inner width. */
  readonly expand: number;
  /** Inner width: `expand * dModel`, or `intermediate_size` when the file gives one. */
  readonly dInner: number;
  /** Rank of the `dt` projection; `'auto'` in a file means `ceil(dModel / 16)`. */
  readonly dtRank: number;
  /** Epsilon of every RMSNorm. */
  readonly rmsNormEps: number;
  /** Whether the residual stream is kept in float32 (it always is on the CPU backend). */
  readonly residualInFp32: boolean;
  /** Whether `in_proj` and `out_proj` have a bias. */
  readonly useBias: boolean;
  /** Whether the depthwise `conv1d` has a bias. */
  readonly convBias: boolean;
  /** Whether `lm_head.weight` is the embedding matrix (tied) rather than its own tensor. */
  readonly tieEmbeddings: boolean;
  /** The multiple the vocabulary was padded to (1 = no padding). */
  readonly padVocabSizeMultiple: number;
  /** Smallest initial `dt` (initialisation only). */
  readonly dtMin: number;
  /** Largest initial `dt` (initialisation only). */
  readonly dtMax: number;
  /** Floor of the initial `dt` (initialisation only). */
  readonly dtInitFloor: number;
  /** Scale of the `dt_proj` weight initialisation. */
  readonly dtScale: number;
  /** How `dt_proj.weight` is initialised. */
  readonly dtInit: 'random' | 'constant';
  /** Beginning-of-sequence token id, when the config names one. */
  readonly bosTokenId?: number;
  /** End-of-sequence token id, when the config names one. */
  readonly eosTokenId?: number;
  /** Padding token id, when the config names one. */
  readonly padTokenId?: number;
}

/** Which `config.json` layout a configuration came from. */
export type MambaConfigLayout = 'hf' | 'state-spaces';

/**
 * Thrown for a configuration that is malformed or asks for something this package does
 * not implement. The message names the source, the key, the value found and what was
 * expected.
 */
export class MambaConfigError extends Error {
  /** Where the configuration came from, e.g. a file path or `config.json`. */
  readonly source: string;
  /** The offending key (dotted for nested keys, e.g. `ssm_cfg.d_state`), when there is one. */
  readonly key: string | undefined;

  constructor(source: string, key: string | undefined, message: string) {
    super(`${source}: ${key === undefined ? '' : `"${key}" `}${message}`);
    this.name = 'MambaConfigError';
    this.source = source;
    this.key = key;
  }
}

type Json = Record<string, unknown>;

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads keys from one JSON object and reports problems against `source` and a key prefix. */
class Reader {
  constructor(
    readonly source: string,
    readonly obj: Json,
    readonly prefix = '',
  ) {}

  fail(key: string, message: string): never {
    throw new MambaConfigError(this.source, `${this.prefix}${key}`, message);
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  raw(key: string): unknown {
    return this.obj[key];
  }

  posInt(key: string, fallback?: number): number {
    const v = this.obj[key];
    if (v === undefined || v === null) {
      if (fallback === undefined) this.fail(key, 'is required (a positive integer) but missing');
      return fallback;
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      this.fail(key, `must be a positive integer, got ${show(v)}`);
    }
    return v;
  }

  /** A positive number; integers only when the reference stores it as one (`expand` may be 1.5). */
  posNum(key: string, fallback: number): number {
    const v = this.obj[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      this.fail(key, `must be a positive finite number, got ${show(v)}`);
    }
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.obj[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${show(v)}`);
    return v;
  }

  /** A token id; `fallback` when the key is absent, undefined when it is null. */
  tokenId(key: string, fallback?: number): number | undefined {
    const v = this.obj[key];
    if (v === undefined) return fallback;
    if (v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      this.fail(key, `must be a non-negative integer token id, got ${show(v)}`);
    }
    return v;
  }

  /** `dt_rank` / `time_step_rank`: a positive integer or `"auto"`. */
  rank(key: string, dModel: number): number {
    const v = this.obj[key];
    if (v === undefined || v === null || v === 'auto') return Math.ceil(dModel / 16);
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      this.fail(key, `must be a positive integer or "auto", got ${show(v)}`);
    }
    return v;
  }

  dtInit(key: string): 'random' | 'constant' {
    const v = this.obj[key];
    if (v === undefined || v === null) return 'random';
    if (v !== 'random' && v !== 'constant') {
      this.fail(key, `must be "random" or "constant", got ${show(v)}`);
    }
    return v;
  }
}

function padTo(n: number, multiple: number): number {
  return n % multiple === 0 ? n : n + multiple - (n % multiple);
}

/** Which layout a parsed `config.json` object is in, or `undefined` if neither. */
export function detectConfigLayout(json: unknown): MambaConfigLayout | undefined {
  if (!isObject(json)) return undefined;
  if (json.hidden_size !== undefined) return 'hf';
  if (json.d_model !== undefined) return 'state-spaces';
  return undefined;
}

function parseHf(r: Reader): Omit<MambaConfig, 'padVocabSizeMultiple' | 'vocabSize'> & {
  vocab: number;
  padMultiple: number;
  pad: boolean;
} {
  const modelType = r.raw('model_type');
  if (modelType !== undefined && modelType !== 'mamba') {
    r.fail(
      'model_type',
      `must be "mamba" (Mamba-1), got ${show(modelType)}; ${
        modelType === 'mamba2'
          ? 'Mamba-2 checkpoints are not supported'
          : 'this architecture is not supported'
      }`,
    );
  }
  const act = r.raw('hidden_act');
  if (act !== undefined && act !== null && act !== 'silu') {
    r.fail('hidden_act', `must be "silu" (the only activation Mamba-1 uses), got ${show(act)}`);
  }
  if (r.has('rms_norm') && r.raw('rms_norm') !== true) {
    r.fail(
      'rms_norm',
      `must be true: only RMSNorm models are supported, got ${show(r.raw('rms_norm'))}`,
    );
  }
  const dModel = r.posInt('hidden_size');
  const expand = r.posNum('expand', 2);
  const dInner = r.has('intermediate_size') ? r.posInt('intermediate_size') : expand * dModel;
  if (!Number.isInteger(dInner)) {
    r.fail('expand', `times hidden_size (${dModel}) must be an integer inner width, got ${dInner}`);
  }
  return {
    dModel,
    nLayer: r.has('num_hidden_layers') ? r.posInt('num_hidden_layers') : r.posInt('n_layer', 32),
    vocab: r.posInt('vocab_size', 50280),
    // Hugging Face stores the already padded size in vocab_size and never pads again; a
    // pad_vocab_size_multiple key in such a file is informational.
    padMultiple: r.posInt('pad_vocab_size_multiple', 1),
    pad: false,
    dState: r.posInt('state_size', 16),
    dConv: r.posInt('conv_kernel', 4),
    expand,
    dInner,
    dtRank: r.rank('time_step_rank', dModel),
    rmsNormEps: r.posNum('layer_norm_epsilon', 1e-5),
    residualInFp32: r.bool('residual_in_fp32', true),
    useBias: r.bool('use_bias', false),
    convBias: r.bool('use_conv_bias', true),
    tieEmbeddings: r.bool('tie_word_embeddings', true),
    dtMin: r.posNum('time_step_min', 0.001),
    dtMax: r.posNum('time_step_max', 0.1),
    dtInitFloor: r.posNum('time_step_floor', 1e-4),
    dtScale: r.posNum('time_step_scale', 1),
    dtInit: r.dtInit('time_step_init_scheme'),
    // Hugging Face's MambaConfig defaults all three to 0 (GPT-NeoX's <|endoftext|>).
    bosTokenId: r.tokenId('bos_token_id', 0),
    eosTokenId: r.tokenId('eos_token_id', 0),
    padTokenId: r.tokenId('pad_token_id', 0),
  };
}

function parseStateSpaces(r: Reader): ReturnType<typeof parseHf> {
  if (r.has('rms_norm') && r.raw('rms_norm') !== true) {
    r.fail(
      'rms_norm',
      `must be true: only RMSNorm models are supported (LayerNorm is not), got ${show(r.raw('rms_norm'))}`,
    );
  }
  const dInt = r.raw('d_intermediate');
  if (dInt !== undefined && dInt !== null && dInt !== 0) {
    r.fail(
      'd_intermediate',
      `must be 0: MLP layers between Mamba blocks are not supported, got ${show(dInt)}`,
    );
  }
  const attn = r.raw('attn_layer_idx');
  if (attn !== undefined && attn !== null && !(Array.isArray(attn) && attn.length === 0)) {
    r.fail(
      'attn_layer_idx',
      `must be empty: hybrid attention layers are not supported, got ${show(attn)}`,
    );
  }
  const ssmRaw = r.raw('ssm_cfg') ?? {};
  if (!isObject(ssmRaw)) r.fail('ssm_cfg', `must be an object, got ${show(ssmRaw)}`);
  const s = new Reader(r.source, ssmRaw, 'ssm_cfg.');
  const layer = s.raw('layer');
  if (layer !== undefined && layer !== null && layer !== 'Mamba1') {
    s.fail('layer', `must be "Mamba1", got ${show(layer)}; Mamba-2 checkpoints are not supported`);
  }
  for (const key of ['headdim', 'ngroups', 'd_ssm', 'chunk_size']) {
    if (s.has(key)) s.fail(key, `is a Mamba-2 option; Mamba-2 checkpoints are not supported`);
  }
  const dModel = r.posInt('d_model');
  const expand = s.posNum('expand', 2);
  const dInner = expand * dModel;
  if (!Number.isInteger(dInner)) {
    s.fail('expand', `times d_model (${dModel}) must be an integer inner width, got ${dInner}`);
  }
  return {
    dModel,
    nLayer: r.posInt('n_layer'),
    vocab: r.posInt('vocab_size'),
    padMultiple: r.posInt('pad_vocab_size_multiple', 8),
    pad: true,
    dState: s.posInt('d_state', 16),
    dConv: s.posInt('d_conv', 4),
    expand,
    dInner,
    dtRank: s.rank('dt_rank', dModel),
    rmsNormEps: r.posNum('norm_epsilon', 1e-5),
    residualInFp32: r.bool('residual_in_fp32', true),
    useBias: s.bool('bias', false),
    convBias: s.bool('conv_bias', true),
    tieEmbeddings: r.bool('tie_embeddings', true),
    dtMin: s.posNum('dt_min', 0.001),
    dtMax: s.posNum('dt_max', 0.1),
    dtInitFloor: s.posNum('dt_init_floor', 1e-4),
    dtScale: s.posNum('dt_scale', 1),
    dtInit: s.dtInit('dt_init'),
    bosTokenId: r.tokenId('bos_token_id'),
    eosTokenId: r.tokenId('eos_token_id'),
    padTokenId: r.tokenId('pad_token_id'),
  };
}

/** The keys cross-field checks name in messages: the file's keys, or the option names. */
type CheckedKey = 'dtMin' | 'dtMax' | 'bosTokenId' | 'eosTokenId' | 'padTokenId';

const HF_KEYS: Record<CheckedKey, string> = {
  dtMin: 'time_step_min',
  dtMax: 'time_step_max',
  bosTokenId: 'bos_token_id',
  eosTokenId: 'eos_token_id',
  padTokenId: 'pad_token_id',
};

const STATE_SPACES_KEYS: Record<CheckedKey, string> = {
  ...HF_KEYS,
  dtMin: 'ssm_cfg.dt_min',
  dtMax: 'ssm_cfg.dt_max',
};

const OPTION_KEYS: Record<CheckedKey, string> = {
  dtMin: 'dtMin',
  dtMax: 'dtMax',
  bosTokenId: 'bosTokenId',
  eosTokenId: 'eosTokenId',
  padTokenId: 'padTokenId',
};

/** Checks that involve two fields, then freezes the configuration. */
function finish(source: string, c: MambaConfig, keys: Record<CheckedKey, string>): MambaConfig {
  if (c.dtMin > c.dtMax) {
    throw new MambaConfigError(
      source,
      keys.dtMin,
      `(${c.dtMin}) must not exceed "${keys.dtMax}" (${c.dtMax})`,
    );
  }
  for (const key of ['bosTokenId', 'eosTokenId', 'padTokenId'] as const) {
    const id = c[key];
    if (id !== undefined && id >= c.vocabSize) {
      throw new MambaConfigError(
        source,
        keys[key],
        `(${id}) must be below the vocabulary size ${c.vocabSize}`,
      );
    }
  }
  const out: { -readonly [K in keyof MambaConfig]: MambaConfig[K] } = { ...c };
  for (const key of ['bosTokenId', 'eosTokenId', 'padTokenId'] as const) {
    if (out[key] === undefined) delete out[key];
  }
  return Object.freeze(out);
}

/**
 * Parses and validates a `config.json` object in the Hugging Face layout (`hidden_size`,
 * `state_size`, `num_hidden_layers`, ...) or the original state-spaces layout (`d_model`,
 * `n_layer`, `ssm_cfg`, ...). The state-spaces layout pads `vocab_size` up to
 * `pad_vocab_size_multiple` (default 8) as `MambaLMHeadModel` does; the Hugging Face layout
 * already stores the padded size and is taken as is.
 *
 * @param json - the parsed JSON.
 * @param source - where it came from, used in error messages (default `config.json`).
 * @throws {@link MambaConfigError} naming the key, the value and what was expected, also for
 *   options this package does not implement (LayerNorm, Mamba-2, hybrid attention).
 */
export function parseMambaConfig(json: unknown, source = 'config.json'): MambaConfig {
  if (!isObject(json)) {
    throw new MambaConfigError(source, undefined, `must be a JSON object, got ${show(json)}`);
  }
  const layout = detectConfigLayout(json);
  if (layout === undefined) {
    throw new MambaConfigError(
      source,
      undefined,
      'is not a Mamba config: expected "hidden_size" (Hugging Face layout) or "d_model" (state-spaces layout)',
    );
  }
  const r = new Reader(source, json);
  const p = layout === 'hf' ? parseHf(r) : parseStateSpaces(r);
  const { vocab, padMultiple, pad, ...rest } = p;
  return finish(
    source,
    {
      ...rest,
      vocabSize: pad ? padTo(vocab, padMultiple) : vocab,
      padVocabSizeMultiple: padMultiple,
    },
    layout === 'hf' ? HF_KEYS : STATE_SPACES_KEYS,
  );
}

/**
 * Builds a configuration from the three required sizes and any overrides, with the defaults
 * of `mamba_simple.Mamba` and the Hugging Face `MambaConfig`: `dState` 16, `dConv` 4,
 * `expand` 2, `dtRank` `ceil(dModel / 16)`, eps 1e-5, no projection bias, conv bias, tied
 * embeddings, `dt` in [0.001, 0.1] with floor 1e-4. `vocabSize` is padded up to
 * `padVocabSizeMultiple` (default 1, no padding).
 *
 * @throws {@link MambaConfigError} for a non-positive or non-integer size.
 */
export function mambaConfig(
  partial: Partial<MambaConfig> & { dModel: number; nLayer: number; vocabSize: number },
): MambaConfig {
  const source = 'mambaConfig';
  const expand = partial.expand ?? 2;
  const padMultiple = partial.padVocabSizeMultiple ?? 1;
  const c: MambaConfig = {
    dState: 16,
    dConv: 4,
    rmsNormEps: 1e-5,
    residualInFp32: true,
    useBias: false,
    convBias: true,
    tieEmbeddings: true,
    dtMin: 0.001,
    dtMax: 0.1,
    dtInitFloor: 1e-4,
    dtScale: 1,
    dtInit: 'random',
    ...partial,
    expand,
    dInner: partial.dInner ?? expand * partial.dModel,
    dtRank: partial.dtRank ?? Math.ceil(partial.dModel / 16),
    padVocabSizeMultiple: padMultiple,
    vocabSize: partial.vocabSize,
  };
  for (const key of [
    'dModel',
    'nLayer',
    'vocabSize',
    'dState',
    'dConv',
    'dInner',
    'dtRank',
    'padVocabSizeMultiple',
  ] as const) {
    const v = c[key];
    if (!Number.isInteger(v) || v <= 0) {
      throw new MambaConfigError(source, key, `must be a positive integer, got ${show(v)}`);
    }
  }
  for (const key of ['expand', 'rmsNormEps', 'dtMin', 'dtMax', 'dtInitFloor', 'dtScale'] as const) {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new MambaConfigError(source, key, `must be a positive finite number, got ${show(v)}`);
    }
  }
  if (c.dtInit !== 'random' && c.dtInit !== 'constant') {
    throw new MambaConfigError(
      source,
      'dtInit',
      `must be "random" or "constant", got ${show(c.dtInit)}`,
    );
  }
  return finish(source, { ...c, vocabSize: padTo(c.vocabSize, padMultiple) }, OPTION_KEYS);
}

/**
 * Writes a configuration as a Hugging Face `MambaConfig` `config.json` object (what
 * `MambaForCausalLM.from_pretrained` reads). `vocab_size` is the padded size; a token id the
 * configuration lacks is written as null.
 */
export function toHfConfigJson(config: MambaConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {
    architectures: ['MambaForCausalLM'],
    model_type: 'mamba',
    vocab_size: config.vocabSize,
    pad_vocab_size_multiple: config.padVocabSizeMultiple,
    hidden_size: config.dModel,
    state_size: config.dState,
    num_hidden_layers: config.nLayer,
    layer_norm_epsilon: config.rmsNormEps,
    expand: config.expand,
    conv_kernel: config.dConv,
    use_bias: config.useBias,
    use_conv_bias: config.convBias,
    hidden_act: 'silu',
    intermediate_size: config.dInner,
    time_step_rank: config.dtRank,
    time_step_scale: config.dtScale,
    time_step_min: config.dtMin,
    time_step_max: config.dtMax,
    time_step_init_scheme: config.dtInit,
    time_step_floor: config.dtInitFloor,
    residual_in_fp32: config.residualInFp32,
    rms_norm: true,
    tie_word_embeddings: config.tieEmbeddings,
  };
  // null, not absent: an absent key means 0 to Hugging Face's MambaConfig.
  out.bos_token_id = config.bosTokenId ?? null;
  out.eos_token_id = config.eosTokenId ?? null;
  out.pad_token_id = config.padTokenId ?? null;
  return out;
}
