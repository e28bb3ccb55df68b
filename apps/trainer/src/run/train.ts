import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Batcher } from '@statetune/data';
import {
  countBaseParameters,
  getPeftModel,
  type PeftConfig,
  PeftError,
  type PeftModel,
  parsePeftConfig,
} from '@statetune/peft';
import {
  AdamW,
  clipGradNorm,
  crossEntropy,
  Generator,
  LrScheduler,
  noGrad,
  stack,
  type Tensor,
  tensor,
  tidy,
} from '@statetune/tensor';
import { stringify } from 'yaml';
import { ConfigError } from '../config/errors.js';
import type { RunConfig } from '../config/schema.js';
import { formatMetrics } from '../util/format.js';
import { writeTextAtomic } from '../util/fs.js';
import { scheduleFor } from '../util/schedule.js';
import {
  type BestRecord,
  type EvalRecord,
  type LossRecord,
  listCheckpoints,
  loadCheckpointWeights,
  readCheckpoint,
  saveAdapterDir,
  saveCheckpoint,
  type TrainerState,
} from './checkpoint.js';
import { type EvalOutcome, evaluateSplit, lowerIsBetter, selectionMetric } from './evaluate.js';
import { MetricsLog } from './metrics-log.js';
import { createProgress } from './progress.js';
import { comparisonLines, type ReportData, writeReport } from './report.js';
import {
  checkModelDir,
  checkVocabulary,
  type LoadedTask,
  loadModel,
  loadRunTokenizer,
  loadTask,
  readPeftConfigFile,
  selectDevice,
} from './setup.js';

/** Options of {@link runTraining} besides the run config. */
export interface TrainRunOptions {
  /** Continue from the newest checkpoint in `output_dir/checkpoints`. */
  readonly resume?: boolean;
  /**
   * Start over in an `output_dir` that already holds a run (its checkpoints, adapters, metrics
   * and report are removed first). Without it such a folder is an error, so two runs never mix.
   */
  readonly overwrite?: boolean;
  /**
   * Stop after this many completed steps as an interruption would (save a checkpoint, exit
   * status 130), to test or schedule resumption.
   */
  readonly stopAfterSteps?: number | null;
  /** When it is aborted (Ctrl-C), the run saves a checkpoint after the current step and stops. */
  readonly signal?: AbortSignal;
  /** Messages (default: stderr). */
  readonly log?: (line: string) => void;
  /** The final before/after comparison and where the results are (default: `log`). */
  readonly print?: (line: string) => void;
  /** The progress display (default: stderr; a bar on a TTY, plain lines otherwise). */
  readonly progress?: 'auto' | 'tty' | 'plain' | 'none';
  /** Where the progress display writes (default process.stderr). */
  readonly progressStream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Called after each step's loss is known (before the update), for tests and tools. */
  readonly onStep?: (info: { step: number; loss: number; peft: PeftModel }) => void;
}

/** How a training run ended. */
export interface TrainResult {
  readonly status: 'completed' | 'interrupted' | 'diverged';
  /** The process exit status this ending calls for: 0, 130 (interrupted) or 1 (diverged). */
  readonly exitCode: 0 | 1 | 130;
  /** Steps completed. */
  readonly step: number;
  readonly maxSteps: number;
  readonly outputDir: string;
  readonly history: readonly EvalRecord[];
  readonly best: BestRecord | null;
  /** The last checkpoint written (the last good one after a divergence). */
  readonly lastCheckpoint: string | null;
  /** The message that explains an interrupted or diverged ending. */
  readonly message: string | null;
}

/** Resolves the run's PEFT config (inline or from a file), with the file named in errors. */
export async function resolvePeftConfig(config: RunConfig): Promise<PeftConfig> {
  const source = typeof config.peft === 'string' ? config.peft : 'peft (run config)';
  const raw = typeof config.peft === 'string' ? await readPeftConfigFile(config.peft) : config.peft;
  if (raw === null || raw === undefined) {
    throw new ConfigError('"peft" is required: an inline PEFT config or a path to one');
  }
  try {
    return parsePeftConfig(raw as Record<string, unknown>, source);
  } catch (e) {
    if (e instanceof PeftError) throw new ConfigError(e.message);
    throw e;
  }
}

