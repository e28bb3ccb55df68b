import { checkStrings, describe, MetricError } from '../errors.js';
import { countNgrams, maxMerge } from '../text/ngrams.js';
import { pyFixed, pyRstrip, pySplit } from '../text/python.js';
import { type SacreTokenizerName, sacreTokenizer } from '../text/sacrebleu-tokenizers.js';

/**
 * The sacreBLEU release whose BLEU this module reproduces and whose version the signature
 * names. BLEU has not changed across the 2.x releases; pass `version` to name another.
 */
export const SACREBLEU_VERSION = '2.4.3';

/** sacreBLEU's smoothing methods (Chen and Cherry, 2014). */
export type SmoothMethod = 'exp' | 'floor' | 'add-k' | 'none';

const SMOOTH_DEFAULTS: Record<SmoothMethod, number | undefined> = {
  none: undefined,
  floor: 0.1,
  'add-k': 1,
  exp: undefined,
};

/** Options of {@link corpusBleu} and {@link sentenceBleu}, as sacreBLEU's `BLEU(...)`. */
export interface SacreBleuOptions {
  /** Tokenizer. Default `13a`. */
  tokenize?: SacreTokenizerName;
  /** Lowercase hypotheses and references first. Default false. */
  lowercase?: boolean;
  /** Smoothing. Default `exp` (NIST geometric smoothing, as mteval-v13a). */
  smoothMethod?: SmoothMethod;
  /** Value for `floor` (default 0.1) and `add-k` (default 1); ignored otherwise. */
  smoothValue?: number;
  /** Highest n-gram order. Default 4. */
  maxNgramOrder?: number;
  /**
   * Average only over the orders that have n-grams (sacreBLEU's `effective_order`).
   * Default false for {@link corpusBleu}, true for {@link sentenceBleu}.
   */
  effectiveOrder?: boolean;
  /** Version named in the signature. Default {@link SACREBLEU_VERSION}. */
  version?: string;
}

/** Sufficient statistics of BLEU, summed over a corpus. */
export interface BleuStats {
  /** Clipped n-gram matches of each order 1..maxNgramOrder. */
  correct: number[];
  /** Hypothesis n-grams of each order. */
  total: number[];
  /** Hypothesis tokens. */
  sysLen: number;
  /** Closest reference lengths (ties go to the shorter reference). */
  refLen: number;
}

/** A sacreBLEU score. `score` and `precisions` are on a 0..100 scale, as sacreBLEU. */
export interface SacreBleuScore {
  /** BLEU, 0..100. */
  score: number;
  /** Matches per order (after add-k smoothing, as sacreBLEU reports them). */
  counts: number[];
  /** Hypothesis n-grams per order (after add-k smoothing). */
  totals: number[];
  /** Precision per order, 0..100 (smoothed where the method says so). */
  precisions: number[];
  /** Brevity penalty. */
  bp: number;
  /** Hypothesis tokens. */
  sys_len: number;
  /** Closest reference lengths, summed. */
  ref_len: number;
  /** sys_len / ref_len, or 0 when ref_len is 0. */
  ratio: number;
  /** The reproducibility signature, e.g. `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.4.3`. */
  signature: string;
  /** sacreBLEU's one-line report, e.g. `BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ...)`. */
  formatted: string;
}

function smoothSettings(fn: string, options: SacreBleuOptions) {
  const method = options.smoothMethod ?? 'exp';
  if (!(method in SMOOTH_DEFAULTS)) {
    throw new MetricError(
      fn,
      `unknown smoothMethod ${describe(method)}; expected exp, floor, add-k or none`,
    );
  }
  const value = options.smoothValue ?? SMOOTH_DEFAULTS[method];
  return { method, value };
}

function maxOrderOf(fn: string, options: SacreBleuOptions): number {
  const n = options.maxNgramOrder ?? 4;
  if (!Number.isInteger(n) || n < 1) {
    throw new MetricError(fn, `maxNgramOrder must be a positive integer, got ${n}`);
  }
  return n;
}

// sacreBLEU's my_log: log(0) is a large negative number instead of -inf.
function myLog(x: number): number {
  return x === 0 ? -9999999999 : Math.log(x);
}

/**
 * BLEU from sufficient statistics, as sacreBLEU's `BLEU.compute_bleu`: brevity penalty
 * from the summed lengths, precisions with the chosen smoothing, and 0 when no n-gram of any
 * order matches. Returns the score on a 0..100 scale with the (smoothed) counts.
 */
