/**
 * The run config of `statetune train` (and the keys `statetune eval` reads): its typed shape
 * and the table of keys it is validated against. The table is data, so validation, the
 * nearest-key suggestions, `--help` and the docs all come from one place.
 */

/** The tasks the trainer can run (the paper's). */
export const TASK_NAMES = [
  'sst2',
  'cola',
  'mrpc',
  'rte',
  'qnli',
  'qqp',
  'mnli',
  'dart',
  'samsum',
  'spider',
] as const;

/** A task name of {@link TASK_NAMES}. */
export type TaskName = (typeof TASK_NAMES)[number];

/** Learning-rate schedules: linear decay to 0 (the paper's), constant, cosine; each after a linear warmup. */
export const SCHEDULES = ['linear', 'constant', 'cosine'] as const;

/** Devices `--device` accepts. */
export const DEVICES = ['auto', 'cpu', 'webgpu'] as const;

/** `task:` — which task, and where its data is. Paths resolve against the config file's folder. */
export interface TaskConfig {
  /** One of {@link TASK_NAMES}. */
  readonly name: TaskName;
  /**
   * Train split: a file (GLUE `.tsv` in the GLUE distribution's format, or `.json`, `.jsonl`,
   * `.parquet`), or for GLUE the task's folder (`glue/SST-2`, read as `train.tsv`).
   */
  readonly train: string | null;
  /** Validation split, same forms (a GLUE folder is read as `dev.tsv`; MNLI matched + mismatched). */
  readonly validation: string | null;
  /** Test split (optional), same forms. */
  readonly test: string | null;
  /** Spider: the `database` folder (one `<db_id>/` folder per database). */
  readonly spider_db: string | null;
  /** Spider: `tables.json` (default: `tables.json` beside the split file). */
  readonly spider_tables: string | null;
  /** Use only the first N training examples (deterministic). */
  readonly max_train_examples: number | null;
  /** Evaluate only the first N examples of the evaluation split (deterministic). */
  readonly max_eval_examples: number | null;
  /**
   * Drop examples whose whole sequence (prefix + input + label) is longer than this many
   * tokens; the task's own filter (Spider's 1536, prefix not counted) applies besides.
   */
  readonly max_length: number | null;
}

/** `train:` — optimisation. Defaults are the paper's (AdamW, linear decay, no warmup, clip 1.0, seed 42). */
export interface TrainConfig {
  readonly learning_rate: number;
  /** Examples per step. */
  readonly batch_size: number;
  /** Epochs; the run is `epochs * ceil(N / batch_size)` steps, as the paper's `max_steps`. */
  readonly epochs: number | null;
  /** Total optimizer steps (overrides `epochs`). */
  readonly max_steps: number | null;
  readonly schedule: (typeof SCHEDULES)[number];
  readonly warmup_steps: number;
  readonly weight_decay: number;
  readonly adam_beta1: number;
  readonly adam_beta2: number;
  readonly adam_epsilon: number;
  /** Clip the global gradient norm to this; null or 0 for no clipping. */
  readonly max_grad_norm: number | null;
  /** Seed of data order and adapter initialisation. */
  readonly seed: number;
  /** Leave out the last, smaller batch of each epoch (the paper's `dataloader_drop_last=True`). */
  readonly drop_last: boolean;
  /** Write a metrics line (and a progress line when not on a terminal) every N steps. */
  readonly log_every_steps: number;
  /** Keep only the newest N step checkpoints (`best/` is always kept); null keeps all. */
  readonly save_total_limit: number | null;
}

/** `eval:` — when and how the run is evaluated. */
export interface EvalConfig {
  /** Evaluate (and save a checkpoint) every N steps; default once per epoch, `ceil(N / batch_size)`. */
  readonly every_steps: number | null;
  /** The split evaluated during training. */
  readonly split: 'validation' | 'test';
  /** Evaluate once before the first step (the "before" of the final comparison). */
  readonly before_training: boolean;
  /** The metric that picks the best checkpoint (default: the task's first metric). */
  readonly metric: string | null;
  /** Prompts per evaluation batch (the paper: 1). */
  readonly batch_size: number;
}

