import { checkPairs, checkStrings, MetricError, referenceLists } from '../errors.js';
import { ngramKey } from '../text/ngrams.js';
import { PorterStemmer } from '../text/porter.js';
import { SeededRandom } from '../text/random.js';

/** Precision, recall and F-measure of one ROUGE type, as `rouge_score`'s `Score`. */
export interface RougeScore {
  /** Overlap over the prediction's size. */
  precision: number;
  /** Overlap over the target's size. */
  recall: number;
  /** Harmonic mean of precision and recall (0 when both are 0). */
  fmeasure: number;
}

/** Options of {@link RougeScorer}, as `rouge_scorer.RougeScorer(rouge_types, use_stemmer)`. */
export interface RougeScorerOptions {
  /** Porter-stem tokens longer than 3 characters. Default false. */
  useStemmer?: boolean;
  /** Replaces the default tokenizer (which then ignores `useStemmer`). */
  tokenizer?: (text: string) => string[];
}

const STEMMER = new PorterStemmer('NLTK_EXTENSIONS');

/**
 * `rouge_score`'s default tokenizer: lowercase, replace every run of characters outside
 * [a-z0-9] by a space, split, and (with `useStemmer`) Porter-stem (NLTK's default mode)
 * every token longer than 3 characters.
 */
export function rougeTokenize(text: string, useStemmer = false): string[] {
  const tokens = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .split(/\s+/);
  const out: string[] = [];
  for (let t of tokens) {
    if (useStemmer && t.length > 3) t = STEMMER.stem(t);
    if (/^[a-z0-9]+$/.test(t)) out.push(t);
  }
  return out;
}

function fmeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

