/**
 * A minimal zip reader for `torch.save` archives: the central directory (with zip64), local
 * headers and entry data by range. Entries are STORED (as torch writes them) or DEFLATEd
 * (inflated with the platform's `DecompressionStream`, which Node 18+ and browsers have).
 *
 * @packageDocumentation
 */

import { CheckpointError } from './errors.js';
import { type ByteSource, readExactly } from './source.js';

/** One file in a zip archive. */
export interface ZipEntry {
  readonly name: string;
  /** 0 = stored, 8 = deflate. */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
}

/** Deflate turns one byte into at most 1032 (a 258-byte match in two bits, roughly). */
const MAX_DEFLATE_RATIO = 1032;

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

function u64(view: DataView, at: number): number {
  return view.getUint32(at + 4, true) * 2 ** 32 + view.getUint32(at, true);
}

/** A zip archive opened for reading entries by range. */
export class ZipReader {
  readonly source: ByteSource;
  readonly entries: ReadonlyMap<string, ZipEntry>;
  readonly #dataStart = new Map<string, number>();

  private constructor(source: ByteSource, entries: Map<string, ZipEntry>) {
    this.source = source;
    this.entries = entries;
  }

  /**
   * Reads the central directory.
   *
   * @throws {@link CheckpointError} naming the file when it is not a zip archive, is
   *   truncated, or its directory points outside the file.
   */
  static async open(source: ByteSource): Promise<ZipReader> {
    const file = source.name;
    const fail = (problem: string): never => {
      throw new CheckpointError(file, problem);
    };
    if (source.size < 22) fail(`file is ${source.size} bytes long, too short to be a zip archive`);
    // The end-of-central-directory record is the last 22 bytes plus a comment of up to 64 KiB.
    const tailLength = Math.min(source.size, 22 + 0xffff);
    const tailStart = source.size - tailLength;
    const tail = await readExactly(source, tailStart, tailLength, 'the end of the zip archive');
    const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
    let eocd = -1;
    for (let i = tailLength - 22; i >= 0; i--) {
      if (tv.getUint32(i, true) === EOCD) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) {
      const head = await readExactly(source, 0, 4, 'the magic number');
      const isZip = head[0] === 0x50 && head[1] === 0x4b;
      fail(
        isZip
          ? 'zip archive is truncated: its end-of-central-directory record is missing'
          : 'not a zip archive (no end-of-central-directory record); pytorch_model.bin files written by torch.save before PyTorch 1.6 (the legacy format) are not supported, re-save with a newer torch or convert to safetensors',
      );
    }
    let count = tv.getUint16(eocd + 10, true);
    let dirSize = tv.getUint32(eocd + 12, true);
    let dirOffset = tv.getUint32(eocd + 16, true);
    if (count === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) {
      const locatorAt = tailStart + eocd - 20;
      const locator = await readExactly(source, locatorAt, 20, 'the zip64 locator');
      const lv = new DataView(locator.buffer, locator.byteOffset, 20);
      if (lv.getUint32(0, true) !== ZIP64_LOCATOR)
        fail('zip64 end-of-central-directory locator is missing');
      const recordAt = u64(lv, 8);
      const record = await readExactly(
        source,
        recordAt,
        56,
        'the zip64 end-of-central-directory record',
      );
      const rv = new DataView(record.buffer, record.byteOffset, 56);
      if (rv.getUint32(0, true) !== ZIP64_EOCD)
        fail(`no zip64 end-of-central-directory record at offset ${recordAt}`);
      count = u64(rv, 32);
      dirSize = u64(rv, 40);
      dirOffset = u64(rv, 48);
    }
    const dir = await readExactly(source, dirOffset, dirSize, 'the zip central directory');
    const dv = new DataView(dir.buffer, dir.byteOffset, dir.byteLength);
    const names = new TextDecoder();
    const entries = new Map<string, ZipEntry>();
    let at = 0;
    for (let i = 0; i < count; i++) {
      if (at + 46 > dir.length || dv.getUint32(at, true) !== CENTRAL) {
        fail(
          `zip central directory entry ${i} of ${count} is corrupt or truncated (at offset ${dirOffset + at})`,
        );
      }
      const method = dv.getUint16(at + 10, true);
      let compressedSize = dv.getUint32(at + 20, true);
      let size = dv.getUint32(at + 24, true);
      const nameLength = dv.getUint16(at + 28, true);
      const extraLength = dv.getUint16(at + 30, true);
      const commentLength = dv.getUint16(at + 32, true);
      let localHeaderOffset = dv.getUint32(at + 42, true);
      if (at + 46 + nameLength + extraLength + commentLength > dir.length) {
        fail(`zip central directory entry ${i} runs past the end of the directory`);
      }
      const name = names.decode(dir.subarray(at + 46, at + 46 + nameLength));
      // Zip64 extended information: the 64-bit values of the fields that are saturated, in order.
      let e = at + 46 + nameLength;
      const extraEnd = e + extraLength;
      while (e + 4 <= extraEnd) {
        const id = dv.getUint16(e, true);
        const length = dv.getUint16(e + 2, true);
        if (id === 0x0001) {
          let f = e + 4;
          const need = (saturated: boolean): number => {
            if (!saturated) return -1;
            if (f + 8 > e + 4 + length) fail(`zip64 extra field of "${name}" is too short`);
            const v = u64(dv, f);
            f += 8;
            return v;
          };
          const s = need(size === 0xffffffff);
          const c = need(compressedSize === 0xffffffff);
          const o = need(localHeaderOffset === 0xffffffff);
          if (s >= 0) size = s;
          if (c >= 0) compressedSize = c;
          if (o >= 0) localHeaderOffset = o;
        }
        e += 4 + length;
      }
      // Readers disagree on which of two same-named entries counts; refuse the ambiguity.
      if (entries.has(name)) fail(`zip archive holds two entries named "${name}"`);
      entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
      at += 46 + nameLength + extraLength + commentLength;
    }
    return new ZipReader(source, entries);
  }

