import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float32ToBfloat16Bits, float32ToFloat16Bits } from '../../src/io/half.js';
import {
  decodeSafetensorsTensor,
  parseSafetensorsHeader,
  readSafetensors,
  type SafetensorsDType,
  SafetensorsError,
  type SafetensorsInput,
  serializeSafetensors,
} from '../../src/io/safetensors.js';
import {
  readSafetensorsFile,
  SafetensorsFile,
  writeSafetensorsFile,
} from '../../src/io/safetensors-file.js';

const fixtures =
  process.env.STATETUNE_FIXTURES ?? fileURLToPath(new URL('../../../../fixtures', import.meta.url));

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A file made by hand: the 8-byte length (or `length`), the header bytes, then `data`. */
function handMade(
  header: string | Uint8Array,
  data: number | Uint8Array = 0,
  length?: bigint,
): Uint8Array {
  const json = typeof header === 'string' ? encoder.encode(header) : header;
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const file = new Uint8Array(8 + json.length + body.length);
  new DataView(file.buffer).setBigUint64(0, length ?? BigInt(json.length), true);
  file.set(json, 8);
  file.set(body, 8 + json.length);
  return file;
}

/** The header JSON of a serialized file, padding included. */
function headerText(file: Uint8Array): string {
  const length = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  return decoder.decode(file.subarray(8, 8 + length));
}

function thrown(run: () => unknown): SafetensorsError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SafetensorsError);
    return error as SafetensorsError;
  }
  throw new Error('expected a SafetensorsError, nothing was thrown');
}

async function rejected(run: () => Promise<unknown>): Promise<SafetensorsError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(SafetensorsError);
    return error as SafetensorsError;
  }
  throw new Error('expected a SafetensorsError, nothing was thrown');
}

function f32(values: number[], shape = [values.length]): SafetensorsInput {
  return { dtype: 'float32', shape, values: new Float32Array(values) };
}

