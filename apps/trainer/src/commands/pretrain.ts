/**
 * `statetune pretrain`: trains a small Mamba language model from scratch on plain text files
 * (full training with AdamW), holding out the end of every file for a validation loss, and
 * writes a Hugging Face style checkpoint folder plus a `pretrain.json` record of the run.
 */

import { copyFile, readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ByteTokenizer, SeededRandom, type TextTokenizer } from '@statetune/data';
import { loadTokenizer } from '@statetune/data/node';
import { MambaForCausalLM, mambaConfig } from '@statetune/mamba';
import { saveMamba } from '@statetune/mamba/node';
import { nearest } from '@statetune/peft';
import {
  AdamW,
  clipGradNorm,
  Generator,
  LrScheduler,
  noGrad,
  type Tensor,
  tensor,
  tidy,
} from '@statetune/tensor';
import type { CAC } from 'cac';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../config/errors.js';
import { formatDuration } from '../util/format.js';
import { writeTextAtomic } from '../util/fs.js';
import { scheduleFor } from '../util/schedule.js';

/** ` (did you mean "x"?)` when a candidate is close enough to be a typo. */
function suggest(key: string, candidates: readonly string[]): string {
  const near = nearest(key, candidates);
  return near ? ` (did you mean "${near}"?)` : '';
}

/** Learning-rate schedules `pretrain` offers (all with a linear warmup from 0). */
export type PretrainSchedule = 'cosine' | 'linear' | 'constant';

/** Every setting of a pretraining run. Paths are used as given (relative to the working folder). */
export interface PretrainOptions {
  /**
   * Text files, or folders whose `*.txt` files (sorted by name) are all used. A `.tsv` file
   * (GLUE format) contributes its first column only (the sentences, not the labels).
   */
  readonly data: readonly string[];
  /** Output folder: `config.json`, `model.safetensors`, `pretrain.json` (and `tokenizer.json`). */
  readonly out: string;
  /** `"byte"` (EOS 0, bytes 1..256) or the path of a `tokenizer.json` (or a folder holding one). */
  readonly tokenizer: string;
  /** Width of the residual stream. */
  readonly dModel: number;
  /** Number of Mamba blocks. */
  readonly nLayer: number;
  /** SSM state size per channel. */
  readonly dState: number;
  /** Width of the causal convolution. */
  readonly dConv: number;
  /** Inner width factor. */
  readonly expand: number;
  /** The embedding gets `ceil(vocab / m) * m` rows (8 keeps matrix shapes aligned). */
  readonly padVocabSizeMultiple: number;
  /** Tokens per training window. */
  readonly seqLen: number;
  /** Windows per optimizer step. */
  readonly batchSize: number;
  /** Optimizer steps. */
  readonly steps: number;
  /** Peak learning rate. */
  readonly learningRate: number;
  /** Shape of the learning rate after warmup. */
  readonly schedule: PretrainSchedule;
  /** Steps of linear warmup from 0. */
  readonly warmupSteps: number;
  /** Final learning rate of the cosine schedule as a fraction of the peak. */
  readonly minLrRatio: number;
  /** Decoupled weight decay, applied to matrices only (not to biases, norms, `A_log`, `D`). */
  readonly weightDecay: number;
  /** AdamW beta1. */
  readonly adamBeta1: number;
  /** AdamW beta2. */
  readonly adamBeta2: number;
  /** Global gradient-norm clip (0 disables clipping). */
  readonly maxGradNorm: number;
  /** Seed of the initialisation and of the window sampling. */
  readonly seed: number;
  /** Fraction of every file's tokens (its end) held out for the validation loss. */
  readonly valFraction: number;
  /** Validation (and checkpoint) every this many steps; 0 means only at the end. */
  readonly evalEvery: number;
  /** Windows of the validation loss (fixed, evenly spread over the held-out tokens). */
  readonly evalWindows: number;
  /** Progress line every this many steps. */
  readonly logEvery: number;
}

