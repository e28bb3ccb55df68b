import { IGNORE_INDEX, type PreparedSplit, type TextTokenizer } from '@statetune/data';
import {
  type EvaluateGenerationOptions,
  evaluateClassification,
  evaluateGeneration,
  type GlueTask,
} from '@statetune/eval';
import {
  type CausalLMInput,
  type CausalLMOutput,
  type GenerateOptions,
  type GenerateOutput,
  generate,
  type MambaForCausalLM,
} from '@statetune/mamba';
import { nearest } from '@statetune/peft';
import { type Generator, noGrad, type Tensor, tensor, tidy } from '@statetune/tensor';
import { ConfigError } from '../config/errors.js';
import type { GenerationConfig } from '../config/schema.js';
import type { LoadedTask } from './setup.js';

/** What evaluation needs of a model: a forward pass and generation (a PeftModel, or a plain model via {@link baseRunner}). */
export interface LmRunner {
  forward(input: CausalLMInput): CausalLMOutput;
  generate(
    prompts: readonly (readonly number[])[],
    options: GenerateOptions,
  ): Promise<GenerateOutput>;
}

/** A plain model seen as an {@link LmRunner}. */
export function baseRunner(model: MambaForCausalLM): LmRunner {
  return {
    forward: (input) => model.forward(input),
    generate: (prompts, options) => generate(model, prompts, options),
  };
}

/**
 * The metrics an evaluation of this run computes: the task's (Spider's execution accuracy
 * only with a database folder), and for classification also `eval_loss` and `out_of_class`.
 */
export function computedMetrics(loaded: LoadedTask): string[] {
  const { task } = loaded;
  const names = task.metrics.filter(
    (m) => !(task.name === 'spider' && m === 'execution_accuracy' && !loaded.spider?.databaseDir),
  );
  return task.kind === 'classification' ? [...names, 'eval_loss', 'out_of_class'] : names;
}

/**
 * The metric that picks the best checkpoint: `eval.metric`, or the first metric this run
 * computes. Checked before training, so a typo does not surface after the first evaluation.
 *
 * @throws {@link ConfigError} naming the metrics there are, and the nearest one.
 */
export function selectionMetric(metric: string | null, loaded: LoadedTask): string {
  const names = computedMetrics(loaded);
  if (metric === null) return names[0];
  if (!names.includes(metric)) {
    const near = nearest(metric, names);
    throw new ConfigError(
      `"eval.metric" is "${metric}", which ${loaded.task.name} does not compute here${near ? ` (did you mean "${near}"?)` : ''}; its metrics: ${names.join(', ')}`,
    );
  }
  return metric;
}

/** Whether a smaller value of the metric is better (losses and the out-of-class rate). */
export function lowerIsBetter(metric: string): boolean {
  return metric.endsWith('loss') || metric === 'out_of_class';
}

/** One evaluation's numbers. */
export interface EvalOutcome {
  /** The task's metrics (and `eval_loss` for classification), by name. */
  readonly metrics: Record<string, number>;
  /** Examples evaluated. */
  readonly examples: number;
  /** Classification: predictions that were not a class token (dropped, as the paper does). */
  readonly outOfClass?: number;
  /** Generation: decoded predictions (first few kept for the report). */
  readonly samples?: readonly { prompt: string; prediction: string; reference: string }[];
  readonly seconds: number;
}

/** Decoding settings of the run config as `generate` options. */
export function generateOptions(
  g: GenerationConfig,
  eosTokenId: number,
  generator?: Generator,
): GenerateOptions {
  return {
    maxNewTokens: g.max_new_tokens,
    minNewTokens: g.min_new_tokens,
    numBeams: g.num_beams,
    lengthPenalty: g.length_penalty,
    doSample: g.do_sample,
    temperature: g.temperature,
    topK: g.top_k,
    topP: g.top_p,
    eosTokenId,
    ...(generator ? { generator } : {}),
  };
}

function firstLabel(labels: Int32Array): number {
  const j = labels.findIndex((l) => l !== IGNORE_INDEX);
  return j < 0 ? labels.length - 1 : j;
}

/** Logits at the last position of each prompt (rows of length vocab), batched with right padding. */
async function lastLogits(
  runner: LmRunner,
  prompts: readonly (readonly number[])[],
): Promise<Float32Array[]> {
  const max = Math.max(...prompts.map((p) => p.length));
  const same = prompts.every((p) => p.length === max);
  const ids = new Int32Array(prompts.length * max);
  prompts.forEach((p, i) => {
    ids.set(p, i * max);
  });
  const logits: Tensor = tidy(() =>
    noGrad(() => {
      const input = tensor(ids, { shape: [prompts.length, max] });
      // Right padding is harmless: the model is causal, so a row's own last position never
      // sees the padding after it.
      return runner.forward({ inputIds: input, lastLogitsOnly: same }).logits;
    }),
  );
  const data = (await logits.data()) as Float32Array;
  logits.dispose();
  const [, l, v] = logits.shape;
  return prompts.map((p, i) => {
    const pos = same ? l - 1 : p.length - 1;
    return Float32Array.from(data.subarray((i * l + pos) * v, (i * l + pos + 1) * v));
  });
}

function logSoftmaxAt(row: Float32Array, index: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const x of row) if (x > max) max = x;
  let sum = 0;
  for (const x of row) sum += Math.exp(x - max);
  return row[index] - max - Math.log(sum);
}

