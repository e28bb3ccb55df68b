import { flattenOptions, loadRunConfig } from '../config/load.js';
import { runTraining, type TrainResult } from '../run/train.js';
import { type CommandIo, processIo } from '../util/io.js';

/** Options of `statetune train` as the CLI parses them. */
export interface TrainCommandOptions {
  /** The YAML run config. */
  readonly config?: string;
  /** Continue from the newest checkpoint of `output_dir`. */
  readonly resume?: boolean;
  /** Start over in an output_dir that already holds a run. */
  readonly overwrite?: boolean;
  /** Stop after N steps as an interruption would (checkpoint, status 130). */
  readonly stopAfterSteps?: number;
  /** Progress display: `auto` (a bar on a terminal), `plain` or `none`. */
  readonly progress?: 'auto' | 'tty' | 'plain' | 'none';
  /** Run-config keys given as flags (`train.learning_rate`, `output_dir`, ...). */
  readonly [key: string]: unknown;
}

/** Options the command consumes itself; every other flag is a run-config key. */
export const TRAIN_OWN_OPTIONS = new Set([
  'config',
  'resume',
  'overwrite',
  'stopAfterSteps',
  'progress',
  '--',
  'h',
  'help',
]);

/** The friendly flag names and the run-config keys they stand for. */
export const FLAG_ALIASES: Readonly<Record<string, string>> = {
  outputDir: 'output_dir',
  lr: 'train.learning_rate',
  learningRate: 'train.learning_rate',
  batchSize: 'train.batch_size',
  epochs: 'train.epochs',
  maxSteps: 'train.max_steps',
  seed: 'train.seed',
};

/** Turns parsed flags into run-config overrides by dotted key. */
export function configOverrides(
  options: Readonly<Record<string, unknown>>,
  own: ReadonlySet<string>,
): Record<string, unknown> {
  const flat = flattenOptions(
    Object.fromEntries(Object.entries(options).filter(([k]) => !own.has(k))),
  );
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(flat)) out[FLAG_ALIASES[k] ?? k] = v;
  return out;
}

/**
 * `statetune train`: loads the config (flags override its keys), trains, and returns the exit
 * status: 0 when done, 130 when interrupted (Ctrl-C or `--stop-after-steps`), 1 when the loss
 * diverged. The first Ctrl-C saves a checkpoint after the current step; a second one exits at
 * once.
 */
export async function trainCommand(
  options: TrainCommandOptions,
  io: CommandIo = processIo,
): Promise<TrainResult> {
  const overrides = configOverrides(options, TRAIN_OWN_OPTIONS);
  const config = await loadRunConfig(options.config ?? null, overrides, 'train');
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) {
      io.err('second Ctrl-C: exiting without a checkpoint');
      process.exit(130);
    }
    io.err('Ctrl-C: saving a checkpoint after this step (press again to exit at once)');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const result = await runTraining(config, {
      resume: options.resume === true,
      overwrite: options.overwrite === true,
      stopAfterSteps: options.stopAfterSteps ?? null,
      signal: controller.signal,
      log: io.err,
      print: io.out,
      progress: options.progress ?? 'auto',
    });
    if (result.message) io.err(result.message);
    return result;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