/** `generation:` — decoding for generation tasks' evaluation and `statetune generate`. */
export interface GenerationConfig {
  readonly num_beams: number;
  readonly max_new_tokens: number;
  readonly min_new_tokens: number;
  readonly length_penalty: number;
  readonly do_sample: boolean;
  readonly temperature: number;
  readonly top_k: number;
  readonly top_p: number;
}

/** A validated run config: every key present, defaults filled, paths absolute. */
export interface RunConfig {
  /** Checkpoint folder (`config.json` + weights, Hugging Face or state-spaces layout). */
  readonly model: string;
  /** `tokenizer.json` (or a folder holding one), or `byte` for the byte-level tokenizer; default `<model>/tokenizer.json`. */
  readonly tokenizer: string | null;
  readonly task: TaskConfig;
  /**
   * The PEFT config: an inline object (`{ peft_type: STATE_OFFSET_TUNING, variant: h }`) or a
   * path to an `adapter_config.json`-style file (or a folder holding one).
   */
  readonly peft: Readonly<Record<string, unknown>> | string;
  readonly train: TrainConfig;
  readonly eval: EvalConfig;
  readonly generation: GenerationConfig;
  /** Folder of the run (checkpoints, metrics, report). */
  readonly output_dir: string;
  readonly device: (typeof DEVICES)[number];
}

/** What a key holds, for validation and for coercing command-line strings. */
export type FieldKind =
  | { readonly type: 'string' }
  | { readonly type: 'path' }
  | { readonly type: 'number'; readonly min?: number; readonly exclusiveMin?: boolean }
  | { readonly type: 'int'; readonly min: number }
  | { readonly type: 'bool' }
  | { readonly type: 'enum'; readonly values: readonly string[] }
  /** An inline object or a path (the `peft` key). */
  | { readonly type: 'object-or-path' };

/** One key of the run config. */
export interface FieldSpec {
  readonly kind: FieldKind;
  /** May be null (and is null by default unless `default` says otherwise). */
  readonly nullable?: boolean;
  /** The default; absent means the key is required. */
  readonly default?: unknown;
  /** One line for `--help` and the docs. */
  readonly doc: string;
}

/** The run config's keys: sections of fields, or top-level fields. */
export type SchemaNode = FieldSpec | { readonly [key: string]: FieldSpec };

const num = (min?: number, exclusiveMin = false): FieldKind => ({
  type: 'number',
  min,
  exclusiveMin,
});
const int = (min: number): FieldKind => ({ type: 'int', min });
const path: FieldKind = { type: 'path' };
const bool: FieldKind = { type: 'bool' };
const oneOf = (...values: string[]): FieldKind => ({ type: 'enum', values });

/**
 * Every key of the run config with its kind, default and documentation. Sections are
 * nested objects (`train.learning_rate`); a key missing from here is an error.
 */