export function computeBleuFromStats(
  stats: BleuStats,
  options: SacreBleuOptions = {},
): Omit<SacreBleuScore, 'signature' | 'formatted'> {
  const fn = 'computeBleuFromStats';
  const { method, value } = smoothSettings(fn, options);
  const maxOrder = maxOrderOf(fn, options);
  const correct = [...stats.correct];
  const total = [...stats.total];
  if (correct.length !== maxOrder || total.length !== maxOrder) {
    throw new MetricError(
      fn,
      `correct and total need ${maxOrder} entries (maxNgramOrder), got ${correct.length} and ${total.length}`,
    );
  }
  const { sysLen, refLen } = stats;
  const bp = sysLen < refLen ? (sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0) : 1;
  const precisions = new Array<number>(maxOrder).fill(0);
  const ratio = refLen ? sysLen / refLen : 0;
  const base = {
    counts: correct,
    totals: total,
    precisions,
    bp,
    sys_len: sysLen,
    ref_len: refLen,
    ratio,
  };
  if (!correct.some((c) => c !== 0)) return { score: 0, ...base };
  let smoothMteval = 1;
  let effOrder = maxOrder;
  for (let n = 1; n <= maxOrder; n++) {
    if (method === 'add-k' && n > 1) {
      correct[n - 1] += value!;
      total[n - 1] += value!;
    }
    if (total[n - 1] === 0) break;
    if (options.effectiveOrder) effOrder = n;
    if (correct[n - 1] === 0) {
      if (method === 'exp') {
        smoothMteval *= 2;
        precisions[n - 1] = 100 / (smoothMteval * total[n - 1]);
      } else if (method === 'floor') {
        precisions[n - 1] = (100 * value!) / total[n - 1];
      }
    } else {
      precisions[n - 1] = (100 * correct[n - 1]) / total[n - 1];
    }
  }
  let s = 0;
  for (let i = 0; i < effOrder; i++) s += myLog(precisions[i]);
  return { score: bp * Math.exp(s / effOrder), ...base };
}

function closestRefLen(hypLen: number, refLens: readonly number[]): number {
  let closestDiff = -1;
  let closestLen = -1;
  for (const len of refLens) {
    const diff = Math.abs(hypLen - len);
    if (closestDiff === -1 || diff < closestDiff) {
      closestDiff = diff;
      closestLen = len;
    } else if (diff === closestDiff && len < closestLen) {
      closestLen = len;
    }
  }
  return closestLen;
}

function preprocess(tokenize: (s: string) => string, lowercase: boolean, s: string): string[] {
  if (lowercase) s = s.toLowerCase();
  return pySplit(tokenize(pyRstrip(s)));
}

/**
 * Corpus statistics as sacreBLEU collects them: per segment, references that are empty
 * strings are left out; the hypothesis n-grams are clipped by the per-n-gram maximum over
 * the references; the reference length is the closest one.
 */
export function bleuStatistics(
  hypotheses: readonly string[],
  references: readonly (readonly string[])[],
  options: SacreBleuOptions = {},
): BleuStats & { nrefs: number | 'var' } {
  const fn = 'bleuStatistics';
  const maxOrder = maxOrderOf(fn, options);
  if (!Array.isArray(hypotheses) || hypotheses.length === 0) {
    throw new MetricError(fn, 'no hypotheses to score');
  }
  checkStrings(fn, 'hypotheses', hypotheses);
  if (!Array.isArray(references) || references.length === 0) {
    throw new MetricError(
      fn,
      'references must be a non-empty list of reference streams (references[k][i] is the k-th reference of hypothesis i)',
    );
  }
  references.forEach((stream, k) => {
    if (!Array.isArray(stream) || stream.length !== hypotheses.length) {
      throw new MetricError(
        fn,
        `reference stream ${k} has ${Array.isArray(stream) ? stream.length : 'no'} entries but there are ${hypotheses.length} hypotheses`,
      );
    }
  });
  const tokenize = sacreTokenizer(options.tokenize ?? '13a');
  const lowercase = options.lowercase ?? false;
  const correct = new Array<number>(maxOrder).fill(0);
  const total = new Array<number>(maxOrder).fill(0);
  let sysLen = 0;
  let refLen = 0;
  const nrefsSeen = new Set<number>();
  for (let i = 0; i < hypotheses.length; i++) {
    const lines: string[] = [];
    for (let k = 0; k < references.length; k++) {
      const r = references[k][i];
      if (r === null || r === undefined || r === '') continue;
      if (typeof r !== 'string') {
        throw new MetricError(fn, `references[${k}][${i}] must be a string, got ${describe(r)}`);
      }
      lines.push(r);
    }
    if (lines.length === 0) {
      throw new MetricError(fn, `hypothesis ${i} has only empty references`);
    }
    nrefsSeen.add(lines.length);
    const refNgrams = Array.from({ length: maxOrder }, () => new Map<string, number>());
    const refLens: number[] = [];
    for (const line of lines) {
      const toks = preprocess(tokenize, lowercase, line);
      refLens.push(toks.length);
      countNgrams(toks, maxOrder).forEach((counts, n) => {
        maxMerge(refNgrams[n], counts);
      });
    }
    const hyp = preprocess(tokenize, lowercase, hypotheses[i]);
    sysLen += hyp.length;
    refLen += closestRefLen(hyp.length, refLens);
    countNgrams(hyp, maxOrder).forEach((counts, n) => {
      for (const [k, c] of counts) {
        total[n] += c;
        correct[n] += Math.min(c, refNgrams[n].get(k) ?? 0);
      }
    });
  }
  const nrefs = nrefsSeen.size === 1 ? [...nrefsSeen][0] : 'var';
  return { correct, total, sysLen, refLen, nrefs };
}

