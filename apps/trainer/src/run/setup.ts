import { readFile } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import {
  ByteTokenizer,
  COLA_TSV_COLUMNS,
  dartTask,
  type GlueExample,
  type GlueTaskName,
  glueExampleFromTsv,
  glueTask,
  labelTokenIds,
  type PreparedSplit,
  prepareSplit,
  type SpiderTables,
  samsumTask,
  spiderTask,
  type TaskDefinition,
  type TextTokenizer,
} from '@statetune/data';
import {
  loadDart,
  loadGlueRecords,
  loadGlueSplit,
  loadSamsum,
  loadSpider,
  loadTokenizer,
  readTsvFile,
} from '@statetune/data/node';
import type { MambaForCausalLM } from '@statetune/mamba';
import { loadMamba } from '@statetune/mamba/node';
import { setBackend } from '@statetune/tensor';
import { ConfigError } from '../config/errors.js';
import type { RunConfig, TaskConfig } from '../config/schema.js';
import { exists, requirePath } from '../util/fs.js';

/**
 * Chooses the compute backend: `cpu`, `webgpu` (an error when no adapter starts) or `auto`
 * (WebGPU when it starts, else the CPU with a notice). Returns the backend's name.
 */
export async function selectDevice(
  device: 'auto' | 'cpu' | 'webgpu',
  log: (line: string) => void = console.error,
): Promise<string> {
  if (device !== 'cpu') {
    // Loaded only when asked for: the WebGPU runtime is not needed for CPU runs.
    const { registerWebGpu } = await import('@statetune/webgpu');
    registerWebGpu();
  }
  const backend = await setBackend(device, { onNotice: log });
  return backend.name;
}

const CHECKPOINT_WHAT =
  'a Mamba checkpoint folder holding config.json and model.safetensors (or pytorch_model.bin)';

/**
 * Checks that a checkpoint folder and its config.json exist, naming the path and what belongs
 * there; cheap, so commands call it before starting a device.
 */
export async function checkModelDir(dir: string): Promise<void> {
  const fix = 'set "model" (or --model) to one';
  await requirePath(dir, 'dir', `${CHECKPOINT_WHAT}; ${fix}`);
  await requirePath(
    join(dir, 'config.json'),
    'file',
    `the config.json of ${CHECKPOINT_WHAT}; ${fix}`,
  );
}

/** Loads the model of a checkpoint folder, with errors that name the path and what belongs there. */
export async function loadModel(dir: string): Promise<MambaForCausalLM> {
  await checkModelDir(dir);
  return loadMamba(dir);
}

/**
 * The tokenizer of a run: `byte` (the byte-level tokenizer), a `tokenizer.json` or its folder,
 * or by default `<model>/tokenizer.json` (or, for a model made by `statetune pretrain` with the
 * byte-level tokenizer, the one its `pretrain.json` names).
 */
export async function loadRunTokenizer(
  spec: string | null,
  modelDir: string,
): Promise<TextTokenizer> {
  if (spec === 'byte') return new ByteTokenizer();
  if (spec === null && !(await exists(join(modelDir, 'tokenizer.json')))) {
    // A model made by `statetune pretrain` records its tokenizer in pretrain.json.
    const record = await readFile(join(modelDir, 'pretrain.json'), 'utf8').catch(() => null);
    let tokenizer: unknown = null;
    try {
      tokenizer =
        record === null ? null : (JSON.parse(record) as { tokenizer?: unknown }).tokenizer;
    } catch {
      // An unreadable record says nothing about the tokenizer.
    }
    if (tokenizer === 'byte') return new ByteTokenizer();
  }
  const path = spec ?? join(modelDir, 'tokenizer.json');
  const what =
    spec === null
      ? `the model's tokenizer.json (or set "tokenizer" to a tokenizer.json, or "byte")`
      : 'a tokenizer.json or a folder holding one';
  await requirePath(path, 'any', what);
  return loadTokenizer(path);
}