describe('serializeSafetensors', () => {
  // The byte layouts below are those Python `safetensors` (the Rust crate) produces, written out
  // by hand: sorted keys, `__metadata__` first, no whitespace, spaces up to a multiple of 8.
  it('writes the reference bytes for one F32 tensor', () => {
    const file = serializeSafetensors({ 'attn.0': f32([0, 1, 2, 3, 4, 5], [1, 2, 3]) });
    const json = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    expect(json.length).toBe(64);
    const expected = new Uint8Array([
      64,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      ...encoder.encode(json),
      ...[0, 0, 0, 0],
      ...[0, 0, 128, 63],
      ...[0, 0, 0, 64],
      ...[0, 0, 64, 64],
      ...[0, 0, 128, 64],
      ...[0, 0, 160, 64],
    ]);
    expect(file).toEqual(expected);
  });

  it('pads the header with spaces to a multiple of 8 bytes', () => {
    const file = serializeSafetensors({ attn0: f32([0, 1, 2, 3, 4, 5], [1, 1, 2, 3]) });
    const json = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}';
    expect([...file.subarray(0, 8)]).toEqual([72, 0, 0, 0, 0, 0, 0, 0]);
    expect(headerText(file)).toBe(`${json}       `);
    expect(file.length).toBe(8 + 72 + 24);
  });

  it('writes an empty file and metadata the way the reference does', () => {
    expect([...serializeSafetensors({})]).toEqual([
      8,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      123,
      125,
      ...'      '.split('').map(() => 32),
    ]);
    const withMetadata = serializeSafetensors({}, { framework: 'pt' });
    expect(headerText(withMetadata)).toBe('{"__metadata__":{"framework":"pt"}}     ');
    expect(withMetadata.length).toBe(48);
  });

  it('orders tensors by decreasing alignment, then by name, so every tensor is aligned', () => {
    const file = serializeSafetensors(
      {
        w: f32([1, 2]),
        b: { ...f32([1, 2, 3]), storeAs: 'F16' },
        a: { dtype: 'float64', shape: [1], values: new Float64Array([1]) },
        ids: { dtype: 'int32', shape: [2], values: new Int32Array([1, 2]), storeAs: 'I64' },
        flag: { dtype: 'int32', shape: [1], values: new Int32Array([1]), storeAs: 'BOOL' },
      },
      { z: '1', a: '2' },
    );
    const json =
      '{"__metadata__":{"a":"2","z":"1"},' +
      '"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},' +
      '"a":{"dtype":"F64","shape":[1],"data_offsets":[16,24]},' +
      '"w":{"dtype":"F32","shape":[2],"data_offsets":[24,32]},' +
      '"b":{"dtype":"F16","shape":[3],"data_offsets":[32,38]},' +
      '"flag":{"dtype":"BOOL","shape":[1],"data_offsets":[38,39]}}';
    const padded = json + ' '.repeat((8 - (json.length % 8)) % 8);
    expect(headerText(file)).toBe(padded);
    expect(file.length).toBe(8 + padded.length + 39);
  });

  it('keeps integer-like names in code point order', () => {
    const file = serializeSafetensors({ a: f32([1]), '9': f32([2]), '10': f32([3]) });
    expect(headerText(file).trimEnd()).toBe(
      '{"10":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' +
        '"9":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},' +
        '"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}',
    );
  });

  it('writes little-endian data', () => {
    const file = serializeSafetensors({
      x: { dtype: 'int32', shape: [1], values: new Int32Array([-1]), storeAs: 'I64' },
      y: { dtype: 'int32', shape: [1], values: new Int32Array([-2]), storeAs: 'I16' },
      z: { dtype: 'float32', shape: [1], values: new Float32Array([-2.5]), storeAs: 'F16' },
    });
    const data = file.subarray(file.length - 12);
    expect([...data]).toEqual([255, 255, 255, 255, 255, 255, 255, 255, 0x00, 0xc1, 0xfe, 0xff]);
  });

  const invalid: [
    string,
    Record<string, SafetensorsInput>,
    Record<string, string> | undefined,
    RegExp,
  ][] = [
    ['an empty name', { '': f32([1]) }, undefined, /names must be non-empty/],
    ['the reserved name', { __metadata__: f32([1]) }, undefined, /"__metadata__" is reserved/],
    [
      'too few values',
      { t: f32([1, 2], [3]) },
      undefined,
      /tensor "t" has shape \[3\] \(3 elements\) but 2 values/,
    ],
    [
      'a negative dimension',
      { t: f32([], [-1]) },
      undefined,
      /shape \[-1\]; expected an array of non-negative integers/,
    ],
    [
      'values of the wrong array type',
      { t: { dtype: 'float32', shape: [1], values: new Float64Array([1]) } },
      undefined,
      /dtype float32, so its values must be a Float32Array/,
    ],
    [
      'floats stored as integers',
      { t: { ...f32([1]), storeAs: 'I32' } },
      undefined,
      /cannot be stored as "I32"; expected one of F32, F64, F16, BF16/,
    ],
    [
      'integers stored as floats',
      { t: { dtype: 'int32', shape: [1], values: new Int32Array([1]), storeAs: 'F32' } },
      undefined,
      /cannot be stored as "F32"; expected one of I32, I64, I16, I8, U8, BOOL/,
    ],
    [
      'an integer out of range',
      { t: { dtype: 'int32', shape: [2], values: new Int32Array([5, 300]), storeAs: 'U8' } },
      undefined,
      /tensor "t" \(int32, shape \[2\]\) holds 300 at flat index 1, which does not fit in U8/,
    ],
    [
      'a non-boolean stored as BOOL',
      { t: { dtype: 'int32', shape: [1], values: new Int32Array([2]), storeAs: 'BOOL' } },
      undefined,
      /holds 2 at flat index 0, which does not fit in BOOL/,
    ],
    [
      'a non-string metadata value',
      { t: f32([1]) },
      { n: 3 as unknown as string },
      /metadata "n" must be a string, got number/,
    ],
  ];

  it.each(invalid)('rejects %s', (_, tensors, metadata, message) => {
    const error = thrown(() => serializeSafetensors(tensors, metadata));
    expect(error.source).toBe('<buffer>');
    expect(error.message).toMatch(/^<buffer>: /);
    expect(error.message).toMatch(message);
  });
});

