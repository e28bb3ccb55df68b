import { DataError } from '../errors.js';
import { SEPARATOR } from './format.js';
import type { FormattedExample, TaskDefinition } from './types.js';

/** The GLUE tasks of the paper. */
export type GlueTaskName = 'cola' | 'sst2' | 'mrpc' | 'rte' | 'qnli' | 'qqp' | 'mnli';

/** Every {@link GlueTaskName}. */
export const GLUE_TASKS: readonly GlueTaskName[] = [
  'cola',
  'sst2',
  'mrpc',
  'rte',
  'qnli',
  'qqp',
  'mnli',
];

/** The instruction prompts (from promptbench), exactly as the paper's code has them. */
export const GLUE_PROMPTS: Readonly<Record<GlueTaskName, string>> = {
  rte: "Determine if the given pair of sentences displays entailment or not_entailment. Respond with '0' if entailment or '1' if not_entailment: ",
  cola: "Review the sentence below and identify whether its grammar is Unacceptable or Acceptable. Respond with '0' if Unacceptable or '1' if Acceptable: ",
  mrpc: "Can the given sentences be considered semantically identical? Respond with '0' if not_equivalent or '1' if equivalent: ",
  sst2: "Read the provided excerpt and choose between negative and positive to describe its sentiment. Respond with '0' if negative or '1' if positive: ",
  qnli: "Consider the context and question, and indicate if the answer can be logically deduced from the context. Respond with '0' if entailment or '1' if not_entailment: ",
  qqp: "Can these two statements be considered equal in meaning? Respond with '0' if not_equivalent or '1' if equivalent: ",
  mnli: "Assess the connection between the following sentences and classify it as entailment, neutral, or contradiction. Respond with '0' if entailment, '1' if neutral or '2' if contradiction: ",
};

/**
 * A GLUE example as Hugging Face's `nyu-mll/glue` has it: one or two texts (the task's own
 * field names: `sentence`, `sentence1`/`sentence2`, `question`/`sentence`,
 * `question1`/`question2`, `premise`/`hypothesis`) and an integer label.
 */
export interface GlueExample {
  /** Position in the split (`idx`), as a string. */
  readonly id: string;
  /** First (or only) text: `sentence`, `sentence1`, `question`, `question1` or `premise`. */
  readonly text1: string;
  /** Second text of pair tasks; undefined for CoLA and SST-2. */
  readonly text2?: string;
  /** Class index (0..numClasses-1). */
  readonly label: number;
}

interface GlueSpec {
  /** Hugging Face field names of the text(s). */
  readonly keys: readonly [string, string | undefined];
  /** Class names in label order, as GLUE's TSV files spell them (when not digits). */
  readonly classes: readonly string[];
  readonly metrics: readonly string[];
  /** TSV layout of the GLUE distribution: text columns and label column. */
  readonly tsv: { readonly text: readonly [string, string | undefined]; readonly label: string };
}

const SPECS: Readonly<Record<GlueTaskName, GlueSpec>> = {
  cola: {
    keys: ['sentence', undefined],
    classes: ['unacceptable', 'acceptable'],
    metrics: ['matthews_correlation'],
    tsv: { text: ['sentence', undefined], label: 'label' },
  },
  sst2: {
    keys: ['sentence', undefined],
    classes: ['negative', 'positive'],
    metrics: ['accuracy'],
    tsv: { text: ['sentence', undefined], label: 'label' },
  },
  mrpc: {
    keys: ['sentence1', 'sentence2'],
    classes: ['not_equivalent', 'equivalent'],
    metrics: ['accuracy', 'f1'],
    tsv: { text: ['#1 String', '#2 String'], label: 'Quality' },
  },
  rte: {
    keys: ['sentence1', 'sentence2'],
    classes: ['entailment', 'not_entailment'],
    metrics: ['accuracy'],
    tsv: { text: ['sentence1', 'sentence2'], label: 'label' },
  },
  qnli: {
    keys: ['question', 'sentence'],
    classes: ['entailment', 'not_entailment'],
    metrics: ['accuracy'],
    tsv: { text: ['question', 'sentence'], label: 'label' },
  },
  qqp: {
    keys: ['question1', 'question2'],
    classes: ['not_duplicate', 'duplicate'],
    metrics: ['accuracy', 'f1'],
    tsv: { text: ['question1', 'question2'], label: 'is_duplicate' },
  },
  mnli: {
    keys: ['premise', 'hypothesis'],
    classes: ['entailment', 'neutral', 'contradiction'],
    metrics: ['accuracy'],
    tsv: { text: ['sentence1', 'sentence2'], label: 'gold_label' },
  },
};

/** Column names of CoLA's train/dev TSV files, which have no header. */
export const COLA_TSV_COLUMNS: readonly string[] = ['source', 'label', 'annotation', 'sentence'];

/**
 * The files of a GLUE split in the GLUE distribution (`download_glue_data` layout): `train`
 * is `train.tsv`; `validation` is `dev.tsv`, for MNLI `dev_matched.tsv` then
 * `dev_mismatched.tsv` (the paper evaluates on both, concatenated).
 */
export function glueSplitFiles(task: GlueTaskName, split: 'train' | 'validation'): string[] {
  if (split === 'train') return ['train.tsv'];
  return task === 'mnli' ? ['dev_matched.tsv', 'dev_mismatched.tsv'] : ['dev.tsv'];
}

