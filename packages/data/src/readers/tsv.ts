import { DataError } from '../errors.js';
import type { Line } from './lines.js';

/** What to do with a line whose number of fields differs from the header's. */
export type MalformedPolicy = 'error' | 'skip';

/** Options of {@link parseTsv}. */
export interface TsvOptions {
  /** Name of the input for error messages (the file name). */
  readonly source: string;
  /**
   * Column names. `true` (default): the first line is the header. An array: the file has no
   * header and these are the names (CoLA's files: `['source', 'label', 'annotation',
   * 'sentence']`).
   */
  readonly header?: true | readonly string[];
  /**
   * A line with a different number of fields: `'error'` (default) throws a {@link DataError}
   * naming the file and line; `'skip'` leaves it out and counts it in `stats.skipped`.
   */
  readonly malformed?: MalformedPolicy;
  /** Counters filled while reading. */
  readonly stats?: { skipped: number; skippedLines: number[] };
}

/** A TSV row: column name to field text, plus the line it came from. */
export interface TsvRow {
  readonly fields: Readonly<Record<string, string>>;
  readonly line: number;
}

/**
 * Parses tab-separated lines the way GLUE's own loaders read their files (Python `csv` with
 * `quoting=QUOTE_NONE`): fields are split at every tab, quotes are ordinary characters
 * (`" the witness "` stays as it is), nothing is unescaped, and blank lines are skipped.
 */
export async function* parseTsv(
  lines: AsyncIterable<Line> | Iterable<Line>,
  options: TsvOptions,
): AsyncGenerator<TsvRow> {
  let names: readonly string[] | undefined = Array.isArray(options.header)
    ? options.header
    : undefined;
  const policy = options.malformed ?? 'error';
  for await (const { text, line } of lines) {
    if (text.length === 0) continue;
    const parts = text.split('\t');
    if (names === undefined) {
      const seen = new Set<string>();
      for (const p of parts) {
        if (seen.has(p)) {
          throw new DataError(options.source, `header repeats the column ${JSON.stringify(p)}`, {
            line,
          });
        }
        seen.add(p);
      }
      names = parts;
      continue;
    }
    if (parts.length !== names.length) {
      if (policy === 'skip') {
        if (options.stats) {
          options.stats.skipped++;
          options.stats.skippedLines.push(line);
        }
        continue;
      }
      throw new DataError(
        options.source,
        `expected ${names.length} tab-separated fields (${names.join(', ')}), got ${parts.length}`,
        { line },
      );
    }
    const fields: Record<string, string> = {};
    for (let i = 0; i < names.length; i++) fields[names[i]] = parts[i];
    yield { fields, line };
  }
}
