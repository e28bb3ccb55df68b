import { DataError } from '../errors.js';
import { type Line, type TextChunk, utf8Chunks } from './lines.js';

/** A parsed JSON value with where it came from. */
export interface JsonRecord {
  readonly value: unknown;
  /** 1-based line where the value starts. */
  readonly line: number;
  /** 0-based position in the file (the index in a JSON array, or the record number in JSONL). */
  readonly index: number;
}

/** 1-based line and column of a character offset in `text`. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lastNl = -1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lastNl = i;
    }
  }
  return { line, column: offset - lastNl };
}

/**
 * The offset of the first syntax error in `text` (JSON.parse's messages do not always carry
 * one). Only called after JSON.parse failed, so speed does not matter.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const literal = (word: string) => {
    for (const ch of word) {
      if (text[i] !== ch) fail();
      i++;
    }
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= text.length) fail();
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return;
      }
      if (c < 0x20) fail();
      if (c === 92) {
        i++;
        const e = text[i];
        if (e === 'u') {
          for (let k = 1; k <= 4; k++) if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) fail();
          i += 5;
          continue;
        }
        if (!'"\\/bfnrt'.includes(e ?? 'x')) fail();
      }
      i++;
    }
  };
  // Sticky: matches at `i` without copying the rest of the text.
  const numberPattern = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
  const number = () => {
    numberPattern.lastIndex = i;
    const m = numberPattern.exec(text);
    if (!m) fail();
    i += m![0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail();
      }
    } else if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else number();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
  } catch (at) {
    if (typeof at === 'number') return Math.min(at, text.length);
    throw at;
  }
  return text.length;
}

/**
 * Parses a whole JSON text; a syntax error becomes a {@link DataError} with the line (and
 * column) where it was found. A leading byte-order mark is ignored. `firstLine` shifts the
 * reported line for text cut from a file.
 */
export function parseJson(text: string, source: string, firstLine = 1): unknown {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text);
  } catch (e) {
    const reason = String((e as Error).message).split('\n')[0];
    const { line, column } = lineColumn(text, jsonErrorOffset(text));
    throw new DataError(source, `invalid JSON at column ${column}: ${reason}`, {
      line: firstLine + line - 1,
    });
  }
}

/**
 * Parses JSON Lines: one JSON value per line, blank lines skipped. An invalid line throws a
 * {@link DataError} naming the source and line.
 */
export async function* parseJsonl(
  lines: AsyncIterable<Line> | Iterable<Line>,
  source: string,
): AsyncGenerator<JsonRecord> {
  let index = 0;
  for await (const { text, line } of lines) {
    if (text.trim().length === 0) continue;
    yield { value: parseJson(text, source, line), line, index: index++ };
  }
}

/**
 * Streams the elements of a top-level JSON array (`[ {...}, {...} ]`, as DART, SAMSum and
 * Spider ship) without holding the whole file: each element is cut out by tracking nesting
 * and strings, then parsed on its own. Errors name the source and line.
 */
export async function* streamJsonArray(
  chunks: AsyncIterable<TextChunk> | Iterable<TextChunk>,
  source: string,
): AsyncGenerator<JsonRecord> {
  const utf8 = utf8Chunks(source);
  let state: 'start' | 'beforeElement' | 'afterElement' | 'end' = 'start';
  let buf = ''; // text of the element being read
  let depth = 0;
  let inString = false;
  let escaped = false;
  let line = 1;
  let elementLine = 1;
  let index = 0;
  let first = true;
  const fail = (message: string): never => {
    throw new DataError(source, message, { line });
  };
  const finishElement = (): JsonRecord => {
    const value = parseJson(buf, source, elementLine);
    buf = '';
    return { value, line: elementLine, index: index++ };
  };
  const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;

  let scalar = false; // the element being read is a number, true, false or null
  const feed = function* (text: string): Generator<JsonRecord> {
    let i = 0;
    if (first && text.length > 0) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) i = 1;
    }
    let elementStart = -1; // start of the element's text inside `text`, when it began here
    let open = buf.length > 0; // an element is being read (possibly begun in an earlier chunk)
    const close = (endExclusive: number): JsonRecord => {
      buf += text.slice(Math.max(elementStart, 0), endExclusive);
      elementStart = -1;
      open = false;
      scalar = false;
      state = 'afterElement';
      return finishElement();
    };
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (open && scalar && (c === 44 || c === 93 || isSpace(c))) {
        yield close(i); // the scalar ends before this character, which is read again below
      }
      if (!open) {
        if (c === 10) line++;
        if (state === 'start') {
          if (isSpace(c)) continue;
          if (c !== 91) fail(`expected a JSON array ('['), found ${JSON.stringify(text[i])}`);
          state = 'beforeElement';
          continue;
        }
        if (isSpace(c)) continue;
        if (state === 'end')
          fail(`unexpected ${JSON.stringify(text[i])} after the end of the array`);
        if (c === 93) {
          if (state === 'beforeElement' && index > 0) fail(`trailing comma before ']'`);
          state = 'end';
          continue;
        }
        if (c === 44) {
          if (state !== 'afterElement') fail(`unexpected ',' in the array`);
          state = 'beforeElement';
          continue;
        }
        if (state === 'afterElement') fail(`expected ',' or ']' after element ${index - 1}`);
        open = true;
        elementStart = i;
        elementLine = line;
        depth = 0;
        scalar = c !== 123 && c !== 91 && c !== 34;
        if (scalar) continue;
      }
      if (c === 10) line++;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === 92) escaped = true;
        else if (c === 34) {
          inString = false;
          if (depth === 0) yield close(i + 1);
        }
        continue;
      }
      if (scalar) continue;
      if (c === 34) inString = true;
      else if (c === 123 || c === 91) depth++;
      else if (c === 125 || c === 93) {
        depth--;
        if (depth === 0) yield close(i + 1);
      }
    }
    if (open) buf += text.slice(Math.max(elementStart, 0));
  };

  for await (const chunk of chunks) yield* feed(utf8.decode(chunk, line - 1));
  yield* feed(utf8.end(line - 1));
  if (buf.length > 0) yield finishElement();
  if ((state as string) !== 'end') {
    throw new DataError(source, `unexpected end of file: the JSON array is not closed`, { line });
  }
}