/** The GLUE folder name of a task in the GLUE distribution (`CoLA`, `SST-2`, ...). */
export function glueFolderName(task: GlueTaskName): string {
  return {
    cola: 'CoLA',
    sst2: 'SST-2',
    mrpc: 'MRPC',
    rte: 'RTE',
    qnli: 'QNLI',
    qqp: 'QQP',
    mnli: 'MNLI',
  }[task];
}

function parseLabel(
  task: GlueTaskName,
  raw: unknown,
  source: string,
  where: { line?: number; example?: string },
): number {
  const spec = SPECS[task];
  if (typeof raw === 'string') {
    const byName = spec.classes.indexOf(raw);
    if (byName >= 0) return byName;
    if (/^\d+$/.test(raw)) raw = Number(raw);
  }
  if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 0 && raw < spec.classes.length) {
    return raw;
  }
  throw new DataError(
    source,
    `${task}: label ${JSON.stringify(raw)} is not one of ${spec.classes
      .map((c, i) => `${i}/${c}`)
      .join(', ')}${raw === -1 ? ' (-1 marks an unlabelled test example)' : ''}`,
    where,
  );
}

/**
 * A GLUE example from a row of the GLUE distribution's TSV files (fields by column name;
 * CoLA's headerless files with {@link COLA_TSV_COLUMNS}). Labels are read as HF's loader
 * reads them: class names (`entailment`) or digits.
 */
export function glueExampleFromTsv(
  task: GlueTaskName,
  fields: Readonly<Record<string, string>>,
  id: string,
  source: string,
  line?: number,
): GlueExample {
  const spec = SPECS[task];
  const get = (col: string): string => {
    const v = fields[col];
    if (v === undefined) {
      throw new DataError(source, `${task}: no column ${JSON.stringify(col)} in this file`, {
        line,
      });
    }
    return v;
  };
  const [c1, c2] = spec.tsv.text;
  const label = parseLabel(task, get(spec.tsv.label), source, { line });
  return c2 === undefined
    ? { id, text1: get(c1), label }
    : { id, text1: get(c1), text2: get(c2), label };
}

/**
 * A GLUE example from a Hugging Face `nyu-mll/glue` record (parquet or JSON export), with the
 * task's field names and an integer `label`. Its id is `idx`, else `fallbackId`; `source` and
 * `line` (when known) name it in errors.
 */
export function glueExampleFromRecord(
  task: GlueTaskName,
  record: Readonly<Record<string, unknown>>,
  fallbackId: string,
  source: string,
  line?: number,
): GlueExample {
  const spec = SPECS[task];
  const id = record.idx !== undefined ? String(record.idx) : fallbackId;
  const text = (key: string): string => {
    const v = record[key];
    if (typeof v !== 'string') {
      throw new DataError(source, `${task}: field ${JSON.stringify(key)} must be a string`, {
        line,
        example: id,
      });
    }
    return v;
  };
  const [k1, k2] = spec.keys;
  const label = parseLabel(task, record.label, source, { line, example: id });
  return k2 === undefined
    ? { id, text1: text(k1), label }
    : { id, text1: text(k1), text2: text(k2), label };
}

/**
 * A GLUE task as the paper's code formats it (PAPER §5.2):
 *
 * - prefix: none (`''`),
 * - input: `prompt + text1 + "###"`, or `prompt + text1 + "###" + text2 + "###"` for pair
 *   tasks, where `prompt` is the task's instruction ({@link GLUE_PROMPTS}); the prompt is part
 *   of the input string and is tokenized together with the sentences,
 * - label: the class index as one digit (`"0"`, `"1"`, `"2"`; GPT-NeoX ids 17, 18, 19), no EOS.
 *
 * Evaluation is teacher-forced on the validation split (MNLI: matched + mismatched).
 */
export function glueTask(name: GlueTaskName): TaskDefinition<GlueExample> {
  const spec = SPECS[name];
  if (!spec) throw new RangeError(`glueTask: unknown GLUE task ${JSON.stringify(name)}`);
  const prompt = GLUE_PROMPTS[name];
  const pair = spec.keys[1] !== undefined;
  return {
    name,
    kind: 'classification',
    evalMode: 'teacher-forced',
    metrics: spec.metrics,
    labelSet: spec.classes.map((_, i) => String(i)),
    format(ex: GlueExample): FormattedExample[] {
      if (pair && ex.text2 === undefined) {
        throw new DataError(name, 'a pair task needs text2', { example: ex.id });
      }
      if (!Number.isInteger(ex.label) || ex.label < 0 || ex.label >= spec.classes.length) {
        throw new DataError(
          name,
          `label ${ex.label} is not a class index 0..${spec.classes.length - 1}`,
          { example: ex.id },
        );
      }
      const sentences = pair ? ex.text1 + SEPARATOR + ex.text2 + SEPARATOR : ex.text1 + SEPARATOR;
      const label = String(ex.label);
      return [
        {
          id: ex.id,
          prefix: '',
          input: prompt + sentences,
          label,
          references: [label],
          classLabel: ex.label,
        },
      ];
    },
  };
}

/** Class names of a GLUE task in label order (`['entailment', 'not_entailment']`). */
export function glueClassNames(task: GlueTaskName): readonly string[] {
  return SPECS[task].classes;
}
