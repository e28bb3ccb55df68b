/**
 * Reading and writing the safetensors format (https://github.com/huggingface/safetensors),
 * platform neutral: everything works on `Uint8Array`s.
 *
 * A file is an 8-byte little-endian u64 `N`, then `N` bytes of UTF-8 JSON (the header), then
 * the data section. The header maps each tensor name to `{dtype, shape, data_offsets}`, the
 * offsets being byte positions in the data section; the optional `__metadata__` key holds a
 * string to string map. Tensors are stored little-endian, in C (row-major) order.
 *
 * Validation follows the reference implementation (`Metadata::validate` in the Rust crate) and
 * the format description in its README: the tensors' byte ranges, sorted by offset, must tile
 * the data section exactly, so overlapping ranges, gaps between ranges and bytes after the last
 * range are all rejected ("the byte buffer needs to be entirely indexed, and cannot contain
 * holes", which rules out polyglot files). Zero-sized tensors may share an offset.
 *
 * @packageDocumentation
 */

import { decodeBfloat16, decodeFloat16, encodeBfloat16, encodeFloat16 } from './half.js';

/** The element types of a safetensors file that this package reads and writes. */
export type SafetensorsDType =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U8'
  | 'BOOL';

/** One tensor's description in a safetensors header. */
export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** First byte of the tensor, relative to the start of the data section. */
  begin: number;
  /** One past the last byte of the tensor, relative to the start of the data section. */
  end: number;
}

/** A parsed and validated safetensors header. */
export interface SafetensorsHeader {
  /** The tensors, in the order of their data in the file. */
  entries: Map<string, SafetensorsEntry>;
  /** The `__metadata__` map (empty when the file has none). */
  metadata: Record<string, string>;
  /** Absolute byte offset of the data section: 8 + the header length. */
  dataStart: number;
}

/** A malformed safetensors file or invalid input to the writer. */
export class SafetensorsError extends Error {
  /** The file name, or `'<buffer>'` for bytes that did not come from a named file. */
  readonly source: string;
  /** What is wrong and what was expected, without the source (the message is `source: problem`). */
  readonly problem: string;

  /**
   * @param source - The file name, or `'<buffer>'`.
   * @param problem - What is wrong and what was expected; the message is `source: problem`.
   */
  constructor(source: string, problem: string, options?: { cause?: unknown }) {
    super(`${source}: ${problem}`, options);
    this.name = 'SafetensorsError';
    this.source = source;
    this.problem = problem;
  }
}

/** The element type of the decoded values. */
type ValueDType = 'float32' | 'float64' | 'int32';
type Values = Float32Array | Float64Array | Int32Array;

/** A decoded tensor. */
export interface SafetensorsTensor {
  dtype: SafetensorsDType;
  shape: number[];
  values: Values;
}

/** One tensor to write. */
export interface SafetensorsInput {
  /** The type of `values`: `Float32Array`, `Float64Array` or `Int32Array`. */
  dtype: ValueDType;
  shape: readonly number[];
  /** The elements in C order; `values.length` must equal the product of `shape`. */
  values: Values;
  /**
   * The dtype written to the file; by default F32, F64 or I32 after `dtype`. Float values can
   * be stored as F64, F32, F16 or BF16 (rounded to nearest, ties to even); int32 values as I64,
   * I32, I16, I8, U8 or BOOL (0 or 1), each checked to fit.
   */
  storeAs?: SafetensorsDType;
}

/** The largest header accepted, as in the reference implementation. */
const MAX_HEADER_BYTES = 100_000_000;

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type StorageArray =
  | Float64Array
  | Float32Array
  | Uint16Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/** How one safetensors dtype is stored and how it reads into the values of this package. */
interface DTypeCodec {
  readonly itemSize: number;
  /**
   * The size of the host-order words the bytes are viewed as: the item size, except for I64,
   * which is read and written as (low, high) int32 pairs.
   */
  readonly wordSize: number;
  /** The dtype of the decoded values. */
  readonly decodesTo: ValueDType;
  /** Decodes `count` elements from `bytes`, which are in host order and aligned to `wordSize`. */
  decode(bytes: Uint8Array, count: number, reject: Reject): Values;
  /** Encodes values of the input dtype into host-order storage. */
  encode(values: Values, reject: Reject): StorageArray;
}

/** Throws a {@link SafetensorsError} about the tensor at hand; `problem` completes a sentence
 * that begins with the tensor's description. */