/** Checks that the model's vocabulary covers the tokenizer's ids. */
export function checkVocabulary(model: MambaForCausalLM, tokenizer: TextTokenizer): void {
  if (tokenizer.vocabSize > model.config.vocabSize) {
    throw new ConfigError(
      `the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary has ${model.config.vocabSize} rows; use the tokenizer the model was trained with`,
    );
  }
}

/** A task with its prepared splits. */
export interface LoadedTask {
  readonly task: TaskDefinition<unknown>;
  /** Training split (role `train`), when asked for. */
  readonly train: PreparedSplit<unknown> | null;
  /** The evaluation split (role `eval`), when asked for. */
  readonly eval: PreparedSplit<unknown> | null;
  /** Which split `eval` is. */
  readonly evalSplit: 'validation' | 'test' | null;
  /** Token id of each class (classification tasks). */
  readonly classTokenIds: number[] | null;
  /** Spider: `tables.json` and the database folder. */
  readonly spider: { readonly tables: string; readonly databaseDir: string | null } | null;
}

const GLUE: readonly string[] = ['sst2', 'cola', 'mrpc', 'rte', 'qnli', 'qqp', 'mnli'];

async function readGlue(
  name: GlueTaskName,
  path: string,
  split: 'train' | 'validation' | 'test',
): Promise<GlueExample[]> {
  const kind = await requirePath(
    path,
    'any',
    `the ${split} split of ${name}: a GLUE task folder (train.tsv, dev.tsv), a .tsv file or a Hugging Face export`,
  );
  if (kind === 'dir') {
    const file = split === 'train' ? 'train.tsv' : 'dev.tsv';
    if (split !== 'train' && name === 'mnli') {
      await requirePath(join(path, 'dev_matched.tsv'), 'file', 'MNLI dev_matched.tsv');
    } else {
      await requirePath(join(path, file), 'file', `the ${split} split of ${name} (${file})`);
    }
    return loadGlueSplit(path, name, split === 'train' ? 'train' : 'validation');
  }
  if (extname(path) === '.tsv') {
    const out: GlueExample[] = [];
    let n = 0;
    const rows = readTsvFile(path, { header: name === 'cola' ? COLA_TSV_COLUMNS : true });
    for await (const row of rows) {
      out.push(glueExampleFromTsv(name, row.fields, String(n++), path, row.line));
    }
    return out;
  }
  return loadGlueRecords(path, name);
}

async function readSplit(
  cfg: TaskConfig,
  path: string,
  split: 'train' | 'validation' | 'test',
): Promise<{ raw: unknown[]; tables?: Map<string, SpiderTables>; tablesPath?: string }> {
  if (GLUE.includes(cfg.name))
    return { raw: await readGlue(cfg.name as GlueTaskName, path, split) };
  const what = `the ${split} split of ${cfg.name}`;
  if (cfg.name === 'dart') {
    await requirePath(path, 'file', `${what} (dart-v1.1.1-full-*.json, JSONL or parquet)`);
    return { raw: await loadDart(path) };
  }
  if (cfg.name === 'samsum') {
    await requirePath(path, 'file', `${what} (JSON, JSONL or parquet with dialogue and summary)`);
    return { raw: await loadSamsum(path) };
  }
  await requirePath(path, 'file', `${what} (Spider's dev.json or train_spider.json)`);
  const tablesPath = cfg.spider_tables ?? join(dirname(path), 'tables.json');
  await requirePath(tablesPath, 'file', "Spider's tables.json (set task.spider_tables)");
  if (cfg.spider_db !== null) await requirePath(cfg.spider_db, 'dir', "Spider's database folder");
  const data = await loadSpider({
    examples: path,
    tables: tablesPath,
    ...(cfg.spider_db !== null ? { databaseDir: cfg.spider_db } : {}),
  });
  return { raw: data.examples, tables: data.tables, tablesPath };
}