/** A loss measurement in {@link PretrainResult.losses}. */
export interface PretrainLossPoint {
  readonly step: number;
  /** Mean training loss over the steps since the previous point. */
  readonly trainLoss: number;
  /** Validation loss, at the steps where it was measured. */
  readonly valLoss?: number;
  /** Learning rate used by the last step. */
  readonly lr: number;
  /** Seconds since the start of training. */
  readonly elapsed: number;
}

/** What {@link pretrain} returns (also written, snake_cased, to `pretrain.json`). */
export interface PretrainResult {
  /** The trained model (on the current backend). */
  readonly model: MambaForCausalLM;
  /** Number of parameters. */
  readonly parameters: number;
  /** Tokens in the training stream (EOS after every file included). */
  readonly trainTokens: number;
  /** Tokens in the held-out validation stream. */
  readonly valTokens: number;
  /** Validation loss of the freshly initialised model (nats per token). */
  readonly initialValLoss: number;
  /** Validation loss of the trained model (nats per token). */
  readonly finalValLoss: number;
  /** Loss curve. */
  readonly losses: readonly PretrainLossPoint[];
  /** Wall time of the run in seconds. */
  readonly seconds: number;
}

/** Defaults of every option but `data` and `out`. */
export const PRETRAIN_DEFAULTS: Omit<PretrainOptions, 'data' | 'out'> = {
  tokenizer: 'byte',
  dModel: 128,
  nLayer: 4,
  dState: 16,
  dConv: 4,
  expand: 2,
  padVocabSizeMultiple: 8,
  seqLen: 256,
  batchSize: 16,
  steps: 1000,
  learningRate: 2e-3,
  schedule: 'cosine',
  warmupSteps: 50,
  minLrRatio: 0.1,
  weightDecay: 0.1,
  adamBeta1: 0.9,
  adamBeta2: 0.95,
  maxGradNorm: 1,
  seed: 0,
  valFraction: 0.05,
  evalEvery: 100,
  evalWindows: 32,
  logEvery: 10,
};

/** Config-file key (snake_case) of every option. */
const KEYS: Record<keyof PretrainOptions, string> = {
  data: 'data',
  out: 'out',
  tokenizer: 'tokenizer',
  dModel: 'd_model',
  nLayer: 'n_layer',
  dState: 'd_state',
  dConv: 'd_conv',
  expand: 'expand',
  padVocabSizeMultiple: 'pad_vocab_size_multiple',
  seqLen: 'seq_len',
  batchSize: 'batch_size',
  steps: 'steps',
  learningRate: 'learning_rate',
  schedule: 'schedule',
  warmupSteps: 'warmup_steps',
  minLrRatio: 'min_lr_ratio',
  weightDecay: 'weight_decay',
  adamBeta1: 'adam_beta1',
  adamBeta2: 'adam_beta2',
  maxGradNorm: 'max_grad_norm',
  seed: 'seed',
  valFraction: 'val_fraction',
  evalEvery: 'eval_every',
  evalWindows: 'eval_windows',
  logEvery: 'log_every',
};

const INTEGER_KEYS = new Set<keyof PretrainOptions>([
  'dModel',
  'nLayer',
  'dState',
  'dConv',
  'padVocabSizeMultiple',
  'seqLen',
  'batchSize',
  'steps',
  'warmupSteps',
  'seed',
  'evalEvery',
  'evalWindows',
  'logEvery',
]);
/** Integers that may be 0. */
const ZERO_OK = new Set<keyof PretrainOptions>(['warmupSteps', 'seed', 'evalEvery']);

/**
 * Thrown for a bad pretraining option, file or corpus; the message names the option and the
 * source. A {@link ConfigError}, so the CLI prints it as a usage error (status 2).
 */
export class PretrainError extends ConfigError {
  constructor(message: string) {
    super(message);
    this.name = 'PretrainError';
  }
}

/**
 * Validates raw option values (from a config file and/or flags) and fills in the defaults.
 * `raw` uses the camelCase names of {@link PretrainOptions}; `source` names where they came
 * from for error messages.
 */