  /** The entry of that name, or a {@link CheckpointError} naming the archive and the entry. */
  entry(name: string): ZipEntry {
    const entry = this.entries.get(name);
    if (entry === undefined) {
      throw new CheckpointError(this.source.name, `zip archive has no entry "${name}"`);
    }
    return entry;
  }

  /** The absolute offset of an entry's (possibly compressed) data. */
  async dataStart(entry: ZipEntry): Promise<number> {
    const known = this.#dataStart.get(entry.name);
    if (known !== undefined) return known;
    const local = await readExactly(
      this.source,
      entry.localHeaderOffset,
      30,
      `the local header of "${entry.name}"`,
    );
    const lv = new DataView(local.buffer, local.byteOffset, 30);
    if (lv.getUint32(0, true) !== LOCAL) {
      throw new CheckpointError(
        this.source.name,
        `zip entry "${entry.name}" has no local file header at offset ${entry.localHeaderOffset}; the archive is corrupt`,
      );
    }
    const start = entry.localHeaderOffset + 30 + lv.getUint16(26, true) + lv.getUint16(28, true);
    if (start + entry.compressedSize > this.source.size) {
      throw new CheckpointError(
        this.source.name,
        `file is truncated: zip entry "${entry.name}" needs bytes ${start}..${start + entry.compressedSize} but the file has ${this.source.size} bytes`,
      );
    }
    this.#dataStart.set(entry.name, start);
    return start;
  }

  /**
   * Reads `length` bytes at `offset` of an entry's uncompressed content. A stored entry is
   * read by range; a deflated one is inflated whole first.
   */
  async read(entry: ZipEntry, offset = 0, length = entry.size - offset): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > entry.size) {
      throw new CheckpointError(
        this.source.name,
        `zip entry "${entry.name}" has ${entry.size} bytes; cannot read ${length} bytes at ${offset}`,
      );
    }
    const start = await this.dataStart(entry);
    if (entry.method === 0) {
      if (entry.compressedSize !== entry.size) {
        throw new CheckpointError(
          this.source.name,
          `stored zip entry "${entry.name}" has different compressed and uncompressed sizes`,
        );
      }
      return readExactly(this.source, start + offset, length, `zip entry "${entry.name}"`);
    }
    if (entry.method !== 8) {
      throw new CheckpointError(
        this.source.name,
        `zip entry "${entry.name}" uses compression method ${entry.method}; only stored (0) and deflate (8) are supported`,
      );
    }
    if (entry.size > entry.compressedSize * MAX_DEFLATE_RATIO + 1024) {
      throw new CheckpointError(
        this.source.name,
        `zip entry "${entry.name}" claims ${entry.size} bytes from ${entry.compressedSize} compressed bytes, more than deflate can produce; the archive is corrupt`,
      );
    }
    const compressed = await readExactly(
      this.source,
      start,
      entry.compressedSize,
      `zip entry "${entry.name}"`,
    );
    const inflated = await inflateRaw(compressed, entry.size, this.source.name, entry.name);
    return inflated.subarray(offset, offset + length);
  }
}

interface DecompressionStreamLike {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}
type DecompressionStreamCtor = new (format: string) => DecompressionStreamLike;

async function inflateRaw(
  data: Uint8Array,
  expectedSize: number,
  file: string,
  entry: string,
): Promise<Uint8Array> {
  const Ctor = (globalThis as { DecompressionStream?: DecompressionStreamCtor })
    .DecompressionStream;
  if (Ctor === undefined) {
    throw new CheckpointError(
      file,
      `zip entry "${entry}" is deflate-compressed and this platform has no DecompressionStream; re-save the checkpoint uncompressed or as safetensors`,
    );
  }
  // Streamed with a cap, so a hostile entry cannot inflate past the size the directory claims.
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    const reader = new Blob([data]).stream().pipeThrough(new Ctor('deflate-raw')).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > expectedSize) {
        await reader.cancel();
        break;
      }
      chunks.push(value);
    }
  } catch (error) {
    throw new CheckpointError(
      file,
      `zip entry "${entry}" could not be inflated: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  if (total !== expectedSize) {
    throw new CheckpointError(
      file,
      `zip entry "${entry}" inflates to ${total > expectedSize ? `more than ${expectedSize}` : total} bytes, but the directory says ${expectedSize}`,
    );
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
