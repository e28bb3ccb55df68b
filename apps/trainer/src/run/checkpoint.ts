import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BatcherState } from '@statetune/data';
import type { PeftModel } from '@statetune/peft';
import { saveAdapter } from '@statetune/peft/node';
import {
  type GeneratorState,
  noGrad,
  type Optimizer,
  optimizerStateFromTensors,
  optimizerStateToTensors,
  type Tensor,
} from '@statetune/tensor';
import { loadSafetensors, saveSafetensors } from '@statetune/tensor/node';
import { ConfigError } from '../config/errors.js';
import { exists, replaceDir, writeTextAtomic } from '../util/fs.js';

/** The training state file of a checkpoint folder. */
export const TRAINER_STATE_NAME = 'trainer_state.json';
/** The adapter weights file (saveAdapter's). */
const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
/** The optimizer state file of a checkpoint folder. */
export const OPTIMIZER_NAME = 'optimizer.safetensors';

/** One evaluation, as kept in the history. */
export interface EvalRecord {
  readonly step: number;
  readonly epoch: number;
  readonly split: string;
  readonly metrics: Record<string, number>;
  readonly seconds: number;
}

/** One logged training step. */
export interface LossRecord {
  readonly step: number;
  readonly loss: number;
  readonly lr: number;
}

/** The best evaluation so far by the selection metric. */
export interface BestRecord {
  readonly step: number;
  readonly metric: string;
  readonly value: number;
  /** `eval_loss` of that evaluation, which breaks ties of the metric (lower wins). */
  readonly loss?: number | null;
}

/**
 * Everything besides the weights and the optimizer needed to continue a run exactly where it
 * stopped: plain JSON.
 */
export interface TrainerState {
  readonly version: 1;
  /** Optimizer steps completed. */
  readonly step: number;
  readonly maxSteps: number;
  /** The learning-rate scheduler's step count. */
  readonly schedulerStep: number;
  /** Where the data order stands. */
  readonly batcher: BatcherState;
  /** Every random stream of the run, by role. */
  readonly generators: Readonly<Record<string, GeneratorState>>;
  readonly best: BestRecord | null;
  readonly history: readonly EvalRecord[];
  readonly losses: readonly LossRecord[];
  /** Training tokens seen (inputs without padding). */
  readonly tokens: number;
  /** Seconds spent training (not evaluating), summed over sessions. */
  readonly trainSeconds: number;
  /** Seconds spent evaluating, summed over sessions. */
  readonly evalSeconds: number;
  /** Settings that must match on resume (batch size, seed, ...). */
  readonly fingerprint: Readonly<Record<string, unknown>>;
}

/** The folder name of the checkpoint after `step` steps. */
export function checkpointName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

/**
 * Writes a checkpoint atomically: adapter files, optimizer state and trainer state go into a
 * temporary folder, which is renamed to `checkpoints/step-NNNNNN` only when complete. With
 * `keep`, older step folders beyond the newest `keep` are removed afterwards.
 */
export async function saveCheckpoint(
  outputDir: string,
  peft: PeftModel,
  optimizer: Optimizer<{ lr: number }>,
  state: TrainerState,
  options: { baseModel: string; keep: number | null },
): Promise<string> {
  const root = join(outputDir, 'checkpoints');
  await mkdir(root, { recursive: true });
  const dir = join(root, checkpointName(state.step));
  const tmp = join(root, `.tmp-${checkpointName(state.step)}-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  try {
    await saveAdapter(peft, tmp, { baseModelNameOrPath: options.baseModel });
    const { tensors, metadata } = optimizerStateToTensors(optimizer.stateDict());
    await saveSafetensors(join(tmp, OPTIMIZER_NAME), tensors, { metadata });
    for (const t of tensors.values()) t.dispose();
    await writeTextAtomic(join(tmp, TRAINER_STATE_NAME), `${JSON.stringify(state, null, 1)}\n`);
    await replaceDir(tmp, dir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  if (options.keep !== null) {
    const steps = await listCheckpoints(outputDir);
    for (const old of steps.slice(0, Math.max(0, steps.length - options.keep))) {
      await rm(old.dir, { recursive: true, force: true });
    }
  }
  return dir;
}

/** Writes the adapter alone to `dir` atomically (a temporary folder, then a rename). */
export async function saveAdapterDir(
  peft: PeftModel,
  dir: string,
  baseModel: string,
): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  try {
    await saveAdapter(peft, tmp, { baseModelNameOrPath: baseModel });
    await replaceDir(tmp, dir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The complete checkpoints of a run, oldest first. */
export async function listCheckpoints(outputDir: string): Promise<{ step: number; dir: string }[]> {
  const root = join(outputDir, 'checkpoints');
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  const out: { step: number; dir: string }[] = [];
  for (const e of entries) {
    const m = /^step-(\d+)$/.exec(e.name);
    if (!e.isDirectory() || !m) continue;
    const dir = join(root, e.name);
    if (await exists(join(dir, TRAINER_STATE_NAME))) out.push({ step: Number(m[1]), dir });
  }
  return out.sort((a, b) => a.step - b.step);
}

/** Reads a checkpoint's trainer state and optimizer state file contents. */
export async function readCheckpoint(dir: string): Promise<{
  state: TrainerState;
  loadOptimizer: (optimizer: Optimizer<{ lr: number }>) => Promise<void>;
}> {
  const path = join(dir, TRAINER_STATE_NAME);
  let state: TrainerState;
  try {
    state = JSON.parse(await readFile(path, 'utf8')) as TrainerState;
  } catch (e) {
    throw new ConfigError(`${path} is not a readable trainer state: ${(e as Error).message}`);
  }
  if (state?.version !== 1 || !Number.isInteger(state.step)) {
    throw new ConfigError(`${path} is not a trainer state of this version (expected version 1)`);
  }
  return {
    state,
    loadOptimizer: async (optimizer) => {
      const file = join(dir, OPTIMIZER_NAME);
      const { tensors, metadata } = await loadSafetensors(file);
      optimizer.loadStateDict(optimizerStateFromTensors(tensors, metadata, file));
      for (const t of tensors.values()) t.dispose();
    },
  };
}

/**
 * Loads a checkpoint's adapter weights into the active adapter of `peft` (created with the
 * same config), keeping the adapter object, so the random streams it holds (LoRA dropout)
 * stay the run's own.
 */
export async function loadCheckpointWeights(peft: PeftModel, dir: string): Promise<void> {
  const file = join(dir, ADAPTER_WEIGHTS);
  const adapter = peft.adapter();
  const { tensors } = await loadSafetensors(file);
  const own = new Map<string, Tensor>();
  for (const [k, t] of tensors) {
    if (!k.startsWith(adapter.keyPrefix)) {
      throw new ConfigError(`${file}: tensor "${k}" is not a ${adapter.config.peft_type} key`);
    }
    own.set(k.slice(adapter.keyPrefix.length), t);
  }
  noGrad(() => adapter.loadAdapterStateDict(own, file));
  for (const t of tensors.values()) t.dispose();
}
