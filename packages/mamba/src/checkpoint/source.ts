/**
 * Random-access byte sources: what the checkpoint readers read from, so the same code serves
 * files on disk (Node), `ArrayBuffer`s and `File`/`Blob`s (browsers) and HTTP range requests.
 *
 * @packageDocumentation
 */

import { CheckpointError } from './errors.js';

/** Bytes that can be read by range. */
export interface ByteSource {
  /** The name used in error messages (a path, file name or URL). */
  readonly name: string;
  /** The total size in bytes. */
  readonly size: number;
  /**
   * Reads `length` bytes starting at `offset`. May return fewer bytes only when the source
   * ends first; the result may be a view of memory the source keeps.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Releases the source (closes a file). Optional; called by `Checkpoint.close`. */
  close?(): Promise<void>;
}

/** A {@link ByteSource} over bytes already in memory (e.g. a fetched `ArrayBuffer`). */
export function bytesSource(bytes: Uint8Array | ArrayBuffer, name = '<buffer>'): ByteSource {
  const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  return {
    name,
    size: data.length,
    read: async (offset, length) =>
      data.subarray(Math.min(offset, data.length), Math.min(offset + length, data.length)),
  };
}

/** A {@link ByteSource} over a `Blob` or `File` (browsers), read by slices. */
export function blobSource(
  blob: Blob,
  name = (blob as { name?: string }).name ?? '<blob>',
): ByteSource {
  return {
    name,
    size: blob.size,
    read: async (offset, length) =>
      new Uint8Array(await blob.slice(offset, Math.min(offset + length, blob.size)).arrayBuffer()),
  };
}

/**
 * Reads exactly `length` bytes at `offset`, or throws a {@link CheckpointError} naming the
 * source and `what` was being read when the source ends first.
 */
export async function readExactly(
  source: ByteSource,
  offset: number,
  length: number,
  what: string,
): Promise<Uint8Array> {
  if (offset < 0 || length < 0 || offset + length > source.size) {
    throw new CheckpointError(
      source.name,
      `file is truncated or corrupt: ${what} needs bytes ${offset}..${offset + length} but the file has ${source.size} bytes`,
    );
  }
  const bytes = await source.read(offset, length);
  if (bytes.length !== length) {
    throw new CheckpointError(
      source.name,
      `could read only ${bytes.length} of ${length} bytes at offset ${offset} for ${what} (did the file change after it was opened?)`,
    );
  }
  return bytes;
}
