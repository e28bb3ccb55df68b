import { describe, MetricError, referenceLists } from '../errors.js';
import { type BleuResult, bleu } from '../metrics/bleu.js';
import { meteor, type SynonymSource } from '../metrics/meteor.js';
import { rouge } from '../metrics/rouge.js';
import { corpusBleu } from '../metrics/sacrebleu.js';
import { type BatchOptions, forEachBatch } from './batches.js';

/**
 * Decoding settings, passed through to the model unchanged. The paper decodes with beam 5,
 * `maxNewTokens` 1024 and a minimum length of 5 that counts the prompt (so it never acts).
 */
export interface GenerationOptions {
  /** Beams; 1 is greedy decoding. */
  numBeams?: number;
  /** Most tokens to generate after the prompt. */
  maxNewTokens?: number;
  /** Minimum total length as Hugging Face counts it (prompt included). */
  minLength?: number;
  /** End-of-sequence token id. */
  eosTokenId?: number;
  /** Beam-search length penalty exponent. */
  lengthPenalty?: number;
  /** Any further model-specific setting. */
  [key: string]: unknown;
}

/** A model seen from the generation loop. */
export interface GenerationModel {
  /**
   * Generates a continuation of each prompt and returns, per prompt, the generated token
   * ids after the prompt (not including it), in order.
   */
  generate(
    prompts: readonly (readonly number[])[],
    options: GenerationOptions,
  ): Promise<readonly (readonly number[])[]>;
}

/** One generation example. */
export interface GenerationExample {
  /** Prompt token ids (`prefix ⊕ input`, ending in the separator). */
  promptIds: readonly number[];
  /** One reference text or several. */
  references: string | readonly string[];
}

/**
 * The built-in metrics of the generation loop, by the names `@statetune/data` tasks declare
 * (those of Hugging Face `evaluate`): `bleu` and `meteor` (DART), `rouge1`, `rouge2`,
 * `rougeL`, `rougeLsum` (SAMSum), plus `rouge` for all four ROUGE types and `sacrebleu`.
 */
export type GenerationMetricName =
  | 'bleu'
  | 'meteor'
  | 'rouge'
  | 'rouge1'
  | 'rouge2'
  | 'rougeL'
  | 'rougeLsum'
  | 'sacrebleu';

/**
 * A metric of your own: `compute` gets the decoded predictions and the reference lists and
 * returns one number (reported under `name`) or an object whose numbers are reported under
 * their own keys (e.g. `{ execution_accuracy, exact_match }`); other values stay in
 * `details`.
 */
export interface CustomGenerationMetric {
  /** Key of its number in `metrics`, and of its whole result in `details`. */
  name: string;
  /** Scores the decoded predictions against their references (one list per example). */
  compute(
    predictions: string[],
    references: string[][],
  ): number | Readonly<Record<string, unknown>>;
}

/**
 * A metric of the generation loop: a built-in name or a custom scorer. The type takes any
 * string, so that a task's `metrics` (`readonly string[]`) passes as it is (`string & {}`
 * keeps the built-in names in autocompletion); names that are not built in are refused at
 * run time.
 */
export type GenerationMetric = GenerationMetricName | (string & {}) | CustomGenerationMetric;

const ROUGE_TYPES = ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'] as const;
const BUILT_IN: readonly string[] = ['bleu', 'meteor', 'rouge', ...ROUGE_TYPES, 'sacrebleu'];
// Names tasks declare that the generation loop cannot compute from text alone.
const SPIDER_METRICS: readonly string[] = ['execution_accuracy', 'exact_match'];

/** Options of {@link evaluateGeneration}. */
export interface EvaluateGenerationOptions extends BatchOptions {
  /** Turns generated token ids into text. */
  decode: (ids: readonly number[]) => string;
  /** Decoding settings, passed to `model.generate` as they are. */
  generation: GenerationOptions;
  /** Metrics to compute. */
  metrics: readonly GenerationMetric[];
  /** WordNet for `meteor` (from `loadWordNet()` in `@statetune/eval/node`). */
  wordnet?: SynonymSource;
  /** Tokenizer `meteor` splits with (default: NLTK's `word_tokenize`, as `evaluate`). */
  meteorTokenizer?: (text: string) => string[];
  /** Strip one trailing end-of-sequence token (default: `generation.eosTokenId`, if set). */
  stripEosTokenId?: number | null;
}

