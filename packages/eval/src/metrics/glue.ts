import { checkPairs, describe, MetricError } from '../errors.js';

/** The GLUE tasks of `evaluate.load("glue", task)`, with the metrics each one reports. */
export type GlueTask =
  | 'cola'
  | 'sst2'
  | 'mrpc'
  | 'qqp'
  | 'stsb'
  | 'mnli'
  | 'mnli_matched'
  | 'mnli_mismatched'
  | 'qnli'
  | 'rte'
  | 'wnli'
  | 'hans';

/** What `glueMetric` returns: the keys `evaluate`'s glue metric returns for the task. */
export interface GlueScores {
  accuracy?: number;
  f1?: number;
  matthews_correlation?: number;
  pearson?: number;
  spearmanr?: number;
}

function checkNumbers(fn: string, what: string, xs: readonly number[], integer: boolean): void {
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
      throw new MetricError(
        fn,
        `${what}[${i}] must be a finite ${integer ? 'integer class label' : 'number'}, got ${describe(v)}`,
      );
    }
  }
}

function checkLabels(fn: string, predictions: readonly number[], references: readonly number[]) {
  checkPairs(fn, predictions, references);
  checkNumbers(fn, 'predictions', predictions, true);
  checkNumbers(fn, 'references', references, true);
}

/**
 * Fraction of predictions equal to their reference, as `evaluate`'s glue `accuracy`
 * (`(preds == labels).mean()`).
 *
 * @throws {@link MetricError} on empty or mismatched inputs and on labels that are not integers.
 */
export function accuracy(predictions: readonly number[], references: readonly number[]): number {
  checkLabels('accuracy', predictions, references);
  let hit = 0;
  for (let i = 0; i < predictions.length; i++) if (predictions[i] === references[i]) hit++;
  return hit / predictions.length;
}

/**
 * Binary F1 with positive label 1, as scikit-learn's `f1_score(labels, preds)`:
 * `2·tp / (2·tp + fp + fn)`, and 0 when there is neither a predicted nor a true positive
 * (scikit-learn's `zero_division` default).
 *
 * @throws {@link MetricError} when a label is not 0 or 1 (scikit-learn refuses multiclass
 * input for binary F1), or on empty or mismatched inputs.
 */
export function f1(predictions: readonly number[], references: readonly number[]): number {
  checkLabels('f1', predictions, references);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < predictions.length; i++) {
    const p = predictions[i];
    const r = references[i];
    if ((p !== 0 && p !== 1) || (r !== 0 && r !== 1)) {
      throw new MetricError(
        'f1',
        `binary F1 needs labels 0 and 1, got prediction ${p} and reference ${r} at index ${i}`,
      );
    }
    if (p === 1 && r === 1) tp++;
    else if (p === 1) fp++;
    else if (r === 1) fn++;
  }
  const denom = 2 * tp + fp + fn;
  return denom === 0 ? 0 : (2 * tp) / denom;
}

/**
 * Matthews correlation coefficient for any number of classes, as scikit-learn's
 * `matthews_corrcoef` (the multiclass R_K statistic, which reduces to the binary MCC):
 * 0 when either the predictions or the references hold a single class.
 *
 * @throws {@link MetricError} on empty or mismatched inputs and on non-integer labels.
 */
export function matthewsCorrelation(
  predictions: readonly number[],
  references: readonly number[],
): number {
  checkLabels('matthewsCorrelation', predictions, references);
  const tSum = new Map<number, number>();
  const pSum = new Map<number, number>();
  let correct = 0;
  const n = predictions.length;
  for (let i = 0; i < n; i++) {
    const p = predictions[i];
    const r = references[i];
    tSum.set(r, (tSum.get(r) ?? 0) + 1);
    pSum.set(p, (pSum.get(p) ?? 0) + 1);
    if (p === r) correct++;
  }
  let tp = 0;
  for (const [k, t] of tSum) tp += t * (pSum.get(k) ?? 0);
  let pp = 0;
  for (const p of pSum.values()) pp += p * p;
  let tt = 0;
  for (const t of tSum.values()) tt += t * t;
  const covYtYp = correct * n - tp;
  const covYpYp = n * n - pp;
  const covYtYt = n * n - tt;
  if (covYpYp * covYtYt === 0) return 0;
  return covYtYp / Math.sqrt(covYtYt * covYpYp);
}