/** Settings a resumed run must share with the one it continues. */
function fingerprint(config: RunConfig, peft: PeftConfig, trainExamples: number) {
  const t = config.train;
  return {
    task: config.task.name,
    train_examples: trainExamples,
    batch_size: t.batch_size,
    seed: t.seed,
    drop_last: t.drop_last,
    learning_rate: t.learning_rate,
    schedule: t.schedule,
    warmup_steps: t.warmup_steps,
    peft_type: peft.peft_type,
  };
}

/** The global L2 norm of the parameters' gradients (as clipGradNorm measures it), unchanged. */
function gradNorm(params: readonly Tensor[]): Tensor {
  const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
  return noGrad(() =>
    tidy(() =>
      stack(grads.map((g) => g.square().sum().cast('float32')))
        .sum()
        .sqrt(),
    ),
  );
}

/** What a run writes into its output_dir (removed by `--overwrite`). */
const RUN_OUTPUTS = [
  'checkpoints',
  'best',
  'adapter',
  'metrics.jsonl',
  'report.md',
  'report.html',
  'run_config.yaml',
];

/**
 * A fresh run may not write into the folder of another: its checkpoints would mix with the
 * new ones and a later `--resume` would continue the wrong run.
 */
async function claimOutputDir(out: string, overwrite: boolean): Promise<void> {
  const previous = await listCheckpoints(out);
  if (previous.length === 0) return;
  if (!overwrite) {
    const last = previous[previous.length - 1].step;
    throw new ConfigError(
      `output_dir ${out} already holds a run (checkpoints up to step ${last}); pass --resume to continue it, --overwrite to start over, or choose another output_dir`,
    );
  }
  for (const name of RUN_OUTPUTS) await rm(join(out, name), { recursive: true, force: true });
}

/** Batch loss: mean cross-entropy over the label tokens (labels are already aligned to positions). */
function batchLoss(peft: PeftModel, inputIds: Tensor, labels: Tensor): Tensor {
  const { logits } = peft.forward({ inputIds });
  const [b, l, v] = logits.shape;
  return crossEntropy(logits.reshape(b * l, v), labels.reshape(b * l));
}

/**
 * Runs `statetune train`: loads the model, tokenizer and task, attaches the PEFT method,
 * trains with AdamW, the schedule and gradient clipping, evaluates before training and every
 * `eval.every_steps`, writes checkpoints (atomically), `best/`, `metrics.jsonl`, the final
 * adapter (`adapter/`) and the report. A resumed run continues bit for bit where the
 * checkpoint stopped. Problems with inputs are {@link ConfigError}s; a NaN or infinite loss
 * ends the run with status `diverged`, keeping the last good checkpoint.
 */