describe('round trips', () => {
  const cases: [SafetensorsDType, SafetensorsInput][] = [
    ['F32', f32([1.5, -2, 3.25e-8, Number.POSITIVE_INFINITY, -0], [5])],
    [
      'F64',
      { dtype: 'float64', shape: [2, 2], values: new Float64Array([Math.PI, -1e300, 5e-324, 0]) },
    ],
    ['F16', { ...f32([1, -2.5, 65504, 2 ** -24, 0.0999755859375, 0], [2, 3]), storeAs: 'F16' }],
    ['BF16', { ...f32([1, -2.5, (2 - 2 ** -7) * 2 ** 127, 2 ** -133]), storeAs: 'BF16' }],
    [
      'I64',
      {
        dtype: 'int32',
        shape: [4],
        values: new Int32Array([0, -1, 2147483647, -2147483648]),
        storeAs: 'I64',
      },
    ],
    [
      'I32',
      { dtype: 'int32', shape: [4], values: new Int32Array([0, -1, 2147483647, -2147483648]) },
    ],
    [
      'I16',
      { dtype: 'int32', shape: [3], values: new Int32Array([-32768, 32767, 7]), storeAs: 'I16' },
    ],
    ['I8', { dtype: 'int32', shape: [3], values: new Int32Array([-128, 127, 0]), storeAs: 'I8' }],
    ['U8', { dtype: 'int32', shape: [3], values: new Int32Array([0, 255, 17]), storeAs: 'U8' }],
    [
      'BOOL',
      { dtype: 'int32', shape: [2, 2], values: new Int32Array([0, 1, 1, 0]), storeAs: 'BOOL' },
    ],
  ];

  it.each(cases)('%s values come back exactly', (dtype, input) => {
    const { tensors } = readSafetensors(serializeSafetensors({ t: input }));
    const tensor = tensors.get('t')!;
    expect(tensor.dtype).toBe(dtype);
    expect(tensor.shape).toEqual(input.shape);
    expect(tensor.values).toEqual(input.values);
  });

  it('reads every dtype at unaligned offsets', () => {
    const file = serializeSafetensors(Object.fromEntries(cases));
    for (const shift of [1, 2, 3, 5]) {
      const buffer = new Uint8Array(file.length + shift);
      buffer.set(file, shift);
      const { tensors } = readSafetensors(buffer.subarray(shift));
      for (const [dtype, input] of cases) expect(tensors.get(dtype)!.values).toEqual(input.values);
    }
  });

  it('reads every dtype from an unaligned Node Buffer, whose slice() is a view', () => {
    const file = serializeSafetensors(Object.fromEntries(cases));
    const buffer = Buffer.alloc(file.length + 3);
    buffer.set(file, 3);
    const { tensors } = readSafetensors(buffer.subarray(3));
    for (const [dtype, input] of cases) expect(tensors.get(dtype)!.values).toEqual(input.values);
  });

  it('rounds floats to the storage type once, to nearest even', () => {
    const values = new Float64Array([0.1, 1 + 2 ** -11 + 2 ** -40, 1e6, -1e-9]);
    const input = { dtype: 'float64', shape: [4], values } as const;
    const file = serializeSafetensors({
      f16: { ...input, storeAs: 'F16' },
      bf16: { ...input, storeAs: 'BF16' },
      f32: { ...input, storeAs: 'F32' },
    });
    const { tensors } = readSafetensors(file);
    expect(tensors.get('f32')!.values).toEqual(Float32Array.from(values));
    const f16 = serializeSafetensors({ t: { ...input, storeAs: 'F16' } });
    const f16Bits = new Uint16Array(f16.slice(f16.length - 8).buffer);
    expect([...f16Bits]).toEqual([...values].map(float32ToFloat16Bits));
    const bf16 = serializeSafetensors({ t: { ...input, storeAs: 'BF16' } });
    const bf16Bits = new Uint16Array(bf16.slice(bf16.length - 8).buffer);
    expect([...bf16Bits]).toEqual([...values].map(float32ToBfloat16Bits));
    expect([...tensors.get('f16')!.values]).toEqual([
      0.0999755859375,
      1 + 2 ** -10,
      Number.POSITIVE_INFINITY,
      -0,
    ]);
  });

  it('stores float32 as F64 and keeps scalars, empty tensors and metadata', () => {
    const file = serializeSafetensors(
      {
        wide: { ...f32([0.1]), storeAs: 'F64' },
        scalar: f32([7], []),
        empty: f32([], [0, 3]),
      },
      { format: 'pt', note: 'ünïcödé "quoted"' },
    );
    const { metadata, tensors } = readSafetensors(file);
    expect(metadata).toEqual({ format: 'pt', note: 'ünïcödé "quoted"' });
    expect(tensors.get('wide')!.values).toEqual(new Float64Array([Math.fround(0.1)]));
    expect(tensors.get('scalar')).toEqual({
      dtype: 'F32',
      shape: [],
      values: new Float32Array([7]),
    });
    expect(tensors.get('empty')).toEqual({
      dtype: 'F32',
      shape: [0, 3],
      values: new Float32Array(0),
    });
  });

  it('returns values that do not share memory with the file', () => {
    const file = serializeSafetensors({ t: f32([1, 2]) });
    const values = readSafetensors(file).tensors.get('t')!.values;
    file.fill(0);
    expect(values).toEqual(new Float32Array([1, 2]));
  });
});

