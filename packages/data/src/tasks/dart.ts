import { DataError } from '../errors.js';
import { EOS, SEPARATOR } from './format.js';
import type { FormattedExample, SplitRole, TaskDefinition } from './types.js';

/** One reference sentence of a DART triple set. */
export interface DartAnnotation {
  /** Where the reference came from (`WikiSQL_decl_sents`, `e2e`, ...); `''` when unknown. */
  readonly source: string;
  /** The reference sentence. */
  readonly text: string;
}

/** A DART example: a set of (subject, predicate, object) triples and its reference texts. */
export interface DartExample {
  /** The `id` field, else the position in the file, as a string. */
  readonly id: string;
  /** `[subject, predicate, object]` triples. */
  readonly tripleset: readonly (readonly string[])[];
  /** The reference texts, in file order. */
  readonly annotations: readonly DartAnnotation[];
}

/** The DART prompt prefix of the paper's code. */
export const DART_PREFIX = 'Generate text for the following RDF triples:\n';

/** `s : p : o` per triple, joined with ` | ` (the paper's linearisation). */
export function linearizeTriples(tripleset: readonly (readonly string[])[]): string {
  return tripleset.map((t) => t.join(' : ')).join(' | ');
}

/**
 * A DART example from a record of the official JSON (`annotations: [{source, text}]`) or of
 * Hugging Face's `dart` export (`annotations: {source: [...], text: [...]}`). Its id is `id`,
 * else `fallbackId`; `source` and `line` (when known) name it in errors.
 */
export function dartExampleFromRecord(
  record: Readonly<Record<string, unknown>>,
  fallbackId: string,
  source: string,
  line?: number,
): DartExample {
  const id =
    typeof record.id === 'string' || typeof record.id === 'number' ? String(record.id) : fallbackId;
  const fail = (m: string): never => {
    throw new DataError(source, m, { line, example: id });
  };
  const ts = record.tripleset;
  if (!Array.isArray(ts)) fail('"tripleset" must be an array of [subject, predicate, object]');
  const tripleset = (ts as unknown[]).map((t, i) => {
    if (!Array.isArray(t) || !t.every((x) => typeof x === 'string')) {
      fail(`triple ${i} must be an array of strings`);
    }
    return t as string[];
  });
  const ann = record.annotations;
  let annotations: DartAnnotation[] = [];
  if (Array.isArray(ann)) {
    annotations = ann.map((a, i) => {
      const o = a as { source?: unknown; text?: unknown };
      if (!o || typeof o.text !== 'string') fail(`annotation ${i} has no "text" string`);
      return { source: typeof o.source === 'string' ? o.source : '', text: o.text as string };
    });
  } else if (ann && typeof ann === 'object') {
    const o = ann as { source?: unknown; text?: unknown };
    if (!Array.isArray(o.text)) fail('"annotations.text" must be an array of strings');
    const texts = o.text as unknown[];
    const sources = Array.isArray(o.source) ? (o.source as unknown[]) : [];
    annotations = texts.map((t, i) => {
      if (typeof t !== 'string') fail(`annotation ${i} text must be a string`);
      return { source: String(sources[i] ?? ''), text: t as string };
    });
  } else {
    fail('"annotations" is missing');
  }
  return { id, tripleset, annotations };
}

/**
 * DART as the paper's code formats it: prefix {@link DART_PREFIX}; input: the linearised
 * triples + `###`; training: one example per reference, label = text + `<|endoftext|>`;
 * evaluation: one example per triple set whose label is every reference joined with `###`
 * + EOS (split back at scoring), references kept. Metrics: BLEU and METEOR.
 */
export function dartTask(): TaskDefinition<DartExample> {
  return {
    name: 'dart',
    kind: 'generation',
    evalMode: 'generate',
    metrics: ['bleu', 'meteor'],
    format(ex: DartExample, role: SplitRole): FormattedExample[] {
      const input = linearizeTriples(ex.tripleset) + SEPARATOR;
      const texts = ex.annotations.map((a) => a.text);
      if (role === 'train') {
        return texts.map((text, k) => ({
          id: `${ex.id}#${k}`,
          prefix: DART_PREFIX,
          input,
          label: text + EOS,
          references: [text],
        }));
      }
      if (texts.length === 0) return [];
      if (texts.some((t) => t.includes(SEPARATOR))) {
        throw new DataError('dart', `a reference contains the separator ${SEPARATOR}`, {
          example: ex.id,
        });
      }
      return [
        {
          id: ex.id,
          prefix: DART_PREFIX,
          input,
          label: texts.join(SEPARATOR) + EOS,
          references: texts,
        },
      ];
    },
  };
}