type Reject = (problem: string) => never;

/** An encoder of int32 values into a narrower integer type, checking each lies in [min, max]. */
function narrowInts<T extends Int16Array | Int8Array | Uint8Array>(
  Storage: new (length: number) => T,
  min: number,
  max: number,
  dtype: string,
): (values: Values, reject: Reject) => T {
  return (values, reject) => {
    const out = new Storage(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < min || v > max) {
        reject(
          `holds ${v} at flat index ${i}, which does not fit in ${dtype} ([${min}, ${max}]); store it as I32 instead`,
        );
      }
      out[i] = v;
    }
    return out;
  };
}

function view<T>(
  Ctor: new (buffer: ArrayBufferLike, byteOffset: number, length: number) => T,
  bytes: Uint8Array,
  count: number,
): T {
  return new Ctor(bytes.buffer, bytes.byteOffset, count);
}

const CODECS: Record<SafetensorsDType, DTypeCodec> = {
  F64: {
    itemSize: 8,
    wordSize: 8,
    decodesTo: 'float64',
    decode: (bytes, n) => view(Float64Array, bytes, n).slice(),
    encode: (values) => (values instanceof Float64Array ? values : Float64Array.from(values)),
  },
  F32: {
    itemSize: 4,
    wordSize: 4,
    decodesTo: 'float32',
    decode: (bytes, n) => view(Float32Array, bytes, n).slice(),
    encode: (values) => (values instanceof Float32Array ? values : Float32Array.from(values)),
  },
  F16: {
    itemSize: 2,
    wordSize: 2,
    decodesTo: 'float32',
    decode: (bytes, n) => decodeFloat16(view(Uint16Array, bytes, n)),
    encode: (values) => encodeFloat16(values),
  },
  BF16: {
    itemSize: 2,
    wordSize: 2,
    decodesTo: 'float32',
    decode: (bytes, n) => decodeBfloat16(view(Uint16Array, bytes, n)),
    encode: (values) => encodeBfloat16(values),
  },
  I64: {
    itemSize: 8,
    wordSize: 4,
    decodesTo: 'int32',
    decode: (bytes, n, reject) => {
      const halves = view(Int32Array, bytes, 2 * n);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const low = halves[2 * i];
        const high = halves[2 * i + 1];
        // The value fits in int32 exactly when the high word is the sign extension of the low.
        if (high !== low >> 31) {
          const value = BigInt.asIntN(64, (BigInt(high) << 32n) | BigInt(low >>> 0));
          reject(
            `holds ${value} at flat index ${i}, which does not fit in int32; I64 tensors are read as int32, so every value must lie in [-2147483648, 2147483647]`,
          );
        }
        out[i] = low;
      }
      return out;
    },
    encode: (values) => {
      const halves = new Int32Array(2 * values.length);
      for (let i = 0; i < values.length; i++) {
        halves[2 * i] = values[i];
        halves[2 * i + 1] = values[i] >> 31;
      }
      return halves;
    },
  },
  I32: {
    itemSize: 4,
    wordSize: 4,
    decodesTo: 'int32',
    decode: (bytes, n) => view(Int32Array, bytes, n).slice(),
    encode: (values) => values,
  },
  I16: {
    itemSize: 2,
    wordSize: 2,
    decodesTo: 'int32',
    decode: (bytes, n) => Int32Array.from(view(Int16Array, bytes, n)),
    encode: narrowInts(Int16Array, -32768, 32767, 'I16'),
  },
  I8: {
    itemSize: 1,
    wordSize: 1,
    decodesTo: 'int32',
    decode: (bytes, n) => Int32Array.from(view(Int8Array, bytes, n)),
    encode: narrowInts(Int8Array, -128, 127, 'I8'),
  },
  U8: {
    itemSize: 1,
    wordSize: 1,
    decodesTo: 'int32',
    decode: (bytes) => Int32Array.from(bytes),
    encode: narrowInts(Uint8Array, 0, 255, 'U8'),
  },
  BOOL: {
    itemSize: 1,
    wordSize: 1,
    decodesTo: 'int32',
    decode: (bytes) => Int32Array.from(bytes, (b) => (b === 0 ? 0 : 1)),
    encode: narrowInts(Uint8Array, 0, 1, 'BOOL'),
  },
};

const DTYPES = Object.keys(CODECS) as SafetensorsDType[];