export function resolvePretrainOptions(
  raw: Partial<Record<keyof PretrainOptions, unknown>>,
  source = 'pretrain options',
): PretrainOptions {
  const out: Record<string, unknown> = { ...PRETRAIN_DEFAULTS };
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    const key = k as keyof PretrainOptions;
    const name = KEYS[key] ?? k;
    if (!(key in KEYS)) {
      const known = Object.values(KEYS);
      throw new PretrainError(`${source}: unknown option "${k}"${suggest(k, known)}`);
    }
    if (key === 'data') {
      const list = Array.isArray(v) ? v : [v];
      if (list.length === 0 || !list.every((x) => typeof x === 'string' && x.length > 0)) {
        throw new PretrainError(`${source}: "${name}" must be a path or a list of paths`);
      }
      out.data = list.flatMap((x: string) => x.split(',')).filter((x) => x.length > 0);
    } else if (key === 'out' || key === 'tokenizer') {
      if (typeof v !== 'string' || v.length === 0) {
        throw new PretrainError(
          `${source}: "${name}" must be a non-empty string, got ${String(v)}`,
        );
      }
      out[key] = v;
    } else if (key === 'schedule') {
      if (v !== 'cosine' && v !== 'linear' && v !== 'constant') {
        throw new PretrainError(
          `${source}: "${name}" must be cosine, linear or constant, got ${String(v)}`,
        );
      }
      out[key] = v;
    } else {
      const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isFinite(n)) {
        throw new PretrainError(`${source}: "${name}" must be a number, got ${String(v)}`);
      }
      if (INTEGER_KEYS.has(key)) {
        if (!Number.isInteger(n) || n < 0 || (n === 0 && !ZERO_OK.has(key))) {
          throw new PretrainError(
            `${source}: "${name}" must be a ${ZERO_OK.has(key) ? 'non-negative' : 'positive'} integer, got ${String(v)}`,
          );
        }
      } else if (n < 0) {
        throw new PretrainError(`${source}: "${name}" must be >= 0, got ${String(v)}`);
      }
      out[key] = n;
    }
  }
  const o = out as unknown as PretrainOptions;
  if (o.data === undefined) {
    throw new PretrainError(`${source}: "data" is required (text files or folders of .txt files)`);
  }
  if (o.out === undefined)
    throw new PretrainError(`${source}: "out" (the model folder) is required`);
  if (!(o.learningRate > 0)) throw new PretrainError(`${source}: "learning_rate" must be > 0`);
  if (!(o.valFraction > 0 && o.valFraction < 0.5)) {
    throw new PretrainError(`${source}: "val_fraction" must be in (0, 0.5), got ${o.valFraction}`);
  }
  if (o.adamBeta1 >= 1 || o.adamBeta2 >= 1) {
    throw new PretrainError(`${source}: "adam_beta1" and "adam_beta2" must be < 1`);
  }
  if (o.minLrRatio > 1) throw new PretrainError(`${source}: "min_lr_ratio" must be <= 1`);
  if (o.warmupSteps >= o.steps) {
    throw new PretrainError(
      `${source}: "warmup_steps" (${o.warmupSteps}) must be smaller than "steps" (${o.steps})`,
    );
  }
  return o;
}

/**
 * Reads a pretraining config file (YAML or JSON, snake_case keys as in
 * `configs/pretrain-default.yaml`). Relative `data`, `out` and `tokenizer` paths resolve
 * against the file's folder.
 */
