import { decodeForEvaluation } from '../tokenizer/common.js';
import type { TextTokenizer } from '../tokenizer/types.js';
import { EOS, SEPARATOR } from './format.js';
import type { FormattedExample, SplitRole, TaskDefinition } from './types.js';

/** The label value ignored by the loss (PyTorch's `ignore_index`). */
export const IGNORE_INDEX = -100;

/**
 * A training ("lm") example: `ids = prefix ⊕ input ⊕ label`; the model reads `ids[:-1]`
 * and `labels[j]` is the target for position j: `ids[j+1]` on label tokens, -100 elsewhere,
 * so the loss falls on the label only.
 */
export interface LmExample {
  /** The formatted example's id. */
  readonly id: string;
  /** `ids[:-1]`: what the model reads. */
  readonly inputIds: Int32Array;
  /** `[-100]·(len(ids)−1−len(label)) ⊕ label`, as long as {@link inputIds}. */
  readonly labels: Int32Array;
}

/** A generation ("gen") example: the prompt `prefix ⊕ input` and the label ids (with EOS). */
export interface GenExample {
  /** The formatted example's id. */
  readonly id: string;
  /** `prefix ⊕ input`, ending in the `###` separator. */
  readonly promptIds: Int32Array;
  /** The label's ids, EOS included. */
  readonly labelIds: Int32Array;
  /**
   * The references as the paper's evaluation has them: the label ids decoded with one
   * trailing EOS removed (special tokens kept, the tokenizer's default clean-up of
   * tokenisation spaces), then, for an example with several references (DART), split at
   * `###`. With GPT-NeoX they can differ from the raw texts in {@link FormattedExample}
   * (`"a ."` -> `"a."`).
   */
  readonly references: readonly string[];
  /** Extra data a metric needs (Spider: `db_id`). */
  readonly meta?: Readonly<Record<string, string>>;
}

/** Token ids of the three parts of an example. */
export interface ExampleTokens {
  readonly prefix: readonly number[];
  readonly input: readonly number[];
  readonly label: readonly number[];
}

/**
 * Builds the training sequence from separately tokenized parts (see {@link LmExample}).
 * With no prompt tokens, the first label token is not predicted (nothing precedes it).
 */
export function buildLmExample(id: string, parts: ExampleTokens): LmExample {
  const total = parts.prefix.length + parts.input.length + parts.label.length;
  if (parts.label.length === 0) throw new RangeError(`example ${id}: the label has no tokens`);
  if (total < 2) throw new RangeError(`example ${id}: needs at least 2 tokens, got ${total}`);
  const ids = new Int32Array(total);
  ids.set(parts.prefix, 0);
  ids.set(parts.input, parts.prefix.length);
  ids.set(parts.label, parts.prefix.length + parts.input.length);
  const n = total - 1;
  const inputIds = ids.slice(0, n);
  const labels = new Int32Array(n).fill(IGNORE_INDEX);
  const firstLabel = n - parts.label.length;
  for (let j = Math.max(firstLabel, 0); j < n; j++) labels[j] = ids[j + 1];
  return { id, inputIds, labels };
}

/** A generation example from a formatted example's token ids (see {@link GenExample}). */
function buildGenExample(
  tokenizer: TextTokenizer,
  ex: FormattedExample,
  parts: ExampleTokens,
): GenExample {
  const promptIds = new Int32Array(parts.prefix.length + parts.input.length);
  promptIds.set(parts.prefix, 0);
  promptIds.set(parts.input, parts.prefix.length);
  const decoded = decodeForEvaluation(tokenizer, parts.label);
  return {
    id: ex.id,
    promptIds,
    labelIds: Int32Array.from(parts.label),
    references: ex.references.length > 1 ? decoded.split(SEPARATOR) : [decoded],
    ...(ex.meta ? { meta: ex.meta } : {}),
  };
}

/**
 * The label's ids: the label string tokenized, as the paper does. With a tokenizer whose EOS
 * is not `<|endoftext|>`, a label ending in `<|endoftext|>` ends in that tokenizer's EOS id
 * instead of the characters of `<|endoftext|>`.
 */
function encodeLabel(tokenizer: TextTokenizer, label: string): number[] {
  if (tokenizer.eosToken === EOS || !label.endsWith(EOS)) return tokenizer.encode(label);
  const ids = tokenizer.encode(label.slice(0, -EOS.length));
  ids.push(tokenizer.eosTokenId);
  return ids;
}

/** Options of {@link prepareSplit}. */
export interface TokenizeTaskOptions {
  /** Format for training or evaluation. */
  readonly role: SplitRole;
}

/** Tokenized examples of a split, with what the task's filter dropped. */
export interface TokenizedSplit<E> {
  readonly examples: E[];
  /** Ids of examples dropped by the task's token filter ({@link TaskDefinition.maxTokens}). */
  readonly dropped: string[];
}

