import { DataError } from '../errors.js';
import { unprefixedGenerationExample } from './format.js';
import type { FormattedExample, TaskDefinition } from './types.js';

/** A SAMSum example: a chat dialogue and its summary. */
export interface SamsumExample {
  /** The `id` field, else the position in the file, as a string. */
  readonly id: string;
  /** The chat, one `Speaker: text` line per turn (line breaks kept as they are, often `\r\n`). */
  readonly dialogue: string;
  /** The reference summary. */
  readonly summary: string;
}

/**
 * A SAMSum example from a JSON/JSONL/parquet record (`id`, `dialogue`, `summary`). Its id is
 * `id`, else `fallbackId`; `source` and `line` (when known) name it in errors.
 */
export function samsumExampleFromRecord(
  record: Readonly<Record<string, unknown>>,
  fallbackId: string,
  source: string,
  line?: number,
): SamsumExample {
  const id = record.id !== undefined ? String(record.id) : fallbackId;
  for (const key of ['dialogue', 'summary']) {
    if (typeof record[key] !== 'string') {
      throw new DataError(source, `"${key}" must be a string`, { line, example: id });
    }
  }
  return { id, dialogue: record.dialogue as string, summary: record.summary as string };
}

/**
 * SAMSum as the paper's code formats it: no prompt; input `dialogue + "###"`; label
 * `summary + "<|endoftext|>"`. Evaluated by generation with ROUGE (the paper on the test split).
 */
export function samsumTask(): TaskDefinition<SamsumExample> {
  return {
    name: 'samsum',
    kind: 'generation',
    evalMode: 'generate',
    metrics: ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'],
    format(ex: SamsumExample): FormattedExample[] {
      return [unprefixedGenerationExample(ex.id, ex.dialogue, ex.summary)];
    },
  };
}