describe('parseSafetensorsHeader', () => {
  const source = 'bad.safetensors';
  const t = (dtype: string, shape: unknown, offsets: unknown) =>
    JSON.stringify({ dtype, shape, data_offsets: offsets });

  const malformed: [string, Uint8Array, RegExp][] = [
    [
      'a file shorter than 8 bytes',
      new Uint8Array(5),
      /5 bytes long, shorter than the 8-byte header length/,
    ],
    [
      'an absurd header length',
      handMade('{}', 0, 200_000_000n),
      /header length 200000000 .* larger than the 100 MB limit/,
    ],
    [
      'a header length that overflows',
      handMade('{}', 0, 0xffffffffffffffffn),
      /header length 18446744073709551615 .* 100 MB limit/,
    ],
    [
      'a header length larger than the file',
      handMade('{}', 0, 1000n),
      /header length 1000 .* larger than the file allows: the file is 10 bytes, so at most 2/,
    ],
    ['a header that is not UTF-8', handMade(new Uint8Array([0x7b, 0xff, 0x7d])), /not valid UTF-8/],
    ['a header that is not JSON', handMade('{"a":'), /not valid JSON/],
    [
      'a header that is not an object',
      handMade('{}'.replace('{}', '[1]')),
      /must be a JSON object starting with "\{"/,
    ],
    [
      'a header with leading whitespace',
      handMade(' {}'),
      /must be a JSON object starting with "\{"/,
    ],
    [
      'metadata that is not a map',
      handMade('{"__metadata__":["a"]}'),
      /"__metadata__" must be an object mapping strings to strings, got an array/,
    ],
    [
      'metadata with a non-string value',
      handMade('{"__metadata__":{"epoch":1}}'),
      /"__metadata__" must map strings to strings, but "epoch" is 1/,
    ],
    [
      'an entry that is not an object',
      handMade('{"t":5}'),
      /tensor "t" must be an object with "dtype", "shape" and "data_offsets"/,
    ],
    [
      'an entry without dtype',
      handMade('{"t":{"shape":[1],"data_offsets":[0,4]}}', 4),
      /tensor "t" has no "dtype"/,
    ],
    [
      'an entry without shape',
      handMade('{"t":{"dtype":"F32","data_offsets":[0,4]}}', 4),
      /tensor "t" has no "shape"/,
    ],
    [
      'an entry without data_offsets',
      handMade('{"t":{"dtype":"F32","shape":[1]}}', 4),
      /tensor "t" has no "data_offsets"/,
    ],
    [
      'a dtype that is not a string',
      handMade(`{"t":${t(4 as unknown as string, [1], [0, 4])}}`, 4),
      /tensor "t" has invalid dtype 4; expected one of F64, F32/,
    ],
    [
      'an unknown dtype',
      handMade(`{"t":${t('F8_E4M3', [1], [0, 1])}}`, 1),
      /tensor "t" has unsupported dtype "F8_E4M3"; expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL/,
    ],
    [
      'a negative dimension',
      handMade(`{"t":${t('F32', [2, -1], [0, 4])}}`, 4),
      /tensor "t" has shape \[2,-1\]; expected an array of non-negative integers/,
    ],
    [
      'a fractional dimension',
      handMade(`{"t":${t('F32', [1.5], [0, 4])}}`, 4),
      /tensor "t" has shape \[1.5\]/,
    ],
    [
      'a shape that is not an array',
      handMade(`{"t":${t('F32', '2', [0, 8])}}`, 8),
      /tensor "t" has shape "2"/,
    ],
    [
      'data_offsets that are not a pair',
      handMade(`{"t":${t('F32', [1], [0])}}`, 4),
      /tensor "t" has data_offsets \[0\]; expected \[begin, end\]/,
    ],
    [
      'data_offsets with begin > end',
      handMade(`{"t":${t('F32', [0], [8, 4])}}`, 8),
      /data_offsets \[8,4\]; expected \[begin, end\], non-negative integers with begin <= end/,
    ],
    [
      'a byte count that does not match shape and dtype',
      handMade(`{"t":${t('F32', [2, 3], [0, 20])}}`, 20),
      /tensor "t" \(F32, shape \[2, 3\]\) should take 24 bytes \(6 elements of 4 bytes\), but its data_offsets \[0, 20\] span 20 bytes/,
    ],
    [
      'a truncated file',
      handMade(`{"t":${t('F32', [4], [0, 16])}}`, 10),
      /file is truncated: tensor "t" ends at byte \d+ of the file, but the file is only \d+ bytes \(the header describes 16 bytes of data, 10 are present\)/,
    ],
    [
      'overlapping tensors',
      handMade(`{"a":${t('F32', [2], [0, 8])},"b":${t('F32', [2], [4, 12])}}`, 12),
      /tensor "b" \(bytes \[4, 12\]\) overlaps tensor "a" \(bytes \[0, 8\]\)/,
    ],
    [
      'a gap between tensors',
      handMade(`{"a":${t('F32', [2], [0, 8])},"b":${t('F32', [2], [12, 20])}}`, 20),
      /4 unused bytes after tensor "a" \(tensor "b" begins at 12, expected 8\)/,
    ],
    [
      'a gap at the start',
      handMade(`{"a":${t('F32', [2], [4, 12])}}`, 12),
      /4 unused bytes at the start of the data/,
    ],
    [
      'bytes after the last tensor',
      handMade(`{"a":${t('F32', [2], [0, 8])}}`, 12),
      /4 unexpected bytes after the last tensor/,
    ],
  ];

  it.each(malformed)('rejects %s', (_, file, message) => {
    const error = thrown(() => readSafetensors(file, source));
    expect(error.source).toBe(source);
    expect(error.message.startsWith(`${source}: `)).toBe(true);
    expect(error.message).toMatch(message);
  });

  it('accepts tensors in any header order, zero-sized tensors sharing an offset, and null metadata', () => {
    const file = handMade(
      `{"b":${t('F32', [1], [4, 8])},"__metadata__":null,"e":${t('F32', [0], [0, 0])},"a":${t('I32', [1], [0, 4])}}`,
      new Uint8Array([1, 0, 0, 0, 0, 0, 128, 63]),
    );
    const header = parseSafetensorsHeader(file, source, file.length);
    expect([...header.entries.keys()]).toEqual(['e', 'a', 'b']);
    expect(header.metadata).toEqual({});
    expect(header.entries.get('b')).toEqual({
      name: 'b',
      dtype: 'F32',
      shape: [1],
      begin: 4,
      end: 8,
    });
    const { tensors } = readSafetensors(file);
    expect(tensors.get('a')!.values).toEqual(new Int32Array([1]));
    expect(tensors.get('b')!.values).toEqual(new Float32Array([1]));
  });

  it('parses from the header bytes alone, checking the data extent only given the file size', () => {
    const file = serializeSafetensors({ t: f32([1, 2, 3]) });
    const header = parseSafetensorsHeader(file, source, file.length);
    const alone = parseSafetensorsHeader(file.subarray(0, header.dataStart), source);
    expect(alone).toEqual(header);
    expect(header.dataStart).toBe(file.length - 12);
    expect(thrown(() => parseSafetensorsHeader(file.subarray(0, 20), source)).message).toMatch(
      /only 12 bytes of it are present; the file is truncated/,
    );
    expect(
      thrown(() =>
        parseSafetensorsHeader(file.subarray(0, header.dataStart), source, file.length - 1),
      ).message,
    ).toMatch(/truncated/);
  });
});

