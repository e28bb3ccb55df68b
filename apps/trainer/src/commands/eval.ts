import { writeJsonAtomic } from '@statetune/eval/node';
import { loadRunConfig } from '../config/load.js';
import { adapterList, adapterRunner, loadAdapters } from '../run/adapters.js';
import { baseRunner, type EvalOutcome, evaluateSplit } from '../run/evaluate.js';
import {
  checkModelDir,
  checkVocabulary,
  loadModel,
  loadRunTokenizer,
  loadTask,
  selectDevice,
} from '../run/setup.js';
import { formatMetrics } from '../util/format.js';
import { type CommandIo, processIo } from '../util/io.js';
import { configOverrides } from './train.js';

/** Options of `statetune eval`. */
export interface EvalCommandOptions {
  /** The YAML run config (model, tokenizer, task, eval and generation keys). */
  readonly config?: string;
  /** Adapter folder(s) to evaluate; none evaluates the base model. */
  readonly adapter?: string | string[];
  /** Also evaluate the base model beside the adapters. */
  readonly base?: boolean;
  /** Write the results as JSON to this file. */
  readonly output?: string;
  /** Run-config keys given as flags. */
  readonly [key: string]: unknown;
}

const OWN = new Set(['config', 'adapter', 'base', 'output', '--', 'h', 'help']);

/** One evaluated model. */
export interface EvalCommandResult {
  readonly model: string;
  readonly split: string;
  readonly outcome: EvalOutcome;
}

/**
 * `statetune eval`: evaluates the base model and/or adapters on the config's evaluation split
 * (`eval.split`, `task.max_eval_examples`), prints one line of metrics per model and
 * returns the results (also written to `--output` as JSON).
 */
export async function evalCommand(
  options: EvalCommandOptions,
  io: CommandIo = processIo,
): Promise<EvalCommandResult[]> {
  const config = await loadRunConfig(options.config ?? null, configOverrides(options, OWN), 'eval');
  // Input problems are reported before a GPU device is started.
  await checkModelDir(config.model);
  await selectDevice(config.device, io.err);
  const model = await loadModel(config.model);
  const tokenizer = await loadRunTokenizer(config.tokenizer, config.model);
  checkVocabulary(model, tokenizer);
  const loaded = await loadTask(config, tokenizer, {
    needTrain: false,
    evalSplit: config.eval.split,
  });
  const split = loaded.eval as NonNullable<typeof loaded.eval>;
  const { peft, names } = await loadAdapters(model, adapterList(options.adapter));
  const targets: (string | null)[] = [...(peft === null || options.base ? [null] : []), ...names];
  const results: EvalCommandResult[] = [];
  for (const name of targets) {
    const runner = peft === null ? baseRunner(model) : adapterRunner(peft, name);
    const outcome = await evaluateSplit(runner, loaded, split, {
      tokenizer,
      generation: config.generation,
      batchSize: config.eval.batch_size,
      warn: io.err,
    });
    const label = name ?? 'base model';
    results.push({ model: label, split: config.eval.split, outcome });
    io.out(
      `${label} on ${loaded.task.name} ${config.eval.split} (${outcome.examples} examples): ${formatMetrics(outcome.metrics)}`,
    );
  }
  if (options.output) await writeJsonAtomic(options.output, results);
  return results;
}