/** Tokenizes the parts of formatted examples, caching the prefix (shared by a task). */
function tokenizeParts(
  tokenizer: TextTokenizer,
  examples: readonly FormattedExample[],
  maxTokens: number | undefined,
  each: (ex: FormattedExample, parts: ExampleTokens) => void,
): string[] {
  const prefixCache = new Map<string, number[]>();
  const dropped: string[] = [];
  for (const ex of examples) {
    let prefix = prefixCache.get(ex.prefix);
    if (prefix === undefined) {
      prefix = tokenizer.encode(ex.prefix);
      prefixCache.set(ex.prefix, prefix);
    }
    const input = tokenizer.encode(ex.input);
    const label = encodeLabel(tokenizer, ex.label);
    if (maxTokens !== undefined && input.length + label.length > maxTokens) {
      dropped.push(ex.id);
      continue;
    }
    each(ex, { prefix, input, label });
  }
  return dropped;
}

/**
 * Training sequences of formatted examples: prefix, input and label tokenized separately
 * (three calls, no BOS), concatenated, shifted, and masked with -100 outside the label. The
 * task's token filter applies.
 */
export function tokenizeForLm(
  tokenizer: TextTokenizer,
  examples: readonly FormattedExample[],
  options: { maxTokens?: number } = {},
): TokenizedSplit<LmExample> {
  const out: LmExample[] = [];
  const dropped = tokenizeParts(tokenizer, examples, options.maxTokens, (ex, parts) => {
    out.push(buildLmExample(ex.id, parts));
  });
  return { examples: out, dropped };
}

/** Generation prompts (`prefix ⊕ input`) and label ids of formatted examples. */
export function tokenizeForGeneration(
  tokenizer: TextTokenizer,
  examples: readonly FormattedExample[],
  options: { maxTokens?: number } = {},
): TokenizedSplit<GenExample> {
  const out: GenExample[] = [];
  const dropped = tokenizeParts(tokenizer, examples, options.maxTokens, (ex, parts) => {
    out.push(buildGenExample(tokenizer, ex, parts));
  });
  return { examples: out, dropped };
}

/** Formats raw examples for a role (flattening: DART's training side has one per reference). */
export function formatExamples<R>(
  task: TaskDefinition<R>,
  raw: Iterable<R>,
  role: SplitRole,
): FormattedExample[] {
  const out: FormattedExample[] = [];
  for (const r of raw) for (const ex of task.format(r, role)) out.push(ex);
  return out;
}

/** Everything about one split of a task: raw, formatted and tokenized examples. */
export interface PreparedSplit<R> {
  readonly task: TaskDefinition<R>;
  readonly role: SplitRole;
  readonly raw: readonly R[];
  /** Formatted examples that passed the task's filter. */
  readonly formatted: readonly FormattedExample[];
  /** Training sequences (teacher-forced evaluation uses these too). */
  readonly lm: readonly LmExample[];
  /** Generation prompts; empty for tasks evaluated teacher-forced. */
  readonly gen: readonly GenExample[];
  /** Ids dropped by the task's token filter. */
  readonly dropped: readonly string[];
}

/**
 * Formats and tokenizes a split of a task in one call. Training and teacher-forced
 * evaluation use `lm`; generation tasks on the eval role also get `gen` (with the
 * references). Each part is tokenized once and shared by both.
 */
export function prepareSplit<R>(
  task: TaskDefinition<R>,
  raw: readonly R[],
  tokenizer: TextTokenizer,
  options: TokenizeTaskOptions,
): PreparedSplit<R> {
  const all = formatExamples(task, raw, options.role);
  const wantGen = options.role === 'eval' && task.evalMode === 'generate';
  const formatted: FormattedExample[] = [];
  const lm: LmExample[] = [];
  const gen: GenExample[] = [];
  const dropped = tokenizeParts(tokenizer, all, task.maxTokens, (ex, parts) => {
    formatted.push(ex);
    lm.push(buildLmExample(ex.id, parts));
    if (wantGen) gen.push(buildGenExample(tokenizer, ex, parts));
  });
  return { task, role: options.role, raw, formatted, lm, gen, dropped };
}

/**
 * The token id of each class label of a classification task (GLUE: `"0" "1" "2"` -> 17, 18,
 * 19 with GPT-NeoX), for mapping an argmax over the vocabulary back to a class. Throws when a
 * label is not exactly one token.
 */
export function labelTokenIds(task: TaskDefinition<unknown>, tokenizer: TextTokenizer): number[] {
  if (!task.labelSet) throw new RangeError(`labelTokenIds: task ${task.name} has no label set`);
  return task.labelSet.map((label) => {
    const ids = tokenizer.encode(label);
    if (ids.length !== 1) {
      throw new RangeError(
        `labelTokenIds: label ${JSON.stringify(label)} of ${task.name} is ${ids.length} tokens, not 1`,
      );
    }
    return ids[0];
  });
}
