import type { GenExample } from './tokenize.js';

/**
 * Which side of a task an example is formatted for. `'train'`: what the loss is computed on
 * (DART: one example per reference). `'eval'`: what is evaluated (DART: one example per
 * triple set, all references kept).
 */
export type SplitRole = 'train' | 'eval';

/**
 * An example as strings, exactly as the paper's code builds them. The three parts are
 * tokenized separately and concatenated (so BPE never merges across them):
 * `prefix ⊕ input ⊕ label`.
 */
export interface FormattedExample {
  /** Stable id of the raw example (for a DART reference: `<id>#<k>`). */
  readonly id: string;
  /** Task prompt tokenized on its own (DART, Spider); `''` when there is none (GLUE, SAMSum). */
  readonly prefix: string;
  /** The example's input, ending with the `###` separator (GLUE: the prompt, then the sentences). */
  readonly input: string;
  /** The target text: a class digit (GLUE), or text + `<|endoftext|>` (generation tasks). */
  readonly label: string;
  /**
   * The raw reference texts, without EOS (a classification example has its label). The
   * references a generation evaluation scores against are {@link GenExample}'s, decoded from
   * the label as the paper does.
   */
  readonly references: readonly string[];
  /** Class index for classification tasks. */
  readonly classLabel?: number;
  /** Extra data a metric needs (Spider: `db_id`). */
  readonly meta?: Readonly<Record<string, string>>;
}

/** How a task is evaluated in the paper. */
export type EvalMode =
  /** Teacher-forced: argmax over the vocabulary at the label position (GLUE). */
  | 'teacher-forced'
  /** Generation from `prefix ⊕ input` (beam 5, up to 1024 new tokens), scored against references. */
  | 'generate';

/**
 * A task: how raw examples of type `R` become {@link FormattedExample}s, plus what evaluation
 * needs (label set, metric names). Metric names are those of Hugging Face `evaluate` as the
 * paper reports them; `@statetune/eval` implements them.
 */
export interface TaskDefinition<R> {
  /** Short name: `rte`, `mnli`, `dart`, `samsum`, `spider`, `copy`, ... */
  readonly name: string;
  /** `classification` (one label token) or `generation` (text + EOS). */
  readonly kind: 'classification' | 'generation';
  /** How the paper evaluates it. */
  readonly evalMode: EvalMode;
  /** Metric names, most important first (e.g. `['matthews_correlation']`, `['bleu', 'meteor']`). */
  readonly metrics: readonly string[];
  /** Class label strings for classification (`['0', '1']`); each is one token. */
  readonly labelSet?: readonly string[];
  /**
   * Drop examples whose `input` + `label` tokens (the prefix not counted) exceed this, on
   * every split, as the official code does (Spider: 1536).
   */
  readonly maxTokens?: number;
  /** The raw example's strings, formatted for `role` (one raw example may give several). */
  format(example: R, role: SplitRole): FormattedExample[];
}