/** What each value dtype may be stored as, the default first. */
const STORABLE_AS: Record<ValueDType, readonly SafetensorsDType[]> = {
  float32: ['F32', 'F64', 'F16', 'BF16'],
  float64: ['F64', 'F32', 'F16', 'BF16'],
  int32: ['I32', 'I64', 'I16', 'I8', 'U8', 'BOOL'],
};

const VALUE_ARRAYS: Record<ValueDType, { new (length: number): Values; name: string }> = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
};

/**
 * The order in which the reference writer lays out tensors: by decreasing dtype alignment (its
 * `Dtype` enum order, reversed), then by name. With the header padded to 8 bytes this puts
 * every tensor at an offset that is a multiple of its item size.
 */
const LAYOUT_RANK: Record<SafetensorsDType, number> = {
  I64: 0,
  F64: 1,
  F32: 2,
  I32: 3,
  BF16: 4,
  F16: 5,
  I16: 6,
  I8: 7,
  U8: 8,
  BOOL: 9,
};

function isDType(value: unknown): value is SafetensorsDType {
  return typeof value === 'string' && Object.hasOwn(CODECS, value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** The number of elements of `shape`, or undefined when it exceeds 2^53 - 1. */
function elementCount(shape: readonly number[]): number | undefined {
  let count = 1;
  for (const dim of shape) count *= dim;
  return Number.isSafeInteger(count) ? count : undefined;
}

/** Swaps, in place, little-endian words to host order (a no-op on little-endian hosts). */
function littleEndianToHost(bytes: Uint8Array, wordSize: number): Uint8Array {
  if (!HOST_IS_LITTLE_ENDIAN && wordSize > 1) {
    for (let i = 0; i < bytes.length; i += wordSize) bytes.subarray(i, i + wordSize).reverse();
  }
  return bytes;
}

/** The bytes of a typed array in little-endian order (the array's own memory on little-endian hosts). */
function littleEndianBytes(array: StorageArray): Uint8Array {
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  // The swap is its own inverse, so host to little-endian is the same operation.
  return HOST_IS_LITTLE_ENDIAN ? bytes : littleEndianToHost(bytes.slice(), array.BYTES_PER_ELEMENT);
}

/** Orders strings by code point, which is the byte order of their UTF-8 (Rust's `str` order). */
function compareCodePoints(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(j)!;
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return a.length - i - (b.length - j);
}

/**
 * Reads and checks the header length from the first 8 bytes of a safetensors file.
 *
 * @param prefix - At least the first 8 bytes of the file.
 * @param source - The file name, or `'<buffer>'`, for error messages.
 * @param fileSize - The size of the whole file, when known; the header must fit in it.
 * @returns The header length `N` (the JSON starts at byte 8 and the data at byte `8 + N`).
 * @throws {@link SafetensorsError} when the file is shorter than 8 bytes or the length is
 * larger than 100 MB or than the file.
 */
export function readSafetensorsHeaderLength(
  prefix: Uint8Array,
  source: string,
  fileSize?: number,
): number {
  const available = fileSize ?? prefix.length;
  if (prefix.length < 8 || available < 8) {
    throw new SafetensorsError(
      source,
      `file is ${Math.min(prefix.length, available)} bytes long, shorter than the 8-byte header length that starts every safetensors file`,
    );
  }
  const prefixView = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const low = prefixView.getUint32(0, true);
  const high = prefixView.getUint32(4, true);
  const length = high * 2 ** 32 + low; // may round when huge, but is then rejected anyway
  if (length > MAX_HEADER_BYTES) {
    throw new SafetensorsError(
      source,
      `header length ${high === 0 ? length : BigInt(high) * 2n ** 32n + BigInt(low)} (the little-endian u64 in the first 8 bytes) is larger than the 100 MB limit; this is not a safetensors file, or it is corrupt`,
    );
  }
  if (fileSize !== undefined && 8 + length > fileSize) {
    throw new SafetensorsError(
      source,
      `header length ${length} (the little-endian u64 in the first 8 bytes) is larger than the file allows: the file is ${fileSize} bytes, so at most ${fileSize - 8}; the file is truncated or not a safetensors file`,
    );
  }
  return length;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function parseMetadata(value: unknown, fail: (problem: string) => never): Record<string, string> {
  // The reference reader accepts null as "no metadata".
  if (value === null) return {};
  if (!isRecord(value)) {
    return fail(
      `"__metadata__" must be an object mapping strings to strings, got ${Array.isArray(value) ? 'an array' : typeof value}`,
    );
  }
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') {
      fail(
        `"__metadata__" must map strings to strings, but "${key}" is ${JSON.stringify(item) ?? typeof item}`,
      );
    }
  }
  return Object.fromEntries(Object.entries(value as Record<string, string>));
}

function parseEntry(
  name: string,
  value: unknown,
  fail: (problem: string) => never,
): SafetensorsEntry {
  const where = `tensor "${name}"`;
  if (!isRecord(value)) {
    return fail(`${where} must be an object with "dtype", "shape" and "data_offsets"`);
  }
  for (const key of ['dtype', 'shape', 'data_offsets']) {
    if (!Object.hasOwn(value, key)) {
      fail(`${where} has no "${key}"; every tensor needs "dtype", "shape" and "data_offsets"`);
    }
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (!isDType(dtype)) {
    fail(
      `${where} has ${typeof dtype === 'string' ? 'unsupported' : 'invalid'} dtype ${JSON.stringify(dtype)}; expected one of ${DTYPES.join(', ')}`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    fail(`${where} has shape ${JSON.stringify(shape)}; expected an array of non-negative integers`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every(isCount) ||
    offsets[0] > offsets[1]
  ) {
    fail(
      `${where} has data_offsets ${JSON.stringify(offsets)}; expected [begin, end], non-negative integers with begin <= end`,
    );
  }
  const [begin, end] = offsets as number[];
  const count = elementCount(shape);
  const expected = count === undefined ? undefined : count * CODECS[dtype].itemSize;
  if (expected === undefined || !Number.isSafeInteger(expected)) {
    fail(`${where} has shape ${formatShape(shape)}, too many elements to address`);
  }
  if (end - begin !== expected) {
    fail(
      `${where} (${dtype}, shape ${formatShape(shape)}) should take ${expected} bytes (${count} elements of ${CODECS[dtype].itemSize} bytes), but its data_offsets [${begin}, ${end}] span ${end - begin} bytes`,
    );
  }
  return { name, dtype, shape, begin, end };
}

/**
 * Parses and validates a safetensors header.
 *
 * @param headerBytes - The file from its start: at least the 8-byte length and the JSON header
 * (the whole file is fine).
 * @param source - The file name, or `'<buffer>'`, for error messages.
 * @param fileSize - The size of the whole file. When given, the data section must end exactly
 * at the end of the file: a shorter file is reported as truncated, a longer one as having
 * trailing bytes. When omitted, the extent of the data section is not checked.
 * @returns The entries in data order, the metadata and where the data section starts.
 * @throws {@link SafetensorsError} naming the source and the problem.
 */
export function parseSafetensorsHeader(
  headerBytes: Uint8Array,
  source: string,
  fileSize?: number,
): SafetensorsHeader {
  const fail = (problem: string): never => {
    throw new SafetensorsError(source, problem);
  };
  const headerLength = readSafetensorsHeaderLength(headerBytes, source, fileSize);
  const dataStart = 8 + headerLength;
  if (headerBytes.length < dataStart) {
    fail(
      `the header is ${headerLength} bytes long but only ${headerBytes.length - 8} bytes of it are present; the file is truncated`,
    );
  }
  let text: string;
  try {
    text = utf8.decode(headerBytes.subarray(8, dataStart));
  } catch {
    return fail('header is not valid UTF-8; expected a UTF-8 JSON object');
  }
  if (!text.startsWith('{')) {
    fail(
      `header must be a JSON object starting with "{", got ${JSON.stringify(text.slice(0, 20))}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return fail(`header is not valid JSON (${(error as Error).message})`);
  }
  if (!isRecord(json)) return fail('header must be a JSON object');

  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') metadata = parseMetadata(value, fail);
    else entries.push(parseEntry(name, value, fail));
  }

  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: SafetensorsEntry | undefined;
  for (const entry of entries) {
    if (entry.begin < covered) {
      fail(
        `tensor "${entry.name}" (bytes [${entry.begin}, ${entry.end}]) overlaps tensor "${previous?.name}" (bytes [${previous?.begin}, ${previous?.end}]); tensors may not share bytes`,
      );
    }
    if (entry.begin > covered) {
      const after = previous ? `after tensor "${previous.name}"` : 'at the start of the data';
      fail(
        `${entry.begin - covered} unused bytes ${after} (tensor "${entry.name}" begins at ${entry.begin}, expected ${covered}); the data section must be covered by tensors without gaps`,
      );
    }
    covered = entry.end;
    previous = entry;
  }

  if (fileSize !== undefined) {
    const available = fileSize - dataStart;
    if (covered > available) {
      const last = entries.find((entry) => entry.end > available);
      fail(
        `file is truncated: tensor "${last?.name}" ends at byte ${dataStart + (last?.end ?? 0)} of the file, but the file is only ${fileSize} bytes (the header describes ${covered} bytes of data, ${available} are present)`,
      );
    }
    if (covered < available) {
      fail(
        `${available - covered} unexpected bytes after the last tensor (the header describes ${covered} bytes of data, the file has ${available}); the data section must end with the last tensor`,
      );
    }
  }

  return { entries: new Map(entries.map((entry) => [entry.name, entry])), metadata, dataStart };
}

/**
 * Decodes one tensor's bytes.
 *
 * F32, F16 and BF16 read as float32 (exactly), F64 as float64, and the integer types as int32;
 * I64 values must fit in int32.
 *
 * @param entry - The tensor's header entry.
 * @param bytes - Exactly the tensor's bytes (`entry.end - entry.begin` of them), at any offset.
 * @param source - The file name, or `'<buffer>'`, for error messages.
 * @returns Fresh arrays that do not share memory with `bytes`.
 * @throws {@link SafetensorsError} when the byte count is wrong or an I64 value does not fit in int32.
 */
export function decodeSafetensorsTensor(
  entry: SafetensorsEntry,
  bytes: Uint8Array,
  source: string,
): { dtype: ValueDType; values: Values } {
  const codec = CODECS[entry.dtype];
  const what = `tensor "${entry.name}" (${entry.dtype}, shape ${formatShape(entry.shape)})`;
  const expected = entry.end - entry.begin;
  if (bytes.length !== expected) {
    throw new SafetensorsError(source, `${what} needs ${expected} bytes, got ${bytes.length}`);
  }
  const hostOrder =
    HOST_IS_LITTLE_ENDIAN && bytes.byteOffset % codec.wordSize === 0
      ? bytes
      : // A copy by construction: `slice` on a Node Buffer would be a view at the same offset.
        littleEndianToHost(new Uint8Array(bytes), codec.wordSize);
  const reject: Reject = (problem) => {
    throw new SafetensorsError(source, `${what} ${problem}`);
  };
  return {
    dtype: codec.decodesTo,
    values: codec.decode(hostOrder, expected / codec.itemSize, reject),
  };
}

/**
 * Parses a whole safetensors file held in memory and decodes every tensor.
 *
 * @param bytes - The complete file.
 * @param source - The file name for error messages; `'<buffer>'` by default.
 * @returns The metadata, and the tensors in the order of their data in the file.
 * @throws {@link SafetensorsError} when the file is malformed (see {@link parseSafetensorsHeader}
 * and {@link decodeSafetensorsTensor}).
 */
export function readSafetensors(
  bytes: Uint8Array,
  source = '<buffer>',
): { metadata: Record<string, string>; tensors: Map<string, SafetensorsTensor> } {
  const header = parseSafetensorsHeader(bytes, source, bytes.length);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const entry of header.entries.values()) {
    const start = header.dataStart + entry.begin;
    const { values } = decodeSafetensorsTensor(
      entry,
      bytes.subarray(start, header.dataStart + entry.end),
      source,
    );
    tensors.set(entry.name, { dtype: entry.dtype, shape: [...entry.shape], values });
  }
  return { metadata: header.metadata, tensors };
}

/**
 * Encodes tensors as a safetensors file, in pieces: the first piece is the 8-byte length and
 * the header, then comes each tensor's data in file order. Writing the pieces one after another
 * gives the file; pieces may share memory with the inputs' `values`.
 *
 * The layout is the reference writer's, so the bytes equal what Python `safetensors` writes for
 * the same tensors: `__metadata__` first (its keys sorted, where the reference follows hash
 * order), then the tensors by decreasing dtype alignment and then by name, each tensor's data
 * right after the previous one's, and the JSON padded with spaces to a multiple of 8 bytes.
 *
 * @param tensors - The tensors by name; names must be non-empty and not `__metadata__`.
 * @param metadata - Optional string to string map written as `__metadata__`.
 * @param source - Names the destination in error messages; `'<buffer>'` by default.
 * @throws {@link SafetensorsError} on invalid input, before anything is encoded.
 */
export function serializeSafetensorsParts(
  tensors: Record<string, SafetensorsInput>,
  metadata?: Record<string, string>,
  source = '<buffer>',
): Uint8Array[] {
  const fail = (problem: string): never => {
    throw new SafetensorsError(source, problem);
  };
  const planned = Object.entries(tensors).map(([name, input]) => ({
    name,
    input,
    dtype: checkInput(name, input, fail),
  }));
  planned.sort(
    (a, b) => LAYOUT_RANK[a.dtype] - LAYOUT_RANK[b.dtype] || compareCodePoints(a.name, b.name),
  );

  const fields: string[] = [];
  if (metadata !== undefined) {
    if (!isRecord(metadata)) fail('metadata must be an object mapping strings to strings');
    const keys = Object.keys(metadata).sort();
    for (const key of keys) {
      if (typeof metadata[key] !== 'string') {
        fail(`metadata "${key}" must be a string, got ${typeof metadata[key]}`);
      }
    }
    const items = keys.map((key) => `${JSON.stringify(key)}:${JSON.stringify(metadata[key])}`);
    fields.push(`"__metadata__":{${items.join(',')}}`);
  }

  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const { name, input, dtype } of planned) {
    const reject: Reject = (problem) =>
      fail(`tensor "${name}" (${input.dtype}, shape ${formatShape(input.shape)}) ${problem}`);
    const data = littleEndianBytes(CODECS[dtype].encode(input.values, reject));
    // Built by hand: JSON.stringify of an object would move integer-like names to the front.
    fields.push(
      `${JSON.stringify(name)}:{"dtype":"${dtype}","shape":[${input.shape.join(',')}],"data_offsets":[${offset},${offset + data.length}]}`,
    );
    offset += data.length;
    parts.push(data);
  }

  const json = new TextEncoder().encode(`{${fields.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + headerLength).fill(0x20, 8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerLength), true);
  head.set(json, 8);
  return [head, ...parts];
}

/** Checks one input tensor and returns the dtype to store it as. */
function checkInput(
  name: string,
  input: SafetensorsInput,
  fail: (problem: string) => never,
): SafetensorsDType {
  if (name === '') fail('tensor names must be non-empty');
  if (name === '__metadata__') {
    fail('"__metadata__" is reserved for the metadata map and cannot name a tensor');
  }
  const where = `tensor "${name}"`;
  if (!isRecord(input) || !Object.hasOwn(STORABLE_AS, input.dtype)) {
    fail(`${where} must have dtype "float32", "float64" or "int32"`);
  }
  const arrayType = VALUE_ARRAYS[input.dtype];
  if (!(input.values instanceof arrayType)) {
    fail(`${where} has dtype ${input.dtype}, so its values must be a ${arrayType.name}`);
  }
  if (!Array.isArray(input.shape) || !input.shape.every(isCount)) {
    fail(
      `${where} has shape ${JSON.stringify(input.shape)}; expected an array of non-negative integers`,
    );
  }
  const count = elementCount(input.shape);
  if (count !== input.values.length) {
    fail(
      `${where} has shape ${formatShape(input.shape)} (${count} elements) but ${input.values.length} values`,
    );
  }
  const allowed = STORABLE_AS[input.dtype];
  const dtype = input.storeAs ?? allowed[0];
  if (!allowed.includes(dtype)) {
    fail(
      `${where} has dtype ${input.dtype} and cannot be stored as ${JSON.stringify(dtype)}; expected one of ${allowed.join(', ')}`,
    );
  }
  return dtype;
}

/**
 * Encodes tensors as one safetensors file in memory (see {@link serializeSafetensorsParts} for
 * the layout, which matches Python `safetensors` byte for byte).
 *
 * @param tensors - The tensors by name; names must be non-empty and not `__metadata__`.
 * @param metadata - Optional string to string map written as `__metadata__`.
 * @param source - Names the destination in error messages; `'<buffer>'` by default.
 * @throws {@link SafetensorsError} on invalid input.
 */
export function serializeSafetensors(
  tensors: Record<string, SafetensorsInput>,
  metadata?: Record<string, string>,
  source = '<buffer>',
): Uint8Array {
  const parts = serializeSafetensorsParts(tensors, metadata, source);
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
