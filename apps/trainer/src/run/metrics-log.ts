import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeTextAtomic } from '../util/fs.js';

/** One line of `metrics.jsonl`: a training log, an evaluation, or a run event. */
export type MetricsEvent =
  | {
      readonly type: 'train';
      readonly step: number;
      readonly epoch: number;
      readonly loss: number;
      readonly lr: number;
      readonly grad_norm: number | null;
      readonly tokens_per_second: number;
      readonly elapsed_seconds: number;
    }
  | {
      readonly type: 'eval';
      readonly step: number;
      readonly epoch: number;
      readonly split: string;
      readonly metrics: Readonly<Record<string, number>>;
      readonly seconds: number;
    }
  | {
      readonly type: 'event';
      readonly step: number;
      readonly event:
        | 'start'
        | 'resume'
        | 'checkpoint'
        | 'best'
        | 'interrupted'
        | 'diverged'
        | 'end';
      readonly detail?: string;
    };

/**
 * Appends one JSON object per line to a run's `metrics.jsonl`. A new run truncates the file;
 * a resumed run keeps only the lines up to the step it resumes from (lines written after
 * the checkpoint belong to steps that are done again).
 */
export class MetricsLog {
  private constructor(readonly path: string) {}

  /** Opens the log; `resumeStep` null starts it afresh. */
  static async open(path: string, resumeStep: number | null): Promise<MetricsLog> {
    await mkdir(dirname(path), { recursive: true });
    if (resumeStep === null) {
      await writeFile(path, '');
    } else {
      const text = await readFile(path, 'utf8').catch(() => '');
      const kept = text
        .split('\n')
        .filter((line) => {
          if (line.trim() === '') return false;
          try {
            const step = (JSON.parse(line) as { step?: unknown }).step;
            return typeof step === 'number' && step <= resumeStep;
          } catch {
            return false;
          }
        })
        .map((l) => `${l}\n`)
        .join('');
      // Atomically: an interruption here must not lose the lines of the steps already done.
      await writeTextAtomic(path, kept);
    }
    return new MetricsLog(path);
  }

  /** Appends one event, stamped with the wall-clock time. */
  async write(event: MetricsEvent): Promise<void> {
    await appendFile(
      this.path,
      `${JSON.stringify({ ...event, time: new Date().toISOString() })}\n`,
    );
  }
}

/** Reads a `metrics.jsonl` back (for reports and tests). */
export async function readMetricsLog(path: string): Promise<(MetricsEvent & { time: string })[]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}
