import { checkPairs, checkStrings, describe, MetricError, referenceLists } from '../errors.js';
import { PorterStemmer } from '../text/porter.js';
import { wordTokenize } from '../text/word-tokenize.js';

/** The part of a WordNet METEOR needs: the synonym set of a word, the word included. */
export interface SynonymSource {
  synonyms(word: string): ReadonlySet<string>;
}

/** Options of {@link singleMeteorScore} and {@link meteorScore}, named as NLTK's. */
export interface MeteorOptions {
  /**
   * WordNet for the synonym stage (e.g. from `loadWordNet()` in `@statetune/eval/node`).
   * Required: METEOR without synonyms is a different metric. Pass `null` to skip the stage
   * deliberately.
   */
  wordnet: SynonymSource | null;
  /** Weight of precision against recall. Default 0.9. */
  alpha?: number;
  /** Shape of the fragmentation penalty. Default 3. */
  beta?: number;
  /** Weight of the fragmentation penalty. Default 0.5. */
  gamma?: number;
  /** Applied to every token first. Default lowercase (NLTK's `str.lower`). */
  preprocess?: (token: string) => string;
  /** Stemmer of the second stage. Default NLTK's Porter stemmer (NLTK_EXTENSIONS). */
  stemmer?: { stem(word: string): string };
}

type Enum = [index: number, word: string];
type Match = [hyp: number, ref: number];

const DEFAULT_STEMMER = new PorterStemmer();

// NLTK's _match_enums: from the last hypothesis word backwards, take the last equal
// reference word, removing both. Mutates the lists to the unmatched remainder.
function matchEnums(hyp: Enum[], ref: Enum[], same: (h: string, r: string) => boolean): Match[] {
  const out: Match[] = [];
  for (let i = hyp.length - 1; i >= 0; i--) {
    for (let j = ref.length - 1; j >= 0; j--) {
      if (same(hyp[i][1], ref[j][1])) {
        out.push([hyp[i][0], ref[j][0]]);
        hyp.splice(i, 1);
        ref.splice(j, 1);
        break;
      }
    }
  }
  return out;
}

/**
 * NLTK's alignment: exact matches, then Porter-stem matches, then WordNet synonym matches.
 * As in NLTK, the synonym stage sees the stemmed words the stem stage leaves behind.
 * Returns the matches sorted by hypothesis position.
 */
export function alignWords(
  hypothesis: readonly string[],
  reference: readonly string[],
  options: MeteorOptions,
): Match[] {
  const pre = options.preprocess ?? ((w: string) => w.toLowerCase());
  let hyp: Enum[] = hypothesis.map((w, i) => [i, pre(w)]);
  let ref: Enum[] = reference.map((w, i) => [i, pre(w)]);
  const exact = matchEnums(hyp, ref, (a, b) => a === b);
  const stemmer = options.stemmer ?? DEFAULT_STEMMER;
  hyp = hyp.map(([i, w]) => [i, stemmer.stem(w)]);
  ref = ref.map(([i, w]) => [i, stemmer.stem(w)]);
  const stem = matchEnums(hyp, ref, (a, b) => a === b);
  const wn = options.wordnet;
  const syn = wn ? matchEnums(hyp, ref, (h, r) => wn.synonyms(h).has(r)) : [];
  // Python's sort is stable, and so is Array.prototype.sort.
  return [...exact, ...stem, ...syn].sort((a, b) => a[0] - b[0]);
}

/** NLTK's `_count_chunks`: runs of matches adjacent in both hypothesis and reference. */
export function countChunks(matches: readonly Match[]): number {
  let chunks = 1;
  for (let i = 0; i < matches.length - 1; i++) {
    const adjacent =
      matches[i + 1][0] === matches[i][0] + 1 && matches[i + 1][1] === matches[i][1] + 1;
    if (!adjacent) chunks++;
  }
  return chunks;
}

