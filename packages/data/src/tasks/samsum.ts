import { DataError } from '../errors.js';
import { EOS, SEPARATOR } from './glue.js';
import type { FormattedExample, TaskDefinition } from './types.js';

/** A SAMSum example: a chat dialogue and its summary. */
export interface SamsumExample {
  readonly id: string;
  readonly dialogue: string;
  readonly summary: string;
}

/** A SAMSum example from a JSON/JSONL/parquet record (`id`, `dialogue`, `summary`). */
export function samsumExampleFromRecord(
  record: Readonly<Record<string, unknown>>,
  fallbackId: string,
  source: string,
): SamsumExample {
  const id = record.id !== undefined ? String(record.id) : fallbackId;
  for (const key of ['dialogue', 'summary']) {
    if (typeof record[key] !== 'string') {
      throw new DataError(source, `"${key}" must be a string`, { example: id });
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
      return [
        {
          id: ex.id,
          prefix: '',
          input: ex.dialogue + SEPARATOR,
          label: ex.summary + EOS,
          references: [ex.summary],
        },
      ];
    },
  };
}