export const RUN_SCHEMA = {
  model: { kind: path, doc: 'checkpoint folder (config.json + weights)' },
  tokenizer: {
    kind: { type: 'string' },
    nullable: true,
    default: null,
    doc: 'tokenizer.json (or its folder), or "byte"; default <model>/tokenizer.json',
  },
  task: {
    name: { kind: oneOf(...TASK_NAMES), doc: `task: ${TASK_NAMES.join('|')}` },
    train: { kind: path, nullable: true, default: null, doc: 'train split: file or GLUE folder' },
    validation: {
      kind: path,
      nullable: true,
      default: null,
      doc: 'validation split: file or GLUE folder',
    },
    test: { kind: path, nullable: true, default: null, doc: 'test split: file or GLUE folder' },
    spider_db: {
      kind: path,
      nullable: true,
      default: null,
      doc: 'Spider database folder (spider only)',
    },
    spider_tables: {
      kind: path,
      nullable: true,
      default: null,
      doc: 'Spider tables.json (default: beside the split file)',
    },
    max_train_examples: {
      kind: int(1),
      nullable: true,
      default: null,
      doc: 'use the first N training examples',
    },
    max_eval_examples: {
      kind: int(1),
      nullable: true,
      default: null,
      doc: 'evaluate the first N examples',
    },
    max_length: {
      kind: int(2),
      nullable: true,
      default: null,
      doc: 'drop examples longer than N tokens (prefix + input + label)',
    },
  },
  peft: {
    kind: { type: 'object-or-path' },
    doc: 'inline PEFT config object, or a path to an adapter_config.json-style file',
  },
  train: {
    learning_rate: { kind: num(0, true), doc: 'peak learning rate' },
    batch_size: { kind: int(1), default: 4, doc: 'examples per step' },
    epochs: {
      kind: num(0, true),
      nullable: true,
      default: null,
      doc: 'epochs: steps = epochs * ceil(N / batch_size)',
    },
    max_steps: {
      kind: int(1),
      nullable: true,
      default: null,
      doc: 'total steps (overrides epochs)',
    },
    schedule: { kind: oneOf(...SCHEDULES), default: 'linear', doc: 'linear|constant|cosine' },
    warmup_steps: { kind: int(0), default: 0, doc: 'linear warmup steps' },
    weight_decay: { kind: num(0), default: 0, doc: 'AdamW decoupled weight decay' },
    adam_beta1: { kind: num(0), default: 0.9, doc: 'AdamW beta1' },
    adam_beta2: { kind: num(0), default: 0.999, doc: 'AdamW beta2' },
    adam_epsilon: { kind: num(0), default: 1e-8, doc: 'AdamW epsilon' },
    max_grad_norm: {
      kind: num(0),
      nullable: true,
      default: 1,
      doc: 'clip the global gradient norm (null or 0: off)',
    },
    seed: { kind: int(0), default: 42, doc: 'seed of data order and adapter initialisation' },
    drop_last: { kind: bool, default: true, doc: 'drop the last partial batch of an epoch' },
    log_every_steps: { kind: int(1), default: 10, doc: 'log every N steps' },
    save_total_limit: {
      kind: int(1),
      nullable: true,
      default: null,
      doc: 'keep the newest N checkpoints (null: all)',
    },
  },
  eval: {
    every_steps: {
      kind: int(1),
      nullable: true,
      default: null,
      doc: 'evaluate and save every N steps (default: once per epoch)',
    },
    split: { kind: oneOf('validation', 'test'), default: 'validation', doc: 'validation|test' },
    before_training: { kind: bool, default: true, doc: 'evaluate before the first step' },
    metric: {
      kind: { type: 'string' },
      nullable: true,
      default: null,
      doc: "metric that picks the best checkpoint (default: the task's first the run computes)",
    },
    batch_size: { kind: int(1), default: 1, doc: 'prompts per evaluation batch' },
  },
  generation: {
    num_beams: { kind: int(1), default: 5, doc: 'beams (1: greedy)' },
    max_new_tokens: { kind: int(1), default: 1024, doc: 'most new tokens' },
    min_new_tokens: { kind: int(0), default: 0, doc: 'fewest new tokens' },
    length_penalty: { kind: num(), default: 1, doc: 'beam length penalty exponent' },
    do_sample: { kind: bool, default: false, doc: 'sample instead of greedy/beam' },
    temperature: { kind: num(0, true), default: 1, doc: 'sampling temperature' },
    top_k: { kind: int(0), default: 0, doc: 'sample among the k most likely (0: all)' },
    top_p: { kind: num(0, true), default: 1, doc: 'nucleus sampling mass' },
  },
  output_dir: { kind: path, default: 'runs/run', doc: 'folder of the run' },
  device: { kind: oneOf(...DEVICES), default: 'auto', doc: 'auto|cpu|webgpu' },
} as const satisfies Readonly<Record<string, SchemaNode>>;

/** Whether a schema node is a field (rather than a section). */
export function isField(node: unknown): node is FieldSpec {
  return typeof node === 'object' && node !== null && 'kind' in node && 'doc' in node;
}

/** Every dotted key of the schema (`model`, `train.learning_rate`, ...) with its spec. */
export function schemaKeys(): [string, FieldSpec][] {
  const out: [string, FieldSpec][] = [];
  for (const [k, node] of Object.entries(RUN_SCHEMA)) {
    if (isField(node)) out.push([k, node]);
    else for (const [k2, f] of Object.entries(node)) out.push([`${k}.${k2}`, f as FieldSpec]);
  }
  return out;
}