function checkSeries(fn: string, x: readonly number[], y: readonly number[]): void {
  checkPairs(fn, x, y);
  checkNumbers(fn, 'predictions', x, false);
  checkNumbers(fn, 'references', y, false);
  if (x.length < 2) throw new MetricError(fn, `needs at least 2 pairs, got ${x.length}`);
}

function pearsonUnchecked(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  const nx = Math.sqrt(sxx);
  const ny = Math.sqrt(syy);
  // A constant series has no correlation; scipy returns nan (with a warning) here too.
  if (nx === 0 || ny === 0) return Number.NaN;
  let r = 0;
  for (let i = 0; i < n; i++) r += ((x[i] - mx) / nx) * ((y[i] - my) / ny);
  return Math.max(-1, Math.min(1, r));
}

/**
 * Pearson correlation as `scipy.stats.pearsonr(...)[0]`: centred, normalised dot product,
 * clipped to [-1, 1]. NaN when either series is constant, as scipy (JSON writes it as null).
 *
 * @throws {@link MetricError} on fewer than 2 pairs, mismatched lengths or non-finite values.
 */
export function pearson(predictions: readonly number[], references: readonly number[]): number {
  checkSeries('pearson', predictions, references);
  return pearsonUnchecked(predictions, references);
}

/**
 * Ranks starting at 1 with ties given the average of the ranks they span, as
 * `scipy.stats.rankdata(x, method="average")`.
 */
export function averageRanks(values: readonly number[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Array<number>(values.length);
  let i = 0;
  while (i < order.length) {
    let j = i;
    while (j + 1 < order.length && values[order[j + 1]] === values[order[i]]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

/**
 * Spearman rank correlation as `scipy.stats.spearmanr(...)[0]`: the Pearson correlation of
 * average ranks (ties share the mean of their ranks). NaN when either series is constant.
 *
 * @throws {@link MetricError} on fewer than 2 pairs, mismatched lengths or non-finite values.
 */
export function spearman(predictions: readonly number[], references: readonly number[]): number {
  checkSeries('spearman', predictions, references);
  return pearsonUnchecked(averageRanks(predictions), averageRanks(references));
}

const GLUE_TASKS: readonly GlueTask[] = [
  'cola',
  'sst2',
  'mrpc',
  'qqp',
  'stsb',
  'mnli',
  'mnli_matched',
  'mnli_mismatched',
  'qnli',
  'rte',
  'wnli',
  'hans',
];

/**
 * The scores `evaluate.load("glue", task).compute(predictions, references)` returns: CoLA
 * gives `matthews_correlation`, MRPC and QQP give `accuracy` and `f1`, STS-B gives
 * `pearson` and `spearmanr`, every other task gives `accuracy`.
 *
 * @throws {@link MetricError} on an unknown task or bad input.
 */
export function glueMetric(
  task: GlueTask,
  predictions: readonly number[],
  references: readonly number[],
): GlueScores {
  switch (task) {
    case 'cola':
      return { matthews_correlation: matthewsCorrelation(predictions, references) };
    case 'stsb':
      return {
        pearson: pearson(predictions, references),
        spearmanr: spearman(predictions, references),
      };
    case 'mrpc':
    case 'qqp':
      return { accuracy: accuracy(predictions, references), f1: f1(predictions, references) };
    default:
      if (!GLUE_TASKS.includes(task)) {
        throw new MetricError(
          'glueMetric',
          `unknown GLUE task ${JSON.stringify(task)}; expected one of ${GLUE_TASKS.join(', ')}`,
        );
      }
      return { accuracy: accuracy(predictions, references) };
  }
}
