import { type AsyncBuffer, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { DataError } from '../errors.js';

export type { AsyncBuffer } from 'hyparquet';

/** Options of {@link readParquetRows}. */
export interface ParquetReadRowsOptions {
  /** Name of the input for error messages. */
  readonly source: string;
  /** Columns to read (default: all). */
  readonly columns?: readonly string[];
}

/** A parquet row with its 0-based row index in the file. */
export interface ParquetRecord {
  readonly value: Record<string, unknown>;
  readonly index: number;
}

/** int64 columns come back as bigint; ids and labels fit in a double. */
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value;
  }
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  return value;
}

/**
 * Reads the rows of a parquet file (the format of Hugging Face's dataset exports) one row
 * group at a time, so memory holds one group, not the file. `file` is hyparquet's
 * `AsyncBuffer` (`byteLength` + `slice`): an ArrayBuffer wrapper, a fetch with range requests,
 * or a file handle (`readParquetFile` in `@statetune/data/node`). int64 values that fit are
 * returned as numbers.
 */
export async function* readParquetRows(
  file: AsyncBuffer | ArrayBuffer,
  options: ParquetReadRowsOptions,
): AsyncGenerator<ParquetRecord> {
  const buffer: AsyncBuffer =
    file instanceof ArrayBuffer
      ? { byteLength: file.byteLength, slice: (s, e) => file.slice(s, e) }
      : file;
  let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>;
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (e) {
    throw new DataError(options.source, `not a readable parquet file: ${(e as Error).message}`);
  }
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({
        file: buffer,
        metadata,
        rowStart,
        rowEnd,
        columns: options.columns ? [...options.columns] : undefined,
      });
    } catch (e) {
      throw new DataError(
        options.source,
        `cannot read rows ${rowStart}..${rowEnd - 1}: ${(e as Error).message}`,
      );
    }
    for (let i = 0; i < rows.length; i++) {
      yield { value: plain(rows[i]) as Record<string, unknown>, index: rowStart + i };
    }
    rowStart = rowEnd;
  }
}