export async function readPretrainConfig(
  path: string,
): Promise<Partial<Record<keyof PretrainOptions, unknown>>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PretrainError(
      `cannot read the pretrain config ${path}: ${(err as Error).message} (expected a YAML file)`,
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new PretrainError(`${path}: not valid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new PretrainError(`${path}: expected a mapping of options at the top level`);
  }
  const byFileKey = new Map(Object.entries(KEYS).map(([camel, snake]) => [snake, camel]));
  const base = dirname(path);
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    const camel = byFileKey.get(k);
    if (camel === undefined) {
      throw new PretrainError(`${path}: unknown key "${k}"${suggest(k, [...byFileKey.keys()])}`);
    }
    if (camel === 'data' && v !== null) {
      const list = Array.isArray(v) ? v : [v];
      raw.data = list.map((p) => (typeof p === 'string' ? resolve(base, p) : p));
    } else if (
      (camel === 'out' || (camel === 'tokenizer' && v !== 'byte')) &&
      typeof v === 'string'
    ) {
      raw[camel] = resolve(base, v);
    } else {
      raw[camel] = v;
    }
  }
  return raw as Partial<Record<keyof PretrainOptions, unknown>>;
}

/** The text files named by `data`: files as given, folders expanded to their sorted `*.txt`. */
export async function listTextFiles(data: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const p of data) {
    let s: Awaited<ReturnType<typeof stat>>;
    try {
      s = await stat(p);
    } catch {
      throw new PretrainError(
        `pretrain data: ${p} does not exist (expected a text file or a folder)`,
      );
    }
    if (s.isDirectory()) {
      const names = (await readdir(p)).filter((n) => n.endsWith('.txt')).sort();
      if (names.length === 0)
        throw new PretrainError(`pretrain data: the folder ${p} has no .txt files`);
      files.push(...names.map((n) => join(p, n)));
    } else {
      files.push(p);
    }
  }
  return files;
}

async function makeTokenizer(spec: string): Promise<TextTokenizer> {
  if (spec === 'byte') return new ByteTokenizer();
  try {
    return await loadTokenizer(spec);
  } catch (err) {
    throw new PretrainError(
      `tokenizer: cannot load ${spec} (expected "byte" or a tokenizer.json): ${(err as Error).message}`,
    );
  }
}

/**
 * The training text of a file. A `.tsv` file (GLUE format, header line first) contributes
 * only its first column, one row per line: the sentences, never the labels.
 */
function textOf(path: string, content: string): string {
  if (!path.endsWith('.tsv')) return content;
  return content
    .split('\n')
    .slice(1)
    .map((line) => line.split('\t')[0].trim())
    .filter((line) => line.length > 0)
    .join('\n');
}

interface Streams {
  readonly train: Int32Array;
  readonly val: Int32Array;
  readonly files: { path: string; bytes: number; tokens: number }[];
}

/** Tokenizes every file, ends each with EOS and splits off its last `valFraction` as validation. */
async function buildStreams(
  files: readonly string[],
  tokenizer: TextTokenizer,
  valFraction: number,
): Promise<Streams> {
  const train: number[][] = [];
  const val: number[][] = [];
  const info: Streams['files'] = [];
  for (const f of files) {
    const text = textOf(f, await readFile(f, 'utf8'));
    const ids = tokenizer.encode(text);
    ids.push(tokenizer.eosTokenId);
    const cut = Math.floor(ids.length * (1 - valFraction));
    train.push(ids.slice(0, cut));
    val.push(ids.slice(cut));
    info.push({ path: f, bytes: Buffer.byteLength(text), tokens: ids.length });
  }
  const flat = (parts: number[][]) => {
    const out = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };
  return { train: flat(train), val: flat(val), files: info };
}

function windowsTensor(stream: Int32Array, starts: readonly number[], seqLen: number): Tensor {
  const buf = new Int32Array(starts.length * seqLen);
  starts.forEach((s, i) => {
    buf.set(stream.subarray(s, s + seqLen), i * seqLen);
  });
  return tensor(buf, { shape: [starts.length, seqLen] });
}

/** Mean loss over fixed windows spread evenly over the validation stream. */
function validationLoss(model: MambaForCausalLM, val: Int32Array, o: PretrainOptions): number {
  const span = val.length - o.seqLen;
  if (span < 0) return Number.NaN;
  const n = Math.min(o.evalWindows, span + 1);
  const starts = Array.from({ length: n }, (_, i) =>
    n === 1 ? 0 : Math.floor((i * span) / (n - 1)),
  );
  let total = 0;
  model.eval();
  for (let i = 0; i < n; i += o.batchSize) {
    const chunk = starts.slice(i, i + o.batchSize);
    const loss = noGrad(() =>
      tidy(() => {
        const ids = windowsTensor(val, chunk, o.seqLen);
        return model.forward({ inputIds: ids, labels: ids }).loss!.item();
      }),
    );
    total += loss * chunk.length;
  }
  model.train();
  return total / n;
}

/** Extra inputs of {@link pretrain} that are not hyperparameters. */
export interface PretrainRunOptions {
  /** Where progress lines go (default `console.log`). */
  readonly log?: (line: string) => void;
  /** The command line to record in `pretrain.json` (how to remake the model). */
  readonly command?: string;
}

/**
 * Trains a Mamba language model from scratch on text files and saves it to `options.out`.
 *
 * Random contiguous windows of `seqLen` tokens are drawn (seeded) from the training part of
 * every file; the last `valFraction` of each file is held out for a validation loss measured
 * before training, every `evalEvery` steps and at the end. The whole run is deterministic
 * for a seed on a given backend. Writes `config.json` and `model.safetensors` (via
 * `saveMamba`, also at every validation), `tokenizer.json` when a tokenizer file was used,
 * and `pretrain.json` (command, options, data, losses, timings).
 *
 * @example
 * ```ts
 * await pretrain(resolvePretrainOptions({ data: ['corpus/'], out: 'models/tiny', steps: 200 }));
 * ```
 */
export async function pretrain(
  options: PretrainOptions,
  run: PretrainRunOptions = {},
): Promise<PretrainResult> {
  const o = options;
  const log = run.log ?? ((line: string) => console.log(line));
  const started = new Date();
  const t0 = performance.now();
  const tokenizer = await makeTokenizer(o.tokenizer);
  const files = await listTextFiles(o.data);
  const streams = await buildStreams(files, tokenizer, o.valFraction);
  if (streams.train.length < o.seqLen + 1) {
    throw new PretrainError(
      `pretrain data: ${streams.train.length} training tokens is less than one window (seq_len ${o.seqLen})`,
    );
  }
  if (streams.val.length < o.seqLen) {
    throw new PretrainError(
      `pretrain data: the held-out part has ${streams.val.length} tokens, less than one window (seq_len ${o.seqLen}); raise val_fraction or add text`,
    );
  }
  const config = mambaConfig({
    dModel: o.dModel,
    nLayer: o.nLayer,
    dState: o.dState,
    dConv: o.dConv,
    expand: o.expand,
    vocabSize: tokenizer.vocabSize,
    padVocabSizeMultiple: o.padVocabSizeMultiple,
    eosTokenId: tokenizer.eosTokenId,
    padTokenId: tokenizer.padTokenId,
    bosTokenId: tokenizer.eosTokenId,
  });
  const model = new MambaForCausalLM(config, { generator: new Generator(o.seed) });
  model.train();
  const parameters = model.numParameters();
  log(
    `pretrain: ${parameters.toLocaleString('en-US')} parameters (d_model ${o.dModel}, ${o.nLayer} layers, d_state ${o.dState}, vocab ${config.vocabSize}); ` +
      `${streams.train.length.toLocaleString('en-US')} training and ${streams.val.length.toLocaleString('en-US')} validation tokens from ${files.length} file(s)`,
  );

  const decay: Tensor[] = [];
  const noDecay: Tensor[] = [];
  for (const [name, p] of model.namedParameters()) {
    if (!p.requiresGrad) continue;
    const matrix = p.shape.length >= 2 && !name.endsWith('A_log');
    (matrix ? decay : noDecay).push(p);
  }
  const optimizer = new AdamW(
    [
      { params: decay, options: { weightDecay: o.weightDecay } },
      { params: noDecay, options: { weightDecay: 0 } },
    ].filter((g) => g.params.length > 0),
    { lr: o.learningRate, beta1: o.adamBeta1, beta2: o.adamBeta2, eps: 1e-8 },
  );
  const scheduler = new LrScheduler(
    optimizer,
    scheduleFor(o.schedule, o.warmupSteps, o.steps, o.minLrRatio),
  );
  const rng = new SeededRandom(o.seed);
  const span = streams.train.length - o.seqLen;
  const params = model.trainableParameters();

  const initialValLoss = validationLoss(model, streams.val, o);
  log(`step 0/${o.steps}  val_loss ${initialValLoss.toFixed(4)}`);
  const losses: PretrainLossPoint[] = [];
  const trainStart = performance.now();
  let sum = 0;
  let count = 0;
  let finalValLoss = initialValLoss;
  for (let step = 1; step <= o.steps; step++) {
    const starts = Array.from({ length: o.batchSize }, () => rng.int(span + 1));
    const lr = scheduler.lastLr[0];
    const loss = tidy(() => {
      const ids = windowsTensor(streams.train, starts, o.seqLen);
      const out = model.forward({ inputIds: ids, labels: ids });
      out.loss!.backward();
      return out.loss!.item();
    });
    if (!Number.isFinite(loss)) {
      throw new Error(
        `pretrain: the loss became ${loss} at step ${step}; lower learning_rate (now ${o.learningRate})`,
      );
    }
    if (o.maxGradNorm > 0) tidy(() => void clipGradNorm(params, o.maxGradNorm));
    optimizer.step();
    optimizer.zeroGrad();
    scheduler.step();
    sum += loss;
    count++;
    const elapsed = (performance.now() - trainStart) / 1000;
    const last = step === o.steps;
    const evalNow = last || (o.evalEvery > 0 && step % o.evalEvery === 0);
    if (step % o.logEvery === 0 || evalNow) {
      const tokS = (step * o.batchSize * o.seqLen) / elapsed;
      const eta = (elapsed / step) * (o.steps - step);
      let valLoss: number | undefined;
      if (evalNow) {
        valLoss = validationLoss(model, streams.val, o);
        finalValLoss = valLoss;
        await saveMamba(model, o.out);
      }
      const trainLoss = sum / count;
      losses.push({ step, trainLoss, ...(valLoss === undefined ? {} : { valLoss }), lr, elapsed });
      log(
        `step ${step}/${o.steps}  loss ${trainLoss.toFixed(4)}${valLoss === undefined ? '' : `  val_loss ${valLoss.toFixed(4)}`}  lr ${lr.toExponential(2)}  ${tokS.toFixed(0)} tok/s  elapsed ${formatDuration(elapsed)}  eta ${formatDuration(eta)}`,
      );
      sum = 0;
      count = 0;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  if (o.tokenizer !== 'byte') {
    const src = (await stat(o.tokenizer)).isDirectory()
      ? join(o.tokenizer, 'tokenizer.json')
      : o.tokenizer;
    await copyFile(src, join(o.out, 'tokenizer.json'));
  }
  const record = {
    command: run.command ?? null,
    created: started.toISOString(),
    seconds: Math.round(seconds * 10) / 10,
    tokenizer: o.tokenizer === 'byte' ? 'byte' : 'tokenizer.json',
    parameters,
    options: Object.fromEntries(
      (Object.keys(KEYS) as (keyof PretrainOptions)[]).map((k) => [KEYS[k], o[k]]),
    ),
    data: streams.files.map((f) => ({ path: f.path, bytes: f.bytes, tokens: f.tokens })),
    train_tokens: streams.train.length,
    val_tokens: streams.val.length,
    tokens_seen: o.steps * o.batchSize * o.seqLen,
    initial_val_loss: initialValLoss,
    final_val_loss: finalValLoss,
    losses: losses.map((p) => ({
      step: p.step,
      train_loss: Number(p.trainLoss.toFixed(5)),
      ...(p.valLoss === undefined ? {} : { val_loss: Number(p.valLoss.toFixed(5)) }),
      lr: p.lr,
      elapsed: Number(p.elapsed.toFixed(1)),
    })),
  };
  await writeTextAtomic(join(o.out, 'pretrain.json'), `${JSON.stringify(record, null, 2)}\n`);
  log(
    `pretrain: done in ${formatDuration(seconds)}; val_loss ${initialValLoss.toFixed(4)} -> ${finalValLoss.toFixed(4)}; saved ${o.out}`,
  );
  return {
    model,
    parameters,
    trainTokens: streams.train.length,
    valTokens: streams.val.length,
    initialValLoss,
    finalValLoss,
    losses,
    seconds,
  };
}

/** camelCase option names cac gives for the flags of `statetune pretrain`. */
const FLAG_KEYS = Object.keys(KEYS) as (keyof PretrainOptions)[];

/**
 * Adds `statetune pretrain` to a cac CLI: options from `--config file.yaml` and/or flags
 * (`--d-model 128 --steps 400 ...`; flags override the file).
 */
export function registerPretrainCommand(cli: CAC): void {
  const cmd = cli
    .command('pretrain', 'Train a small Mamba language model from scratch on text files')
    .option('--config <file>', 'YAML file of options (snake_case keys; flags override it)')
    .option('--data <path>', 'Text file or folder of .txt files (repeat or comma-separate)')
    .option('--out <dir>', 'Output model folder')
    .option('--tokenizer <spec>', '"byte" or a tokenizer.json (default: byte)');
  const described: Partial<Record<keyof PretrainOptions, string>> = {
    dModel: 'Width of the residual stream',
    nLayer: 'Number of Mamba blocks',
    dState: 'SSM state size',
    dConv: 'Convolution width',
    expand: 'Inner width factor',
    padVocabSizeMultiple: 'Pad the vocabulary to a multiple of this',
    seqLen: 'Tokens per training window',
    batchSize: 'Windows per step',
    steps: 'Optimizer steps',
    learningRate: 'Peak learning rate',
    schedule: 'cosine | linear | constant (after warmup)',
    warmupSteps: 'Linear warmup steps',
    minLrRatio: 'Final lr of the cosine as a fraction of the peak',
    weightDecay: 'AdamW weight decay (matrices only)',
    adamBeta1: 'AdamW beta1',
    adamBeta2: 'AdamW beta2',
    maxGradNorm: 'Gradient clipping norm (0: off)',
    seed: 'Seed of initialisation and sampling',
    valFraction: 'Held-out fraction at the end of every file',
    evalEvery: 'Validate and save every N steps',
    evalWindows: 'Validation windows',
    logEvery: 'Progress line every N steps',
  };
  for (const key of FLAG_KEYS) {
    const text = described[key];
    if (text === undefined) continue;
    const flag = KEYS[key].replaceAll('_', '-');
    cmd.option(
      `--${flag} <value>`,
      `${text} (default ${String(PRETRAIN_DEFAULTS[key as keyof typeof PRETRAIN_DEFAULTS])})`,
    );
  }
  cmd
    .example(
      'statetune pretrain --data corpus/ --out models/tiny --d-model 128 --n-layer 4 --steps 400',
    )
    .action(async (flags: Record<string, unknown>) => {
      const fromFile =
        typeof flags.config === 'string' ? await readPretrainConfig(flags.config) : {};
      const fromFlags: Partial<Record<keyof PretrainOptions, unknown>> = {};
      for (const key of FLAG_KEYS) {
        const v = flags[key];
        if (v !== undefined) fromFlags[key] = v;
      }
      const options = resolvePretrainOptions(
        { ...fromFile, ...fromFlags },
        typeof flags.config === 'string' ? `${flags.config} + flags` : 'flags',
      );
      const args = process.argv.slice(2).map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a}'`));
      await pretrain(options, { command: `statetune ${args.join(' ')}` });
    });
}