export async function runTraining(
  config: RunConfig,
  options: TrainRunOptions = {},
): Promise<TrainResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const out = config.output_dir;
  if (!options.resume) await claimOutputDir(out, options.overwrite === true);
  await mkdir(out, { recursive: true });
  const configYaml = stringify(config);
  await writeTextAtomic(join(out, 'run_config.yaml'), configYaml);

  // Input problems are reported before a GPU device is started.
  await checkModelDir(config.model);
  const device = await selectDevice(config.device, log);
  const peftConfig = await resolvePeftConfig(config);
  const model = await loadModel(config.model);
  const tokenizer = await loadRunTokenizer(config.tokenizer, config.model);
  checkVocabulary(model, tokenizer);
  const loaded: LoadedTask = await loadTask(config, tokenizer, {
    needTrain: true,
    evalSplit: config.eval.split,
  });
  const train = loaded.train as NonNullable<LoadedTask['train']>;
  const evalData = loaded.eval as NonNullable<LoadedTask['eval']>;
  const n = train.lm.length;
  const bs = config.train.batch_size;
  // The paper's max_steps = epochs * ceil(N / bs); with drop_last an epoch has floor(N / bs)
  // batches and the data order wraps around into the next epoch.
  const perEpoch = Math.ceil(n / bs);
  const maxSteps =
    config.train.max_steps ?? Math.max(1, Math.ceil((config.train.epochs ?? 1) * perEpoch));
  const everySteps = config.eval.every_steps ?? perEpoch;
  const metricName = selectionMetric(config.eval.metric, loaded);

  if (config.train.drop_last && n < bs) {
    throw new ConfigError(
      `${n} training examples make no full batch of train.batch_size ${bs} with train.drop_last; lower train.batch_size, give more examples (task.train, task.max_train_examples) or set train.drop_last to false`,
    );
  }
  const batcher = new Batcher(train.lm, {
    batchSize: bs,
    seed: config.train.seed,
    dropLast: config.train.drop_last,
    padId: tokenizer.padTokenId,
  });
  const generators = {
    init: new Generator(config.train.seed),
    sampling: new Generator(config.train.seed + 1),
  };
  const fp = fingerprint(config, peftConfig, n);

  // The adapter is created the same way for a fresh and a resumed run, so the random streams
  // it holds (LoRA dropout) are the run's generators; a resume then loads the checkpoint.
  const peft: PeftModel = getPeftModel(model, peftConfig, {
    generator: generators.init,
    encode: (text) => tokenizer.encode(text),
  });
  let resumed: Awaited<ReturnType<typeof readCheckpoint>> | null = null;
  let resumedDir: string | null = null;
  if (options.resume) {
    const all = await listCheckpoints(out);
    if (all.length === 0) {
      throw new ConfigError(
        `--resume: no checkpoint in ${join(out, 'checkpoints')} (expected step-NNNNNN folders written by an earlier run with this output_dir)`,
      );
    }
    resumedDir = all[all.length - 1].dir;
    resumed = await readCheckpoint(resumedDir);
    for (const [k, v] of Object.entries(fp)) {
      const saved = resumed.state.fingerprint[k];
      if (saved !== v) {
        throw new ConfigError(
          `--resume: ${resumedDir} was trained with ${k} = ${JSON.stringify(saved)}, this config has ${JSON.stringify(v)}; resume with the same settings`,
        );
      }
    }
    await loadCheckpointWeights(peft, resumedDir);
    for (const [k, g] of Object.entries(generators)) {
      const s = resumed.state.generators[k];
      if (s) g.setState(s);
    }
    batcher.setState(resumed.state.batcher);
  }
  const params = peft.trainableParameters();
  if (params.length === 0) throw new ConfigError(`${peftConfig.peft_type}: nothing to train`);
  const optimizer = new AdamW(params, {
    lr: config.train.learning_rate,
    beta1: config.train.adam_beta1,
    beta2: config.train.adam_beta2,
    eps: config.train.adam_epsilon,
    weightDecay: config.train.weight_decay,
  });
  const scheduler = new LrScheduler(
    optimizer,
    scheduleFor(config.train.schedule, config.train.warmup_steps, maxSteps),
  );
  let step = 0;
  let tokens = 0;
  let trainSeconds = 0;
  let evalSeconds = 0;
  let best: BestRecord | null = null;
  const history: EvalRecord[] = [];
  const losses: LossRecord[] = [];
  if (resumed) {
    await resumed.loadOptimizer(optimizer);
    scheduler.loadStateDict({ step: resumed.state.schedulerStep });
    step = resumed.state.step;
    tokens = resumed.state.tokens;
    trainSeconds = resumed.state.trainSeconds;
    evalSeconds = resumed.state.evalSeconds;
    best = resumed.state.best;
    history.push(...resumed.state.history);
    losses.push(...resumed.state.losses);
  }
  const counts = peft.getNbTrainableParameters();
  const baseParams = countBaseParameters(model.config);
  const metrics = await MetricsLog.open(join(out, 'metrics.jsonl'), resumed ? step : null);
  const progress = createProgress(
    options.progressStream ?? process.stderr,
    config.train.log_every_steps,
    options.progress ?? 'auto',
  );
  const say = (line: string) => {
    progress.line(line);
    if (options.progress === 'none') log(line);
  };
  const epochOf = (s: number) => s / batcher.batchesPerEpoch;

  say(
    resumed
      ? `resuming from ${resumedDir} at step ${step} of ${maxSteps}`
      : `training ${peftConfig.peft_type} on ${loaded.task.name}: ${n} examples, ${maxSteps} steps (${perEpoch} per epoch), batch ${bs}, device ${device}`,
  );
  peft.printTrainableParameters(say);
  await metrics.write({
    type: 'event',
    step,
    event: resumed ? 'resume' : 'start',
    detail: resumed ? (resumedDir ?? '') : `${maxSteps} steps`,
  });

  let lastSamples: EvalOutcome['samples'];
  let lastCheckpoint: string | null = resumedDir;
  const state = (): TrainerState => ({
    version: 1,
    step,
    maxSteps,
    schedulerStep: scheduler.stateDict().step,
    batcher: batcher.state,
    generators: Object.fromEntries(Object.entries(generators).map(([k, g]) => [k, g.getState()])),
    best,
    history,
    losses,
    tokens,
    trainSeconds,
    evalSeconds,
    fingerprint: fp,
  });
  const checkpoint = async () => {
    lastCheckpoint = await saveCheckpoint(out, peft, optimizer, state(), {
      baseModel: config.model,
      keep: config.train.save_total_limit,
    });
    await metrics.write({ type: 'event', step, event: 'checkpoint', detail: lastCheckpoint });
  };
  const evaluate = async () => {
    peft.eval();
    const r = await evaluateSplit(peft, loaded, evalData, {
      tokenizer,
      generation: config.generation,
      batchSize: config.eval.batch_size,
      generator: generators.sampling,
      warn: say,
    });
    peft.train();
    evalSeconds += r.seconds;
    lastSamples = r.samples;
    const rec: EvalRecord = {
      step,
      epoch: epochOf(step),
      split: config.eval.split,
      metrics: r.metrics,
      seconds: r.seconds,
    };
    history.push(rec);
    await metrics.write({ type: 'eval', ...rec });
    say(`eval step ${step}: ${formatMetrics(r.metrics)}`);
    const value = r.metrics[metricName];
    if (value === undefined) {
      throw new ConfigError(
        `eval.metric "${metricName}" is not computed for ${loaded.task.name} (metrics: ${Object.keys(r.metrics).join(', ')})`,
      );
    }
    const lower = lowerIsBetter(metricName);
    const loss = r.metrics.eval_loss ?? null;
    // Equal scores (common on small evaluation sets) go to the lower evaluation loss.
    const tieBroken =
      best !== null &&
      value === best.value &&
      loss !== null &&
      best.loss != null &&
      loss < best.loss;
    if (best === null || (lower ? value < best.value : value > best.value) || tieBroken) {
      best = { step, metric: metricName, value, loss };
      await saveAdapterDir(peft, join(out, 'best'), config.model);
      await writeTextAtomic(
        join(out, 'best', 'best.json'),
        `${JSON.stringify({ ...best, metrics: r.metrics }, null, 2)}\n`,
      );
      await metrics.write({ type: 'event', step, event: 'best', detail: `${metricName} ${value}` });
    }
  };

  const report = async (status: TrainResult['status'], detail?: string) => {
    const data: ReportData = {
      status,
      ...(detail ? { statusDetail: detail } : {}),
      task: loaded.task.name,
      evalSplit: config.eval.split,
      trainExamples: n,
      evalExamples: evalData.lm.length,
      peftType: peftConfig.peft_type,
      device,
      parameters: { trainable: counts.trainable, all: counts.all, base: baseParams },
      step,
      maxSteps,
      tokens,
      trainSeconds,
      evalSeconds,
      losses,
      history,
      best,
      metric: metricName,
      configYaml,
      ...(lastSamples ? { samples: lastSamples } : {}),
    };
    await writeReport(out, data);
  };
  const finish = async (
    status: TrainResult['status'],
    message: string | null,
  ): Promise<TrainResult> => {
    progress.done();
    await metrics.write({
      type: 'event',
      step,
      event: status === 'completed' ? 'end' : status,
      ...(message ? { detail: message } : {}),
    });
    await report(status, message ?? undefined);
    return {
      status,
      exitCode: status === 'completed' ? 0 : status === 'interrupted' ? 130 : 1,
      step,
      maxSteps,
      outputDir: out,
      history,
      best,
      lastCheckpoint,
      message,
    };
  };

  if (!resumed) {
    if (config.eval.before_training) await evaluate();
    // Step 0 is a checkpoint too: a run that diverges at once still has a good one.
    await checkpoint();
  }

  peft.train();
  // The losses since the last metrics line; a resumed run takes them from the checkpoint, so
  // the next line averages the same steps as an uninterrupted run's.
  const logEvery = config.train.log_every_steps;
  let sinceLog: number[] = losses
    .filter((r) => r.step > step - (step % logEvery))
    .map((r) => r.loss);
  let lastNorm: number | null = null;
  let sessionTokens = 0;
  let sessionSteps = 0;
  let sessionStart = performance.now();
  while (step < maxSteps) {
    if (options.signal?.aborted) {
      await checkpoint();
      return finish('interrupted', `interrupted at step ${step}; continue with --resume`);
    }
    const t0 = performance.now();
    const batch = batcher.next();
    const lr = scheduler.lastLr[0];
    const lossT = tidy(() => {
      const ids = tensor(batch.inputIds, { shape: [...batch.shape] });
      const labels = tensor(batch.labels, { shape: [...batch.shape] });
      const l = batchLoss(peft, ids, labels);
      l.backward();
      return l;
    });
    const loss = (await lossT.data())[0];
    lossT.dispose();
    options.onStep?.({ step: step + 1, loss, peft });
    if (!Number.isFinite(loss)) {
      peft.zeroGrad();
      const msg = `the loss became ${loss} at step ${step + 1} (epoch ${epochOf(step + 1).toFixed(2)}, learning rate ${lr.toExponential(2)}); the run stopped without applying that step. The last good checkpoint is ${lastCheckpoint}; lower train.learning_rate or set train.max_grad_norm`;
      return finish('diverged', msg);
    }
    {
      // The norm is measured without clipping too: a finite loss can still have a non-finite
      // gradient, and applying it would put NaN weights into the next checkpoint.
      const clip = config.train.max_grad_norm;
      const norm = clip !== null && clip > 0 ? clipGradNorm(params, clip) : gradNorm(params);
      lastNorm = (await norm.data())[0];
      norm.dispose();
      if (!Number.isFinite(lastNorm)) {
        peft.zeroGrad();
        const msg = `the gradient norm became ${lastNorm} at step ${step + 1}; the run stopped without applying that step. The last good checkpoint is ${lastCheckpoint}; lower train.learning_rate`;
        return finish('diverged', msg);
      }
    }
    optimizer.step();
    optimizer.zeroGrad();
    scheduler.step();
    step++;
    let batchTokens = 0;
    for (const len of batch.lengths) batchTokens += len;
    tokens += batchTokens;
    sessionTokens += batchTokens;
    trainSeconds += (performance.now() - t0) / 1000;
    sinceLog.push(loss);
    losses.push({ step, loss, lr });
    const sessionSeconds = (performance.now() - sessionStart) / 1000;
    const tps = sessionTokens / Math.max(sessionSeconds, 1e-9);
    sessionSteps++;
    const secondsPerStep = sessionSeconds / sessionSteps;
    progress.tick({
      step,
      maxSteps,
      epoch: epochOf(step),
      loss,
      lr,
      tokensPerSecond: tps,
      etaSeconds: secondsPerStep * (maxSteps - step),
    });
    if (step % logEvery === 0 || step === maxSteps) {
      const mean = sinceLog.reduce((a, b) => a + b, 0) / sinceLog.length;
      await metrics.write({
        type: 'train',
        step,
        epoch: epochOf(step),
        loss: mean,
        lr,
        grad_norm: lastNorm,
        tokens_per_second: tps,
        elapsed_seconds: trainSeconds,
      });
      sinceLog = [];
    }
    if (step % everySteps === 0 || step === maxSteps) {
      const e0 = performance.now();
      await evaluate();
      await checkpoint();
      // Evaluation time does not count towards the training speed.
      sessionStart += performance.now() - e0;
    }
    if (options.stopAfterSteps != null && step === options.stopAfterSteps && step < maxSteps) {
      if (step % everySteps !== 0) await checkpoint();
      return finish(
        'interrupted',
        `stopped after step ${step} (--stop-after-steps); continue with --resume`,
      );
    }
  }

  await saveAdapterDir(peft, join(out, 'adapter'), config.model);
  const result = await finish('completed', null);
  const print = options.print ?? log;
  for (const line of comparisonLines(history)) print(line);
  print(
    `adapter: ${join(out, 'adapter')}  best: ${join(out, 'best')}  report: ${join(out, 'report.html')}`,
  );
  return result;
}
