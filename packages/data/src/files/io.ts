import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { DataError } from '../errors.js';
import { type JsonRecord, parseJson, parseJsonl, streamJsonArray } from '../readers/json.js';
import { type Line, splitLines, utf8Chunks } from '../readers/lines.js';
import { type AsyncBuffer, type ParquetRecord, readParquetRows } from '../readers/parquet.js';
import { parseTsv, type TsvOptions, type TsvRow } from '../readers/tsv.js';

/** Chunks of a file, read with a small buffer; a missing file becomes a {@link DataError}. */
async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  await assertFile(path);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 16 })) {
    yield chunk as Uint8Array;
  }
}

/** Throws a {@link DataError} naming `path` when it is not a readable file. */
export async function assertFile(path: string): Promise<void> {
  let s: Awaited<ReturnType<typeof stat>>;
  try {
    s = await stat(path);
  } catch {
    throw new DataError(path, 'file not found');
  }
  if (!s.isFile()) throw new DataError(path, 'not a file');
}

/** The lines of a text file, streamed (see `splitLines`). */
export function readLines(path: string): AsyncGenerator<Line> {
  return splitLines(fileChunks(path), path);
}

/**
 * Rows of a TSV file, streamed, read as GLUE's loaders read them (no quoting). Errors name
 * the file and line.
 */
export function readTsvFile(
  path: string,
  options: Omit<TsvOptions, 'source'> = {},
): AsyncGenerator<TsvRow> {
  return parseTsv(readLines(path), { ...options, source: path });
}

/** Records of a JSON Lines file, streamed; an invalid line throws with the file and line. */
export function readJsonlFile(path: string): AsyncGenerator<JsonRecord> {
  return parseJsonl(readLines(path), path);
}

/** Elements of a file holding one JSON array, streamed element by element. */
export function readJsonArrayFile(path: string): AsyncGenerator<JsonRecord> {
  return streamJsonArray(fileChunks(path), path);
}

/** A whole JSON file (for small files such as `tables.json`); errors give the line. */
export async function readJsonFile(path: string): Promise<unknown> {
  await assertFile(path);
  const utf8 = utf8Chunks(path);
  return parseJson(utf8.decode(await readFile(path)) + utf8.end(), path);
}

/** A file as hyparquet's `AsyncBuffer`, reading only the byte ranges asked for. */
export async function fileAsyncBuffer(path: string): Promise<AsyncBuffer> {
  await assertFile(path);
  const { size } = await stat(path);
  return {
    byteLength: size,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const stop = end ?? size;
      const handle = await open(path, 'r');
      try {
        const out = new Uint8Array(Math.max(0, stop - start));
        let done = 0;
        while (done < out.length) {
          const { bytesRead } = await handle.read(out, done, out.length - done, start + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        return out.buffer;
      } finally {
        await handle.close();
      }
    },
  };
}

/** Rows of a parquet file, one row group at a time. */
export async function* readParquetFile(
  path: string,
  options: { columns?: readonly string[] } = {},
): AsyncGenerator<ParquetRecord> {
  yield* readParquetRows(await fileAsyncBuffer(path), { ...options, source: path });
}

/** A record read from any supported file, with its position for messages. */
export interface FileRecord {
  readonly value: Record<string, unknown>;
  /** 0-based record index in the file. */
  readonly index: number;
  /** 1-based line, for text formats. */
  readonly line?: number;
}

/**
 * Records of a `.json` (one array), `.jsonl`/`.ndjson`, `.parquet` or `.tsv` file (by
 * extension), streamed. Every record must be an object.
 */
export async function* readRecords(path: string): AsyncGenerator<FileRecord> {
  const name = basename(path).toLowerCase();
  const check = (value: unknown, index: number, line?: number): Record<string, unknown> => {
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      throw new DataError(
        path,
        `record ${index} is not an object`,
        line ? { line } : { example: String(index) },
      );
    }
    return value as Record<string, unknown>;
  };
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson')) {
    for await (const r of readJsonlFile(path))
      yield { value: check(r.value, r.index, r.line), index: r.index, line: r.line };
  } else if (name.endsWith('.json')) {
    for await (const r of readJsonArrayFile(path))
      yield { value: check(r.value, r.index, r.line), index: r.index, line: r.line };
  } else if (name.endsWith('.parquet')) {
    for await (const r of readParquetFile(path)) yield { value: r.value, index: r.index };
  } else if (name.endsWith('.tsv')) {
    let index = 0;
    for await (const r of readTsvFile(path))
      yield { value: { ...r.fields }, index: index++, line: r.line };
  } else {
    throw new DataError(path, 'unknown format: expected .json, .jsonl, .ndjson, .parquet or .tsv');
  }
}
