import { checkPairs, checkStrings, MetricError, referenceLists } from '../errors.js';
import { countNgrams, maxMerge } from '../text/ngrams.js';
import { pySplit } from '../text/python.js';
import { tokenize13a } from '../text/sacrebleu-tokenizers.js';

/** Options of {@link bleu}, named as `evaluate`'s `bleu.compute(...)` arguments. */
export interface BleuOptions {
  /** Highest n-gram order. Default 4. */
  maxOrder?: number;
  /**
   * Lin and Och (2004) add-one smoothing as the TensorFlow NMT `compute_bleu` applies it:
   * every precision becomes (matches + 1) / (possible + 1). Default false.
   */
  smooth?: boolean;
  /** Turns a string into tokens. Default: the 13a tokenizer split on whitespace. */
  tokenizer?: (text: string) => string[];
}

/** What {@link bleu} returns: the keys of `evaluate`'s `bleu`. BLEU is on a 0..1 scale. */
export interface BleuResult {
  bleu: number;
  /** Modified n-gram precision of each order 1..maxOrder. */
  precisions: number[];
  brevity_penalty: number;
  /** translation_length / reference_length. */
  length_ratio: number;
  /** Total number of prediction tokens. */
  translation_length: number;
  /** Sum over predictions of the length of the shortest reference. */
  reference_length: number;
}

/** The 13a tokenizer as `evaluate`'s bleu uses it: tokens, not a joined string. */
export function tokenize13aWords(text: string): string[] {
  return pySplit(tokenize13a(text));
}

/**
 * Corpus BLEU exactly as Hugging Face `evaluate`'s `bleu` computes it (the TensorFlow NMT
 * `compute_bleu` over 13a tokens): clipped n-gram counts against the per-n-gram maximum
 * over a prediction's references, the shortest reference length for the brevity penalty,
 * and a geometric mean that is 0 as soon as one precision is 0 (unless `smooth`).
 *
 * Where `evaluate` raises ZeroDivisionError, this returns the limit instead: when every
 * prediction is empty, the brevity penalty, length ratio and BLEU are 0.
 *
 * @param predictions one string per example.
 * @param references one string, or several strings, per example.
 * @throws {@link MetricError} on mismatched or empty inputs, an empty reference list, or when
 * every reference is empty (BLEU is undefined).
 */
export function bleu(
  predictions: readonly string[],
  references: readonly (string | readonly string[])[],
  options: BleuOptions = {},
): BleuResult {
  const fn = 'bleu';
  checkPairs(fn, predictions, references);
  checkStrings(fn, 'predictions', predictions);
  const refs = referenceLists(fn, references);
  const maxOrder = options.maxOrder ?? 4;
  if (!Number.isInteger(maxOrder) || maxOrder < 1) {
    throw new MetricError(fn, `maxOrder must be a positive integer, got ${maxOrder}`);
  }
  const tokenize = options.tokenizer ?? tokenize13aWords;
  const matches = new Array<number>(maxOrder).fill(0);
  const possible = new Array<number>(maxOrder).fill(0);
  let refLength = 0;
  let transLength = 0;
  for (let i = 0; i < predictions.length; i++) {
    const refTokens = refs[i].map(tokenize);
    const hyp = tokenize(predictions[i]);
    refLength += Math.min(...refTokens.map((r) => r.length));
    transLength += hyp.length;
    const merged = Array.from({ length: maxOrder }, () => new Map<string, number>());
    for (const r of refTokens) {
      countNgrams(r, maxOrder).forEach((counts, n) => {
        maxMerge(merged[n], counts);
      });
    }
    countNgrams(hyp, maxOrder).forEach((counts, n) => {
      for (const [k, c] of counts) matches[n] += Math.min(c, merged[n].get(k) ?? 0);
    });
    for (let n = 1; n <= maxOrder; n++) {
      const p = hyp.length - n + 1;
      if (p > 0) possible[n - 1] += p;
    }
  }
  if (refLength === 0) {
    throw new MetricError(fn, 'every reference is empty after tokenization; BLEU is undefined');
  }
  const precisions = matches.map((m, i) => {
    if (options.smooth) return (m + 1) / (possible[i] + 1);
    return possible[i] > 0 ? m / possible[i] : 0;
  });
  let geoMean = 0;
  if (Math.min(...precisions) > 0) {
    let s = 0;
    for (const p of precisions) s += (1 / maxOrder) * Math.log(p);
    geoMean = Math.exp(s);
  }
  const ratio = transLength / refLength;
  const bp = ratio > 1 ? 1 : ratio === 0 ? 0 : Math.exp(1 - 1 / ratio);
  return {
    bleu: geoMean * bp,
    precisions,
    brevity_penalty: bp,
    length_ratio: ratio,
    translation_length: transLength,
    reference_length: refLength,
  };
}
