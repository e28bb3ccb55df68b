import { DataError } from '../errors.js';

/** A line of text with its 1-based line number. */
export interface Line {
  readonly text: string;
  readonly line: number;
}

/** Text or UTF-8 bytes, as a stream yields them. */
export type TextChunk = string | Uint8Array;

/**
 * A streaming UTF-8 decoder that rejects invalid bytes (as Python's `open(..., encoding="utf8")`
 * does) with a {@link DataError} naming `source` and, when given, the number of lines already
 * read (the bad bytes come after them).
 */
export function utf8Chunks(source: string): {
  decode(chunk: TextChunk, linesDone?: number): string;
  end(linesDone?: number): string;
} {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const run = (f: () => string, linesDone: number | undefined): string => {
    try {
      return f();
    } catch (e) {
      if (!(e instanceof TypeError)) throw e;
      const where = linesDone ? ` after line ${linesDone}` : '';
      throw new DataError(source, `invalid UTF-8${where}`);
    }
  };
  return {
    decode: (chunk, linesDone) =>
      typeof chunk === 'string'
        ? chunk
        : run(() => decoder.decode(chunk, { stream: true }), linesDone),
    end: (linesDone) => run(() => decoder.decode(), linesDone),
  };
}

/**
 * Splits a stream of chunks (strings or UTF-8 bytes, in any sizes) into lines without holding
 * more than one line in memory. Lines end at `\n`; a `\r` before it is removed; a leading
 * UTF-8 byte-order mark is dropped; a last line without a newline is kept, an empty one is not.
 * Invalid UTF-8 throws a {@link DataError} naming `source`.
 */
export async function* splitLines(
  chunks: AsyncIterable<TextChunk> | Iterable<TextChunk>,
  source = 'input',
): AsyncGenerator<Line> {
  const utf8 = utf8Chunks(source);
  let pending = '';
  let lineNo = 0;
  let first = true;
  const take = function* (text: string, final: boolean): Generator<Line> {
    pending += text;
    if (first && pending.length > 0) {
      if (pending.charCodeAt(0) === 0xfeff) pending = pending.slice(1);
      first = false;
    }
    let start = 0;
    for (;;) {
      const nl = pending.indexOf('\n', start);
      if (nl < 0) break;
      const end = nl > start && pending.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      yield { text: pending.slice(start, end), line: ++lineNo };
      start = nl + 1;
    }
    pending = pending.slice(start);
    if (final && pending.length > 0) {
      const t = pending.endsWith('\r') ? pending.slice(0, -1) : pending;
      pending = '';
      yield { text: t, line: ++lineNo };
    }
  };
  for await (const chunk of chunks) yield* take(utf8.decode(chunk, lineNo), false);
  yield* take(utf8.end(lineNo), true);
}

/** {@link splitLines} for text already in memory. */
export function linesOf(text: string): AsyncGenerator<Line> {
  return splitLines([text]);
}
