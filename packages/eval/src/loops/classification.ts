import { describe, MetricError } from '../errors.js';
import { type GlueScores, type GlueTask, glueMetric } from '../metrics/glue.js';
import { type BatchOptions, forEachBatch } from './batches.js';

/** A model seen from the classification loop: next-token logits after each prompt. */
export interface ClassificationModel {
  /**
   * For each prompt (token ids, `prefix ⊕ input`), the logits over the full vocabulary at
   * its last position, i.e. the position that predicts the label token under teacher
   * forcing. One row per prompt, in order.
   */
  logits(prompts: readonly (readonly number[])[]): Promise<readonly ArrayLike<number>[]>;
}

/** One classification example. */
export interface ClassificationExample {
  /** Prompt token ids ending where the label token would follow. */
  promptIds: readonly number[];
  /** Gold class, an index into `classTokenIds`. */
  label: number;
}

/** Options of {@link evaluateClassification}. */
export interface ClassificationOptions extends BatchOptions {
  /** Token id of each class: `classTokenIds[c]` is the token of the string `String(c)`. */
  classTokenIds: readonly number[];
  /** GLUE task whose metrics to report (as `evaluate.load("glue", task)`). Default `rte` (accuracy). */
  task?: GlueTask;
}

/** What {@link evaluateClassification} returns. Serialisable as JSON. */
export interface ClassificationResult {
  /** The GLUE task whose metrics were computed. */
  task: GlueTask;
  /** Examples evaluated. */
  total: number;
  /** Examples whose predicted token is a class token; the metrics are over these. */
  scored: number;
  /**
   * Examples whose argmax token is not a class token (the paper's `out_of_cls`). They are
   * dropped from predictions and references before scoring, as the paper's code does.
   */
  outOfClass: number;
  /** Indices of the out-of-class examples. */
  outOfClassIndices: number[];
  /** Rows with a NaN logit (argmax then takes the first NaN, as `torch.argmax`). */
  nanRows: number;
  /** GLUE scores over the scored examples; null when no prediction was a class token. */
  metrics: GlueScores | null;
  /** Per example: the predicted class, or null when out of class. */
  predictions: (number | null)[];
  /** Per example: the argmax token id. */
  predictedTokens: number[];
}

/** Index of the largest value, the first one on ties; the first NaN wins (torch.argmax). */
function argmax(row: ArrayLike<number>): { index: number; nan: boolean } {
  let best = 0;
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (Number.isNaN(v)) return { index: i, nan: true };
    if (v > row[best]) best = i;
  }
  return { index: best, nan: false };
}

/**
 * Teacher-forced classification as the paper evaluates GLUE: argmax over the full
 * vocabulary at the label position, mapped to a class through `classTokenIds`; predictions
 * that are not a class token are dropped from both predictions and references (and counted
 * in `outOfClass`, never hidden); then the GLUE metrics of `task`.
 *
 * @throws {@link MetricError} on no examples, bad class token ids or labels, or when the
 * model returns the wrong number of rows or an empty row.
 */
export async function evaluateClassification(
  model: ClassificationModel,
  examples: readonly ClassificationExample[],
  options: ClassificationOptions,
): Promise<ClassificationResult> {
  const fn = 'evaluateClassification';
  if (!model || typeof model.logits !== 'function') {
    throw new MetricError(fn, 'model must have a logits(prompts) method');
  }
  if (!options || typeof options !== 'object') {
    throw new MetricError(fn, 'options with classTokenIds are required');
  }
  const { classTokenIds } = options;
  const task = options.task ?? 'rte';
  if (!Array.isArray(classTokenIds) || classTokenIds.length < 2) {
    throw new MetricError(fn, 'classTokenIds needs the token id of each class (at least 2)');
  }
  if (new Set(classTokenIds).size !== classTokenIds.length) {
    throw new MetricError(fn, `classTokenIds has duplicates: [${classTokenIds.join(', ')}]`);
  }
  if (!Array.isArray(examples) || examples.length === 0) {
    throw new MetricError(fn, 'no examples to evaluate');
  }
  examples.forEach((ex, i) => {
    if (!Number.isInteger(ex?.label) || ex.label < 0 || ex.label >= classTokenIds.length) {
      throw new MetricError(
        fn,
        `examples[${i}].label must be a class index 0..${classTokenIds.length - 1}, got ${describe(ex?.label)}`,
      );
    }
  });
  const classOf = new Map(classTokenIds.map((t, c) => [t, c]));
  const predictions: (number | null)[] = [];
  const predictedTokens: number[] = [];
  const outOfClassIndices: number[] = [];
  let nanRows = 0;
  await forEachBatch(
    fn,
    examples,
    options,
    ['model.logits', 'rows'],
    (prompts) => model.logits(prompts),
    (row, i) => {
      if (!row || row.length === 0) {
        throw new MetricError(fn, `model.logits returned an empty row for example ${i}`);
      }
      const { index, nan } = argmax(row);
      if (nan) nanRows++;
      predictedTokens.push(index);
      const c = classOf.get(index);
      if (c === undefined) {
        outOfClassIndices.push(i);
        predictions.push(null);
      } else predictions.push(c);
    },
  );
  const preds: number[] = [];
  const refs: number[] = [];
  predictions.forEach((p, i) => {
    if (p !== null) {
      preds.push(p);
      refs.push(examples[i].label);
    }
  });
  return {
    task,
    total: examples.length,
    scored: preds.length,
    outOfClass: outOfClassIndices.length,
    outOfClassIndices,
    nanRows,
    metrics: preds.length > 0 ? glueMetric(task, preds, refs) : null,
    predictions,
    predictedTokens,
  };
}