/** What {@link evaluateGeneration} returns. Serialisable as JSON. */
export interface GenerationResult {
  /** Examples evaluated. */
  total: number;
  /** The decoding settings used. */
  generation: GenerationOptions;
  /**
   * One number per score, under the names `@statetune/data` tasks declare, so
   * `result.metrics[name]` works for every name in `task.metrics`: `bleu` (0..1, as
   * `evaluate`), `meteor`, `rouge1`, `rouge2`, `rougeL`, `rougeLsum` (aggregated
   * F-measures), `sacrebleu` (0..100), and the numbers of custom metrics.
   */
  metrics: Record<string, number>;
  /**
   * Everything each requested metric returned, by the name it was requested under: `bleu`
   * is a {@link BleuResult}, `sacrebleu` the score with its signature, `rouge`/`rouge1`/...
   * the F-measure per type, custom metrics what `compute` returned.
   */
  details: Record<string, unknown>;
  /** Decoded predictions, one per example. */
  predictions: string[];
  /** Predictions that decoded to the empty string (kept and scored as empty). */
  emptyPredictions: number;
}

function checkMetrics(fn: string, options: EvaluateGenerationOptions): void {
  if (!Array.isArray(options.metrics) || options.metrics.length === 0) {
    throw new MetricError(fn, 'options.metrics must list at least one metric');
  }
  const names = new Set<string>();
  for (const m of options.metrics) {
    const name = typeof m === 'string' ? m : m?.name;
    if (typeof m === 'string') {
      if (SPIDER_METRICS.includes(m)) {
        throw new MetricError(
          fn,
          `${m} is a Spider metric: run evaluateSpider (@statetune/eval/node) on the predictions, or pass a custom metric`,
        );
      }
      if (!BUILT_IN.includes(m)) {
        throw new MetricError(
          fn,
          `unknown metric ${describe(m)}; expected ${BUILT_IN.join(', ')} or a custom metric object`,
        );
      }
      if (m === 'meteor' && !options.wordnet) {
        throw new MetricError(
          fn,
          'meteor needs options.wordnet (loadWordNet() from @statetune/eval/node)',
        );
      }
    } else if (
      !m ||
      typeof m !== 'object' ||
      typeof m.name !== 'string' ||
      typeof m.compute !== 'function'
    ) {
      throw new MetricError(
        fn,
        'a custom metric must be { name: string, compute(predictions, references) }',
      );
    } else if (BUILT_IN.includes(m.name)) {
      throw new MetricError(fn, `custom metric name ${describe(m.name)} is a built-in metric's`);
    }
    if (names.has(name)) throw new MetricError(fn, `metric ${describe(name)} is listed twice`);
    names.add(name);
  }
}