function limitLength(
  split: PreparedSplit<unknown>,
  maxLength: number | null,
): PreparedSplit<unknown> {
  if (maxLength === null) return split;
  const keep = split.lm.map((ex) => ex.inputIds.length + 1 <= maxLength);
  const pick = <T>(xs: readonly T[]) => xs.filter((_, i) => keep[i]);
  return {
    ...split,
    formatted: pick(split.formatted),
    lm: pick(split.lm),
    gen: split.gen.length > 0 ? pick(split.gen) : split.gen,
    dropped: [...split.dropped, ...split.lm.filter((_, i) => !keep[i]).map((e) => e.id)],
  };
}

/**
 * Reads and prepares a run's task: the training split (when `needTrain`) and the evaluation
 * split (`evalSplit`, or none), with the caps of the config applied (first N examples,
 * maximum length) and, for classification, the class token ids.
 */
export async function loadTask(
  config: RunConfig,
  tokenizer: TextTokenizer,
  options: { needTrain: boolean; evalSplit: 'validation' | 'test' | null },
): Promise<LoadedTask> {
  const cfg = config.task;
  let spider: LoadedTask['spider'] = null;
  let task: TaskDefinition<unknown> | null = GLUE.includes(cfg.name)
    ? (glueTask(cfg.name as GlueTaskName) as TaskDefinition<unknown>)
    : cfg.name === 'dart'
      ? (dartTask() as TaskDefinition<unknown>)
      : cfg.name === 'samsum'
        ? (samsumTask() as TaskDefinition<unknown>)
        : null;
  const read = async (split: 'train' | 'validation' | 'test', max: number | null) => {
    const path = cfg[split];
    if (path === null) {
      throw new ConfigError(
        `"task.${split}" is not set: it names the ${split} split of ${cfg.name} (a file${GLUE.includes(cfg.name) ? ' or the GLUE task folder' : ''})`,
      );
    }
    const got = await readSplit(cfg, path, split);
    if (got.tables && got.tablesPath) {
      task ??= spiderTask(got.tables) as TaskDefinition<unknown>;
      spider = { tables: got.tablesPath, databaseDir: cfg.spider_db };
    }
    const raw = max === null ? got.raw : got.raw.slice(0, max);
    if (raw.length === 0) throw new ConfigError(`${path}: the ${split} split has no examples`);
    return raw;
  };
  const trainRaw = options.needTrain ? await read('train', cfg.max_train_examples) : null;
  const evalRaw = options.evalSplit ? await read(options.evalSplit, cfg.max_eval_examples) : null;
  if (task === null) throw new ConfigError(`task ${cfg.name}: no split was read`);
  const t = task as TaskDefinition<unknown>;
  const train = trainRaw
    ? limitLength(prepareSplit(t, trainRaw, tokenizer, { role: 'train' }), cfg.max_length)
    : null;
  const evalSplit = evalRaw
    ? limitLength(prepareSplit(t, evalRaw, tokenizer, { role: 'eval' }), cfg.max_length)
    : null;
  if (train && train.lm.length === 0) {
    throw new ConfigError(`task.train: every example was dropped by the length filter`);
  }
  if (evalSplit && evalSplit.lm.length === 0) {
    throw new ConfigError(
      `task.${options.evalSplit}: every example was dropped by the length filter`,
    );
  }
  return {
    task: t,
    train,
    eval: evalSplit,
    evalSplit: options.evalSplit,
    classTokenIds: t.kind === 'classification' ? labelTokenIds(t, tokenizer) : null,
    spider,
  };
}

/** Reads a PEFT config given as a path: an adapter_config.json-style file or a folder holding one. */
export async function readPeftConfigFile(path: string): Promise<Record<string, unknown>> {
  const kind = await requirePath(
    path,
    'any',
    'a PEFT config: an adapter_config.json-style JSON file, or an adapter folder holding one',
  );
  const file = kind === 'dir' ? join(path, 'adapter_config.json') : path;
  if (kind === 'dir')
    await requirePath(file, 'file', 'the adapter_config.json of an adapter folder');
  const text = await readFile(file, 'utf8');
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error('not a JSON object');
    }
    return value as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(`${file} is not a JSON object: ${(e as Error).message}`);
  }
}