describe('decodeSafetensorsTensor', () => {
  const entry = (dtype: SafetensorsDType, shape: number[], bytes: number) => ({
    name: 'ids',
    dtype,
    shape,
    begin: 0,
    end: bytes,
  });

  it('reads I64 values that fit in int32', () => {
    const bytes = new Uint8Array(new BigInt64Array([0n, -1n, 2147483647n, -2147483648n]).buffer);
    expect(decodeSafetensorsTensor(entry('I64', [4], 32), bytes, 'x')).toEqual({
      dtype: 'int32',
      values: new Int32Array([0, -1, 2147483647, -2147483648]),
    });
  });

  it.each([2147483648n, -2147483649n, 9007199254740993n, -(2n ** 63n)])(
    'rejects the I64 value %s, naming the tensor and the value',
    (value) => {
      const bytes = new Uint8Array(new BigInt64Array([1n, value]).buffer);
      const error = thrown(() =>
        decodeSafetensorsTensor(entry('I64', [2], 16), bytes, 'model.safetensors'),
      );
      expect(error.source).toBe('model.safetensors');
      expect(error.message).toBe(
        `model.safetensors: tensor "ids" (I64, shape [2]) holds ${value} at flat index 1, which does not fit in int32; I64 tensors are read as int32, so every value must lie in [-2147483648, 2147483647]`,
      );
    },
  );

  it('rejects a byte count that does not match the entry', () => {
    expect(
      thrown(() => decodeSafetensorsTensor(entry('F32', [2], 8), new Uint8Array(6), 'x')).message,
    ).toBe('x: tensor "ids" (F32, shape [2]) needs 8 bytes, got 6');
  });

  it('reads BOOL bytes as 0 and 1', () => {
    const decoded = decodeSafetensorsTensor(entry('BOOL', [3], 3), new Uint8Array([0, 1, 0]), 'x');
    expect(decoded.values).toEqual(new Int32Array([0, 1, 0]));
  });
});

