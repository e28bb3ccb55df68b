/**
 * Reading and writing safetensors files on disk (Node only). The format itself lives in
 * `safetensors.ts`.
 *
 * @packageDocumentation
 */

import { type FileHandle, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  decodeSafetensorsTensor,
  parseSafetensorsHeader,
  readSafetensors,
  readSafetensorsHeaderLength,
  type SafetensorsEntry,
  SafetensorsError,
  type SafetensorsHeader,
  type SafetensorsInput,
  type SafetensorsTensor,
  serializeSafetensorsParts,
} from './safetensors.js';

/**
 * Reads a whole safetensors file into memory and decodes every tensor.
 *
 * For large checkpoints prefer {@link SafetensorsFile}, which reads tensors one at a time.
 *
 * @param path - The file to read.
 * @returns The metadata and the tensors, in the order of their data in the file.
 * @throws {@link SafetensorsError} naming `path` when the file is malformed, or the file
 * system's error (which names the path) when it cannot be read.
 */
export async function readSafetensorsFile(
  path: string,
): Promise<ReturnType<typeof readSafetensors>> {
  return readSafetensors(await readFile(path), path);
}

/** Reads exactly `length` bytes at `position`, or fewer only when the file ends first. */
async function readAt(handle: FileHandle, length: number, position: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(bytes, filled, length - filled, position + filled);
    if (bytesRead === 0) return bytes.subarray(0, filled);
    filled += bytesRead;
  }
  return bytes;
}

/**
 * A safetensors file opened for reading tensors on demand.
 *
 * Opening reads and validates only the header (a truncated file is detected then, from its
 * size); {@link SafetensorsFile.read} reads one tensor's byte range, so a checkpoint of many
 * gigabytes is never held in memory whole. Call {@link SafetensorsFile.close} when done.
 */
export class SafetensorsFile {
  /** The path the file was opened from. */
  readonly path: string;
  /** The validated header. */
  readonly header: SafetensorsHeader;
  #handle: FileHandle | undefined;

  private constructor(path: string, header: SafetensorsHeader, handle: FileHandle) {
    this.path = path;
    this.header = header;
    this.#handle = handle;
  }

  /**
   * Opens a file and reads its header.
   *
   * @param path - The file to open.
   * @throws {@link SafetensorsError} naming `path` when the header is malformed or the file is
   * shorter than the header says; the file system's error when it cannot be opened.
   */
  static async open(path: string): Promise<SafetensorsFile> {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      const prefix = await readAt(handle, 8, 0);
      const headerLength = readSafetensorsHeaderLength(prefix, path, size);
      const headerBytes = await readAt(handle, 8 + headerLength, 0);
      const header = parseSafetensorsHeader(headerBytes, path, size);
      return new SafetensorsFile(path, header, handle);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** The tensor names, sorted (as Python's `safe_open(...).keys()` lists them). */
  names(): string[] {
    return [...this.header.entries.keys()].sort();
  }

  /**
   * The header entry of one tensor.
   *
   * @throws {@link SafetensorsError} naming the path and the tensor, and listing some of the
   * names the file does have, when there is no such tensor.
   */
  entry(name: string): SafetensorsEntry {
    const entry = this.header.entries.get(name);
    if (entry) return entry;
    const names = this.names();
    const shown = names.slice(0, 8).map((n) => `"${n}"`);
    const available =
      names.length === 0
        ? 'the file holds no tensors'
        : `the file holds ${names.length} tensors: ${shown.join(', ')}${names.length > shown.length ? ', ...' : ''}`;
    throw new SafetensorsError(this.path, `no tensor named "${name}"; ${available}`);
  }

  /**
   * Reads and decodes one tensor (see `decodeSafetensorsTensor` for the value types).
   *
   * @throws {@link SafetensorsError} naming the path when the tensor is missing, the file is
   * closed or has shrunk since it was opened, or the values cannot be decoded.
   */
  async read(name: string): Promise<SafetensorsTensor> {
    const entry = this.entry(name);
    if (!this.#handle) {
      throw new SafetensorsError(this.path, `cannot read tensor "${name}": the file is closed`);
    }
    const length = entry.end - entry.begin;
    const bytes = await readAt(this.#handle, length, this.header.dataStart + entry.begin);
    if (bytes.length < length) {
      throw new SafetensorsError(
        this.path,
        `file is truncated: tensor "${name}" needs ${length} bytes at offset ${this.header.dataStart + entry.begin}, only ${bytes.length} could be read (did the file change after it was opened?)`,
      );
    }
    const { values } = decodeSafetensorsTensor(entry, bytes, this.path);
    return { dtype: entry.dtype, shape: [...entry.shape], values };
  }

  /** Closes the file; later reads fail. Closing twice is harmless. */
  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }
}

let temporaryCounter = 0;

/**
 * Writes tensors to a safetensors file atomically.
 *
 * The input is validated and encoded first, then written to a temporary file in the same
 * directory, flushed to disk, and renamed over `path`. A reader of `path` therefore sees the
 * old file or the complete new one, never a partial write; on failure the temporary file is
 * removed and `path` is left as it was.
 *
 * @param path - The file to create or replace.
 * @param tensors - The tensors by name (see `serializeSafetensors` for names, dtypes and layout).
 * @param metadata - Optional string to string map written as `__metadata__`.
 * @throws {@link SafetensorsError} naming `path` on invalid input; the file system's error when
 * the file cannot be written.
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: Record<string, SafetensorsInput>,
  metadata?: Record<string, string>,
): Promise<void> {
  // Writing the parts one by one avoids a second in-memory copy of the whole checkpoint.
  const parts = serializeSafetensorsParts(tensors, metadata, path);
  temporaryCounter += 1;
  const temporary = join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${temporaryCounter}.${Date.now().toString(36)}.tmp`,
  );
  const handle = await open(temporary, 'wx');
  try {
    try {
      for (const part of parts) {
        let written = 0;
        while (written < part.length) {
          const result = await handle.write(part, written, part.length - written);
          written += result.bytesWritten;
        }
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => {});
    throw error;
  }
  await syncDirectory(dirname(path));
}

/** Flushes a directory entry so a completed rename survives a crash; best effort, as some
 * platforms (Windows) cannot open directories. */
async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await open(directory, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // The file itself is complete and in place; only durability across a power loss is weaker.
  }
}