// Runs every requested metric once: ROUGE types share one pass.
function computeMetrics(
  fn: string,
  predictions: string[],
  references: string[][],
  options: EvaluateGenerationOptions,
): Pick<GenerationResult, 'metrics' | 'details'> {
  const metrics: Record<string, number> = {};
  const details: Record<string, unknown> = {};
  const put = (key: string, value: number) => {
    if (key in metrics) throw new MetricError(fn, `two metrics report ${describe(key)}`);
    metrics[key] = value;
  };
  const rougeTypes = ROUGE_TYPES.filter((t) =>
    options.metrics.some((m) => m === t || m === 'rouge'),
  );
  const rougeScores = rougeTypes.length > 0 ? rouge(predictions, references, { rougeTypes }) : {};
  for (const m of options.metrics) {
    if (typeof m !== 'string') {
      const value = m.compute(predictions, references);
      details[m.name] = value;
      if (typeof value === 'number') put(m.name, value);
      else if (value && typeof value === 'object') {
        // Numbers are scores; anything else (a signature, a list) stays in `details`.
        for (const [k, v] of Object.entries(value)) if (typeof v === 'number') put(k, v);
      } else {
        throw new MetricError(fn, `custom metric ${describe(m.name)} returned ${describe(value)}`);
      }
    } else if (m === 'bleu') {
      const b = bleu(predictions, references);
      details.bleu = b;
      put('bleu', b.bleu);
    } else if (m === 'meteor') {
      const value = meteor(predictions, references, {
        wordnet: options.wordnet!,
        ...(options.meteorTokenizer ? { tokenizer: options.meteorTokenizer } : {}),
      });
      details.meteor = value;
      put('meteor', value.meteor);
    } else if (m === 'sacrebleu') {
      // sacreBLEU takes reference streams; an empty string marks a missing reference.
      const nrefs = Math.max(...references.map((r) => r.length));
      const streams = Array.from({ length: nrefs }, (_, k) => references.map((r) => r[k] ?? ''));
      const s = corpusBleu(predictions, streams);
      details.sacrebleu = {
        score: s.score,
        precisions: s.precisions,
        bp: s.bp,
        sys_len: s.sys_len,
        ref_len: s.ref_len,
        signature: s.signature,
      };
      put('sacrebleu', s.score);
    } else {
      const types = m === 'rouge' ? ROUGE_TYPES : [m];
      details[m] = Object.fromEntries(types.map((t) => [t, rougeScores[t]]));
      for (const t of types) if (!(t in metrics)) put(t, rougeScores[t]);
    }
  }
  return { metrics, details };
}

/**
 * Generation-based evaluation: generate for every prompt with the given decoding
 * settings, strip one trailing EOS (as the paper's code), decode, and score with each
 * metric (`bleu` and `meteor` as `evaluate`, the ROUGE types as `evaluate`'s `rouge` with its
 * bootstrap aggregate, `sacrebleu` as `sacrebleu.corpus_bleu`). Metric names are those
 * `@statetune/data` tasks declare, so `task.metrics` can be passed as it is for DART and
 * SAMSum, and `result.metrics[name]` read back; Spider's come from `evaluateSpider`.
 *
 * @throws {@link MetricError} on no examples, a missing WordNet for `meteor`, an unknown,
 * duplicated or Spider metric name, or when the model returns the wrong number of
 * sequences.
 */
export async function evaluateGeneration(
  model: GenerationModel,
  examples: readonly GenerationExample[],
  options: EvaluateGenerationOptions,
): Promise<GenerationResult> {
  const fn = 'evaluateGeneration';
  if (!model || typeof model.generate !== 'function') {
    throw new MetricError(fn, 'model must have a generate(prompts, options) method');
  }
  if (!options || typeof options.decode !== 'function') {
    throw new MetricError(fn, 'options.decode must be a function from token ids to text');
  }
  if (!options.generation || typeof options.generation !== 'object') {
    throw new MetricError(fn, 'options.generation must be an object of decoding settings');
  }
  checkMetrics(fn, options);
  if (!Array.isArray(examples) || examples.length === 0) {
    throw new MetricError(fn, 'no examples to evaluate');
  }
  const references = referenceLists(
    fn,
    examples.map((e) => e?.references),
  );
  const eos =
    options.stripEosTokenId === undefined ? options.generation.eosTokenId : options.stripEosTokenId;
  const predictions: string[] = [];
  await forEachBatch(
    fn,
    examples,
    options,
    ['model.generate', 'sequences'],
    (prompts) => model.generate(prompts, options.generation),
    (ids, i) => {
      if (!Array.isArray(ids) && !ArrayBuffer.isView(ids)) {
        throw new MetricError(fn, `model.generate returned no token list for example ${i}`);
      }
      const trimmed =
        eos != null && ids.length > 0 && ids[ids.length - 1] === eos ? ids.slice(0, -1) : ids;
      const text = options.decode(trimmed);
      if (typeof text !== 'string') {
        throw new MetricError(
          fn,
          `options.decode returned ${describe(text)} for example ${i}; it must return a string`,
        );
      }
      predictions.push(text);
    },
  );
  const { metrics, details } = computeMetrics(fn, predictions, references, options);
  return {
    total: examples.length,
    generation: options.generation,
    metrics,
    details,
    predictions,
    emptyPredictions: predictions.filter((p) => p.length === 0).length,
  };
}