function ngrams(tokens: readonly string[], n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const k = ngramKey(tokens, i, n);
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

function scoreNgrams(target: Map<string, number>, prediction: Map<string, number>): RougeScore {
  let overlap = 0;
  for (const [k, c] of target) overlap += Math.min(c, prediction.get(k) ?? 0);
  let tCount = 0;
  for (const c of target.values()) tCount += c;
  let pCount = 0;
  for (const c of prediction.values()) pCount += c;
  const precision = overlap / Math.max(pCount, 1);
  const recall = overlap / Math.max(tCount, 1);
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/** Dynamic-programming LCS table, (ref.length + 1) x (can.length + 1). */
export function lcsTable(ref: readonly unknown[], can: readonly unknown[]): Int32Array[] {
  const rows = ref.length;
  const cols = can.length;
  const t: Int32Array[] = [];
  for (let i = 0; i <= rows; i++) t.push(new Int32Array(cols + 1));
  for (let i = 1; i <= rows; i++) {
    for (let j = 1; j <= cols; j++) {
      t[i][j] =
        ref[i - 1] === can[j - 1] ? t[i - 1][j - 1] + 1 : Math.max(t[i - 1][j], t[i][j - 1]);
    }
  }
  return t;
}

/**
 * Indices into `ref` of one longest common subsequence, chosen by the same backtrack as
 * `rouge_score` (prefer moving left in the candidate when that keeps a longer LCS).
 */
export function lcsIndices(ref: readonly unknown[], can: readonly unknown[]): number[] {
  const t = lcsTable(ref, can);
  let i = ref.length;
  let j = can.length;
  const out: number[] = [];
  while (i > 0 && j > 0) {
    if (ref[i - 1] === can[j - 1]) {
      out.push(i - 1);
      i--;
      j--;
    } else if (t[i][j - 1] > t[i - 1][j]) {
      j--;
    } else {
      i--;
    }
  }
  return out.reverse();
}

/** Tokens of `ref` in the union of its LCS with each candidate sentence, in `ref` order. */
export function unionLcs<T>(ref: readonly T[], candidates: readonly (readonly T[])[]): T[] {
  const idx = new Set<number>();
  for (const c of candidates) for (const i of lcsIndices(ref, c)) idx.add(i);
  return [...idx].sort((a, b) => a - b).map((i) => ref[i]);
}

function scoreLcs(target: readonly string[], prediction: readonly string[]): RougeScore {
  if (target.length === 0 || prediction.length === 0)
    return { precision: 0, recall: 0, fmeasure: 0 };
  const t = lcsTable(target, prediction);
  const lcs = t[target.length][prediction.length];
  const precision = lcs / prediction.length;
  const recall = lcs / target.length;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/**
 * Summary-level LCS (ROUGE-Lsum): for each reference sentence, the union LCS with all
 * candidate sentences, each token counted at most as often as it occurs in both texts.
 */
export function summaryLevelLcs(
  refSents: readonly (readonly string[])[],
  canSents: readonly (readonly string[])[],
): RougeScore {
  const zero = { precision: 0, recall: 0, fmeasure: 0 };
  if (refSents.length === 0 || canSents.length === 0) return zero;
  let m = 0;
  for (const s of refSents) m += s.length;
  let n = 0;
  for (const s of canSents) n += s.length;
  if (m === 0 || n === 0) return zero;
  const cntR = new Map<string, number>();
  const cntC = new Map<string, number>();
  for (const s of refSents) for (const t of s) cntR.set(t, (cntR.get(t) ?? 0) + 1);
  for (const s of canSents) for (const t of s) cntC.set(t, (cntC.get(t) ?? 0) + 1);
  let hits = 0;
  for (const r of refSents) {
    for (const t of unionLcs(r, canSents)) {
      const c = cntC.get(t) ?? 0;
      const rr = cntR.get(t) ?? 0;
      if (c > 0 && rr > 0) {
        hits++;
        cntC.set(t, c - 1);
        cntR.set(t, rr - 1);
      }
    }
  }
  const recall = hits / m;
  const precision = hits / n;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/** A ROUGE type: `rouge1`..`rouge9`, `rougeL` or `rougeLsum`. */
export type RougeType = `rouge${1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9}` | 'rougeL' | 'rougeLsum';

/** True when `name` is a ROUGE type `rouge_score` accepts. */
export function isRougeType(name: string): name is RougeType {
  return name === 'rougeL' || name === 'rougeLsum' || /^rouge[1-9]$/.test(name);
}

/**
 * Google's `rouge_score.rouge_scorer.RougeScorer`: `score(target, prediction)` gives
 * precision (against the prediction), recall (against the target) and F-measure for each
 * type; `scoreMulti` keeps, per type, the target with the highest F-measure (the first on
 * ties). ROUGE-Lsum splits both texts into sentences on newlines.
 */
export class RougeScorer {
  /** The ROUGE types scored. */
  readonly rougeTypes: readonly RougeType[];
  private readonly tokenize: (text: string) => string[];

  /**
   * @param rougeTypes `rouge1`..`rouge9`, `rougeL`, `rougeLsum`.
   * @throws {@link MetricError} on an empty list or an unknown type.
   */
  constructor(rougeTypes: readonly string[], options: RougeScorerOptions = {}) {
    if (!Array.isArray(rougeTypes) || rougeTypes.length === 0) {
      throw new MetricError('RougeScorer', 'needs at least one ROUGE type');
    }
    for (const t of rougeTypes) {
      if (!isRougeType(t)) {
        throw new MetricError(
          'RougeScorer',
          `invalid ROUGE type ${JSON.stringify(t)}; expected rouge1..rouge9, rougeL or rougeLsum`,
        );
      }
    }
    this.rougeTypes = rougeTypes as RougeType[];
    const stem = options.useStemmer ?? false;
    this.tokenize = options.tokenizer ?? ((text) => rougeTokenize(text, stem));
  }

  /** Scores one prediction against one target. */
  score(target: string, prediction: string): Record<RougeType, RougeScore> {
    const out = {} as Record<RougeType, RougeScore>;
    let tt: string[] | undefined;
    let pt: string[] | undefined;
    for (const type of this.rougeTypes) {
      if (type === 'rougeLsum') {
        const sents = (s: string) =>
          s
            .split('\n')
            .filter((x) => x.length > 0)
            .map((x) => this.tokenize(x));
        out[type] = summaryLevelLcs(sents(target), sents(prediction));
        continue;
      }
      tt ??= this.tokenize(target);
      pt ??= this.tokenize(prediction);
      if (type === 'rougeL') out[type] = scoreLcs(tt, pt);
      else {
        const n = Number(type.slice(5));
        out[type] = scoreNgrams(ngrams(tt, n), ngrams(pt, n));
      }
    }
    return out;
  }

  /** Scores a prediction against several targets, keeping the best F-measure per type. */
  scoreMulti(targets: readonly string[], prediction: string): Record<RougeType, RougeScore> {
    if (targets.length === 0)
      throw new MetricError('RougeScorer.scoreMulti', 'needs at least one target');
    const all = targets.map((t) => this.score(t, prediction));
    const out = {} as Record<RougeType, RougeScore>;
    for (const type of this.rougeTypes) {
      let best = all[0][type];
      for (const s of all) if (s[type].fmeasure > best.fmeasure) best = s[type];
      out[type] = best;
    }
    return out;
  }
}

/** Low, mid and high bounds of a bootstrap confidence interval, as `AggregateScore`. */
export interface AggregateScore {
  low: RougeScore;
  mid: RougeScore;
  high: RougeScore;
}

/** Options of {@link bootstrapAggregate}, as `scoring.BootstrapAggregator`. */
export interface BootstrapOptions {
  /** Confidence level. Default 0.95. */
  confidenceInterval?: number;
  /** Resamples. Default 1000. */
  nSamples?: number;
  /** Seed of the resampling generator. Default 0. */
  seed?: number;
}

// numpy.percentile with linear interpolation on a sorted copy.
function percentile(sorted: Float64Array, q: number): number {
  const pos = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * `rouge_score`'s `BootstrapAggregator`: draw `nSamples` resamples of the examples with
 * replacement (from a seeded generator), average precision, recall and F-measure in each,
 * and report the percentiles (1-ci)/2, 50 and (1+ci)/2 of those means. numpy's global RNG
 * drives the Python version, so `mid` matches it only up to resampling noise around the
 * plain mean (about std/sqrt(n·nSamples)).
 */
export function bootstrapAggregate(
  scores: readonly RougeScore[],
  options: BootstrapOptions = {},
): AggregateScore {
  const n = scores.length;
  if (n === 0) throw new MetricError('bootstrapAggregate', 'no scores to aggregate');
  const ci = options.confidenceInterval ?? 0.95;
  const samples = options.nSamples ?? 1000;
  if (!(ci > 0 && ci < 1)) {
    throw new MetricError('bootstrapAggregate', `confidenceInterval must be in (0, 1), got ${ci}`);
  }
  if (!Number.isInteger(samples) || samples < 1) {
    throw new MetricError(
      'bootstrapAggregate',
      `nSamples must be a positive integer, got ${samples}`,
    );
  }
  const rng = new SeededRandom(options.seed ?? 0);
  const means = [new Float64Array(samples), new Float64Array(samples), new Float64Array(samples)];
  for (let s = 0; s < samples; s++) {
    let p = 0;
    let r = 0;
    let f = 0;
    for (let i = 0; i < n; i++) {
      const x = scores[rng.nextInt(n)];
      p += x.precision;
      r += x.recall;
      f += x.fmeasure;
    }
    means[0][s] = p / n;
    means[1][s] = r / n;
    means[2][s] = f / n;
  }
  for (const m of means) m.sort();
  const delta = (1 - ci) / 2;
  const at = (q: number): RougeScore => ({
    precision: percentile(means[0], q),
    recall: percentile(means[1], q),
    fmeasure: percentile(means[2], q),
  });
  return { low: at(100 * delta), mid: at(50), high: at(100 * (1 - delta)) };
}

/** Options of {@link rouge}, as `evaluate`'s `rouge.compute(...)`. */
export interface RougeOptions {
  /** Types to score. Default `['rouge1', 'rouge2', 'rougeL', 'rougeLsum']`. */
  rougeTypes?: readonly string[];
  /** Porter-stem tokens longer than 3 characters. Default false. */
  useStemmer?: boolean;
  /** Replaces the default tokenizer. */
  tokenizer?: (text: string) => string[];
  /**
   * How to reduce the per-example F-measures:
   * - `'bootstrap'` (default): the `mid` F-measure of {@link bootstrapAggregate}, which is
   *   what `evaluate` returns with `use_aggregator=True` (its default);
   * - `'mean'`: the plain mean, which the bootstrap mid estimates;
   * - `'none'`: the list of per-example F-measures (`use_aggregator=False`).
   */
  aggregate?: 'bootstrap' | 'mean' | 'none';
  /** Bootstrap settings (seed, samples, confidence). */
  bootstrap?: BootstrapOptions;
}

/**
 * ROUGE as Hugging Face `evaluate`'s `rouge`: `rouge_score` per example (max over several
 * references), then per type the F-measure aggregated as `options.aggregate` says.
 *
 * @returns per type, a number (aggregated F-measure) or, with `aggregate: 'none'`, one
 * F-measure per example.
 * @throws {@link MetricError} on mismatched or empty inputs or an invalid ROUGE type.
 */
export function rouge(
  predictions: readonly string[],
  references: readonly (string | readonly string[])[],
  options: RougeOptions & { aggregate: 'none' },
): Record<string, number[]>;
export function rouge(
  predictions: readonly string[],
  references: readonly (string | readonly string[])[],
  options?: RougeOptions,
): Record<string, number>;
export function rouge(
  predictions: readonly string[],
  references: readonly (string | readonly string[])[],
  options: RougeOptions = {},
): Record<string, number | number[]> {
  checkPairs('rouge', predictions, references);
  checkStrings('rouge', 'predictions', predictions);
  const refs = referenceLists('rouge', references);
  const types = options.rougeTypes ?? ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'];
  const scorer = new RougeScorer(types, {
    useStemmer: options.useStemmer ?? false,
    ...(options.tokenizer ? { tokenizer: options.tokenizer } : {}),
  });
  const perExample = predictions.map((p, i) =>
    refs[i].length === 1 ? scorer.score(refs[i][0], p) : scorer.scoreMulti(refs[i], p),
  );
  const mode = options.aggregate ?? 'bootstrap';
  const out: Record<string, number | number[]> = {};
  for (const type of scorer.rougeTypes) {
    const scores = perExample.map((s) => s[type]);
    if (mode === 'none') out[type] = scores.map((s) => s.fmeasure);
    else if (mode === 'mean')
      out[type] = scores.reduce((a, s) => a + s.fmeasure, 0) / scores.length;
    else if (mode === 'bootstrap')
      out[type] = bootstrapAggregate(scores, options.bootstrap).mid.fmeasure;
    else
      throw new MetricError(
        'rouge',
        `aggregate must be bootstrap, mean or none, got ${String(mode)}`,
      );
  }
  return out;
}