function checkOptions(fn: string, options: MeteorOptions | undefined): void {
  if (!options || typeof options !== 'object' || !('wordnet' in options)) {
    throw new MetricError(
      fn,
      'options.wordnet is required (loadWordNet() from @statetune/eval/node, or null to skip synonyms)',
    );
  }
  // A NaN weight would turn every score into NaN without a word.
  for (const name of ['alpha', 'beta', 'gamma'] as const) {
    const v = options[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) {
      throw new MetricError(fn, `options.${name} must be a finite number, got ${describe(v)}`);
    }
  }
}

function checkTokens(fn: string, what: string, tokens: unknown): asserts tokens is string[] {
  if (typeof tokens === 'string') {
    throw new MetricError(fn, `${what} must be a list of tokens, not a string (split it first)`);
  }
  if (!Array.isArray(tokens)) throw new MetricError(fn, `${what} must be an array of tokens`);
  checkStrings(fn, what, tokens);
}

/**
 * METEOR of a tokenized hypothesis against one tokenized reference, as NLTK's
 * `single_meteor_score`: F-mean of unigram precision and recall weighted by `alpha`, times
 * `1 - gamma·(chunks/matches)^beta`. 0 when nothing matches or either side is empty.
 */
export function singleMeteorScore(
  reference: readonly string[],
  hypothesis: readonly string[],
  options: MeteorOptions,
): number {
  checkOptions('singleMeteorScore', options);
  checkTokens('singleMeteorScore', 'reference', reference);
  checkTokens('singleMeteorScore', 'hypothesis', hypothesis);
  const alpha = options.alpha ?? 0.9;
  const beta = options.beta ?? 3;
  const gamma = options.gamma ?? 0.5;
  const matches = alignWords(hypothesis, reference, options);
  const m = matches.length;
  // Where NLTK catches ZeroDivisionError and returns 0.
  if (m === 0 || hypothesis.length === 0 || reference.length === 0) return 0;
  const precision = m / hypothesis.length;
  const recall = m / reference.length;
  const denom = alpha * precision + (1 - alpha) * recall;
  if (denom === 0) return 0;
  const fmean = (precision * recall) / denom;
  const fragFrac = countChunks(matches) / m;
  const penalty = gamma * fragFrac ** beta;
  return (1 - penalty) * fmean;
}

/** NLTK's `meteor_score`: the best {@link singleMeteorScore} over several references. */
export function meteorScore(
  references: readonly (readonly string[])[],
  hypothesis: readonly string[],
  options: MeteorOptions,
): number {
  if (!Array.isArray(references) || references.length === 0) {
    throw new MetricError('meteorScore', 'needs at least one reference');
  }
  let best = Number.NEGATIVE_INFINITY;
  for (const r of references) best = Math.max(best, singleMeteorScore(r, hypothesis, options));
  return best;
}

/** Options of {@link meteor}: {@link MeteorOptions} plus the tokenizer. */
export interface CorpusMeteorOptions extends MeteorOptions {
  /**
   * Splits a string into tokens. Default {@link wordTokenize}, NLTK's `word_tokenize` as
   * `evaluate` uses it (its sentence splitter approximates Punkt).
   */
  tokenizer?: (text: string) => string[];
}

/**
 * METEOR as `evaluate`'s `meteor`: the mean over examples of {@link meteorScore} (the best
 * reference per example), each text tokenized with NLTK's `word_tokenize` as `evaluate`
 * does (see {@link wordTokenize}).
 *
 * @throws {@link MetricError} on mismatched or empty inputs.
 */
export function meteor(
  predictions: readonly string[],
  references: readonly (string | readonly string[])[],
  options: CorpusMeteorOptions,
): { meteor: number } {
  checkOptions('meteor', options);
  checkPairs('meteor', predictions, references);
  checkStrings('meteor', 'predictions', predictions);
  const refs = referenceLists('meteor', references);
  const tok = options.tokenizer ?? wordTokenize;
  let sum = 0;
  for (let i = 0; i < predictions.length; i++) {
    sum += meteorScore(refs[i].map(tok), tok(predictions[i]), options);
  }
  return { meteor: sum / predictions.length };
}