/** Options of {@link evaluateSplit}. */
export interface EvaluateSplitOptions {
  readonly tokenizer: TextTokenizer;
  readonly generation: GenerationConfig;
  readonly batchSize: number;
  /** Random stream of sampling (when generation samples). */
  readonly generator?: Generator;
  /** Called with (done, total) as batches finish. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Warnings (a metric that cannot be computed here). */
  readonly warn?: (line: string) => void;
}

/**
 * Evaluates a model on a prepared split as the paper does: teacher-forced classification
 * (argmax over the vocabulary at the label position, out-of-class predictions dropped) with
 * the task's GLUE metrics plus the label's cross-entropy `eval_loss`; or generation from the
 * prompt with the task's metrics (Spider: exact-set match, and execution accuracy when the
 * database folder is given).
 */
export async function evaluateSplit(
  runner: LmRunner,
  loaded: LoadedTask,
  split: PreparedSplit<unknown>,
  options: EvaluateSplitOptions,
): Promise<EvalOutcome> {
  const started = performance.now();
  const { task } = loaded;
  const seconds = () => (performance.now() - started) / 1000;
  if (task.kind === 'classification') {
    const classTokenIds = loaded.classTokenIds as number[];
    const examples = split.lm.map((ex, i) => {
      const j = firstLabel(ex.labels);
      return {
        promptIds: Array.from(ex.inputIds.subarray(0, j + 1)),
        label: split.formatted[i].classLabel ?? 0,
        target: ex.labels[j],
      };
    });
    let seen = 0;
    let lossSum = 0;
    const result = await evaluateClassification(
      {
        logits: async (prompts) => {
          const rows = await lastLogits(runner, prompts);
          for (const row of rows) lossSum -= logSoftmaxAt(row, examples[seen++].target);
          return rows;
        },
      },
      examples,
      {
        classTokenIds,
        task: task.name as GlueTask,
        batchSize: options.batchSize,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      },
    );
    const metrics: Record<string, number> = {};
    for (const [k, v] of Object.entries(result.metrics ?? {})) {
      if (typeof v === 'number') metrics[k] = v;
    }
    // With every prediction out of class there is no score; 0 keeps "best" comparisons simple.
    for (const m of task.metrics) metrics[m] ??= 0;
    metrics.eval_loss = lossSum / examples.length;
    metrics.out_of_class = result.outOfClass / result.total;
    return { metrics, examples: result.total, outOfClass: result.outOfClass, seconds: seconds() };
  }

  const eos = options.tokenizer.eosTokenId;
  const genOptions = generateOptions(options.generation, eos, options.generator);
  const decode = (ids: readonly number[]) => options.tokenizer.decode(ids);
  const examples = split.gen.map((g) => ({
    promptIds: Array.from(g.promptIds),
    references: [...g.references],
  }));
  const model = {
    generate: async (prompts: readonly (readonly number[])[]) =>
      (await runner.generate(prompts, genOptions)).sequences,
  };
  const sample = (predictions: readonly string[]) =>
    predictions.slice(0, 5).map((prediction, i) => ({
      prompt: decode(examples[i].promptIds),
      prediction,
      reference: examples[i].references[0] ?? '',
    }));

  if (task.name === 'spider') {
    const predictions: string[] = [];
    for (let i = 0; i < examples.length; i += options.batchSize) {
      const batch = examples.slice(i, i + options.batchSize);
      const seqs = await model.generate(batch.map((e) => e.promptIds));
      for (const s of seqs) {
        predictions.push(decode(s.length > 0 && s[s.length - 1] === eos ? s.slice(0, -1) : s));
      }
      options.onProgress?.(Math.min(i + batch.length, examples.length), examples.length);
    }
    const { evaluateSpider, loadSpiderTables } = await import('@statetune/eval/node');
    const spider = loaded.spider as NonNullable<LoadedTask['spider']>;
    const result = await evaluateSpider({
      gold: split.formatted.map((f) => ({ sql: f.references[0], dbId: f.meta?.db_id ?? '' })),
      predicted: predictions,
      tables: loadSpiderTables(spider.tables),
      etype: spider.databaseDir === null ? 'match' : 'all',
      ...(spider.databaseDir === null ? {} : { databaseDir: spider.databaseDir }),
    });
    const metrics: Record<string, number> = {};
    for (const [k, v] of Object.entries(result.metrics)) if (typeof v === 'number') metrics[k] = v;
    return { metrics, examples: examples.length, samples: sample(predictions), seconds: seconds() };
  }

  let metricNames = [...task.metrics];
  let wordnet: EvaluateGenerationOptions['wordnet'];
  if (metricNames.includes('meteor')) {
    try {
      const { loadWordNet } = await import('@statetune/eval/node');
      wordnet = loadWordNet();
    } catch (e) {
      options.warn?.(`meteor skipped: WordNet could not be loaded (${(e as Error).message})`);
      metricNames = metricNames.filter((m) => m !== 'meteor');
    }
  }
  const opts: EvaluateGenerationOptions = {
    decode,
    generation: { eosTokenId: eos },
    metrics: metricNames,
    stripEosTokenId: eos,
    batchSize: options.batchSize,
    ...(wordnet ? { wordnet } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  };
  const result = await evaluateGeneration(model, examples, opts);
  return {
    metrics: { ...result.metrics },
    examples: result.total,
    samples: sample(result.predictions),
    seconds: seconds(),
  };
}