describe('fixtures', () => {
  interface ScanCase {
    file: string;
    shape: { batch: number; dim: number; seqlen: number; dstate: number };
    delta_softplus: boolean;
    inputs: string[];
  }
  const scanDir = join(fixtures, 'scan');
  const cases = JSON.parse(readFileSync(join(scanDir, 'cases.json'), 'utf8')) as ScanCase[];

  function expectedShapes({
    batch,
    dim,
    seqlen,
    dstate,
  }: ScanCase['shape']): Record<string, number[]> {
    const sequence = [batch, dim, seqlen];
    return {
      u: sequence,
      delta: sequence,
      z: sequence,
      dy: sequence,
      A: [dim, dstate],
      B: [batch, dstate, seqlen],
      C: [batch, dstate, seqlen],
      D: [dim],
      delta_bias: [dim],
      h0: [dim, dstate],
      state_offset: [dim, dstate],
    };
  }

  it('has cases', () => {
    expect(cases.length).toBeGreaterThan(0);
  });

  it.each(cases.map((c) => [c.file, c] as const))(
    'reads %s with the shapes of cases.json',
    async (_, scanCase) => {
      const { metadata, tensors } = await readSafetensorsFile(join(scanDir, scanCase.file));
      const shapes = expectedShapes(scanCase.shape);
      const { batch, dim, seqlen, dstate } = scanCase.shape;
      expect(metadata.delta_softplus).toBe(scanCase.delta_softplus ? 'True' : 'False');
      for (const input of scanCase.inputs) {
        const tensor = tensors.get(input);
        expect(tensor, input).toBeDefined();
        expect(tensor!.dtype).toBe('F32');
        expect(tensor!.shape, input).toEqual(shapes[input]);
        expect(tensor!.values).toBeInstanceOf(Float32Array);
        if (input !== 'dy') {
          const grad = tensors.get(`expected.grad.${input}`);
          expect(grad?.dtype, `expected.grad.${input}`).toBe('F64');
          expect(grad!.shape).toEqual(shapes[input]);
        }
      }
      const y = tensors.get('expected.y')!;
      expect(y.dtype).toBe('F64');
      expect(y.shape).toEqual([batch, dim, seqlen]);
      expect(y.values).toBeInstanceOf(Float64Array);
      expect(y.values.every(Number.isFinite)).toBe(true);
      expect(tensors.get('expected.last_state')!.shape).toEqual([batch, dim, dstate]);
    },
  );

  it('reads the same values lazily as all at once', async () => {
    const path = join(scanDir, cases[0].file);
    const whole = await readSafetensorsFile(path);
    const file = await SafetensorsFile.open(path);
    try {
      expect(file.names()).toEqual([...whole.tensors.keys()].sort());
      expect(file.header.metadata).toEqual(whole.metadata);
      for (const name of file.names())
        expect(await file.read(name)).toEqual(whole.tensors.get(name));
    } finally {
      await file.close();
    }
  });
});