/**
 * The sacreBLEU signature string: `nrefs:N|case:mixed|eff:no|tok:13a|smooth:exp|version:V`
 * (`nrefs:var` when the number of non-empty references varies, `smooth:floor[0.10]` and
 * `smooth:add-k[1.00]` for methods with a value).
 */
export function bleuSignature(nrefs: number | 'var', options: SacreBleuOptions = {}): string {
  const { method, value } = smoothSettings('bleuSignature', options);
  const smooth =
    value === undefined || SMOOTH_DEFAULTS[method] === undefined
      ? method
      : `${method}[${pyFixed(value, 2)}]`;
  return [
    `nrefs:${nrefs}`,
    `case:${options.lowercase ? 'lc' : 'mixed'}`,
    `eff:${options.effectiveOrder ? 'yes' : 'no'}`,
    `tok:${options.tokenize ?? '13a'}`,
    `smooth:${smooth}`,
    `version:${options.version ?? SACREBLEU_VERSION}`,
  ].join('|');
}

function finish(
  stats: BleuStats & { nrefs: number | 'var' },
  options: SacreBleuOptions,
): SacreBleuScore {
  const s = computeBleuFromStats(stats, options);
  const signature = bleuSignature(stats.nrefs, options);
  // Python's formatting, which rounds exact ties to even (a precision of 6.25 is `6.2`).
  const prec = s.precisions.map((p) => pyFixed(p, 1)).join('/');
  const formatted =
    `BLEU = ${pyFixed(s.score, 2)} ${prec} (BP = ${pyFixed(s.bp, 3)} ratio = ${pyFixed(s.ratio, 3)} ` +
    `hyp_len = ${s.sys_len} ref_len = ${s.ref_len})`;
  return { ...s, signature, formatted };
}

/**
 * Corpus BLEU as `sacrebleu.corpus_bleu(hypotheses, references)` with sacreBLEU's defaults
 * (13a tokenizer, mixed case, `exp` smoothing, max order 4, no effective order).
 *
 * @param hypotheses one string per segment.
 * @param references reference streams, as sacreBLEU takes them: `references[k][i]` is the
 * k-th reference of hypothesis i. Empty strings mark a missing reference for a segment.
 * @throws {@link MetricError} on empty input, streams of the wrong length, or a segment whose
 * references are all empty.
 */
export function corpusBleu(
  hypotheses: readonly string[],
  references: readonly (readonly string[])[],
  options: SacreBleuOptions = {},
): SacreBleuScore {
  return finish(bleuStatistics(hypotheses, references, options), options);
}

/**
 * Sentence BLEU as `sacrebleu.sentence_bleu(hypothesis, references)`: one segment scored
 * against its references, with effective order on by default.
 */
export function sentenceBleu(
  hypothesis: string,
  references: readonly string[],
  options: SacreBleuOptions = {},
): SacreBleuScore {
  if (!Array.isArray(references) || references.length === 0) {
    throw new MetricError('sentenceBleu', 'needs at least one reference');
  }
  const opts = { effectiveOrder: true, ...options };
  return finish(
    bleuStatistics(
      [hypothesis],
      references.map((r) => [r]),
      opts,
    ),
    opts,
  );
}