describe('files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'statetune-safetensors-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const tensors = {
    weight: f32([1, 2, 3, 4, 5, 6], [2, 3]),
    ids: { dtype: 'int32', shape: [3], values: new Int32Array([3, 1, 2]), storeAs: 'I64' },
  } satisfies Record<string, SafetensorsInput>;

  it('writes a file that reads back, all at once and lazily', async () => {
    const path = join(dir, 'model.safetensors');
    await writeSafetensorsFile(path, tensors, { format: 'pt' });
    expect(new Uint8Array(await readFile(path))).toEqual(
      serializeSafetensors(tensors, { format: 'pt' }),
    );
    const whole = await readSafetensorsFile(path);
    expect(whole.metadata).toEqual({ format: 'pt' });
    expect(whole.tensors.get('ids')).toEqual({
      dtype: 'I64',
      shape: [3],
      values: new Int32Array([3, 1, 2]),
    });

    const file = await SafetensorsFile.open(path);
    expect(file.path).toBe(path);
    expect(file.names()).toEqual(['ids', 'weight']);
    expect(file.entry('weight')).toMatchObject({ dtype: 'F32', shape: [2, 3] });
    expect(await file.read('weight')).toEqual(whole.tensors.get('weight'));
    await file.close();
    await file.close();
    const closed = await rejected(() => file.read('weight'));
    expect(closed.message).toBe(`${path}: cannot read tensor "weight": the file is closed`);
    expect(await readdir(dir)).toEqual(['model.safetensors']);
  });

  it('names the path, the tensor and some available names when a tensor is missing', async () => {
    const path = join(dir, 'model.safetensors');
    await writeSafetensorsFile(path, tensors);
    const file = await SafetensorsFile.open(path);
    try {
      const error = thrown(() => file.entry('bias'));
      expect(error.source).toBe(path);
      expect(error.message).toBe(
        `${path}: no tensor named "bias"; the file holds 2 tensors: "ids", "weight"`,
      );
      expect((await rejected(() => file.read('bias'))).message).toBe(error.message);
    } finally {
      await file.close();
    }
  });

  it('detects a truncated file when opening it', async () => {
    const path = join(dir, 'truncated.safetensors');
    await writeSafetensorsFile(path, tensors);
    const size = (await readFile(path)).length;
    await truncate(path, size - 3);
    const error = await rejected(() => SafetensorsFile.open(path));
    expect(error.source).toBe(path);
    expect(error.message).toMatch(
      new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: file is truncated`),
    );
    expect((await rejected(() => readSafetensorsFile(path))).message).toMatch(/truncated/);
    await truncate(path, 4);
    expect((await rejected(() => SafetensorsFile.open(path))).message).toMatch(
      /4 bytes long, shorter than the 8-byte header length/,
    );
    await rm(path);
  });

  it('rejects a header longer than the file when opening it', async () => {
    const path = join(dir, 'long-header.safetensors');
    await writeFile(path, handMade('{}', 0, 64n));
    expect((await rejected(() => SafetensorsFile.open(path))).message).toMatch(
      /header length 64 .* larger than the file allows/,
    );
    await rm(path);
  });

  it('leaves no file behind when the input is invalid', async () => {
    const path = join(dir, 'never.safetensors');
    const invalidInputs: Record<string, SafetensorsInput>[] = [
      { __metadata__: f32([1]) },
      { '': f32([1]) },
      { t: { dtype: 'int32', shape: [1], values: new Int32Array([1000]), storeAs: 'I8' } },
    ];
    for (const input of invalidInputs) {
      const error = await rejected(() => writeSafetensorsFile(path, input));
      expect(error.source).toBe(path);
    }
    expect((await readdir(dir)).filter((name) => name.includes('never'))).toEqual([]);
  });

  it('keeps the previous file when a replacement fails', async () => {
    const path = join(dir, 'kept.safetensors');
    await writeSafetensorsFile(path, tensors);
    const before = await readFile(path);
    await rejected(() => writeSafetensorsFile(path, { t: f32([1, 2], [3]) }));
    expect(await readFile(path)).toEqual(before);
    expect((await readdir(dir)).filter((name) => name.includes('kept'))).toEqual([
      'kept.safetensors',
    ]);
  });

  it('leaves nothing behind when the directory does not exist', async () => {
    await expect(
      writeSafetensorsFile(join(dir, 'missing', 'x.safetensors'), tensors),
    ).rejects.toThrow(/ENOENT/);
  });
});
