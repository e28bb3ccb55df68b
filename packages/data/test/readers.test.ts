import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DataError,
  jsonErrorOffset,
  linesOf,
  parseJson,
  parseJsonl,
  parseTsv,
  readParquetRows,
  splitLines,
  streamJsonArray,
} from '../src/index.js';
import {
  readJsonArrayFile,
  readJsonFile,
  readJsonlFile,
  readLines,
  readParquetFile,
  readRecords,
  readTsvFile,
} from '../src/node.js';
import { collect } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'statetune-data-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function write(name: string, content: string | Uint8Array): string {
  const path = join(tmp, name);
  writeFileSync(path, content);
  return path;
}

/** Cuts bytes into pieces of `size`, to put chunk boundaries everywhere. */
function pieces(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

describe('splitLines', () => {
  it('splits at \\n, drops \\r before it and a BOM, whatever the chunk boundaries', async () => {
    const text = '\ufeffé one\r\nzwei 日本\n\nlast no newline';
    const bytes = new TextEncoder().encode(text);
    for (const size of [1, 2, 3, 7, 1000]) {
      const lines = await collect(splitLines(pieces(bytes, size)));
      expect(lines).toEqual([
        { text: 'é one', line: 1 },
        { text: 'zwei 日本', line: 2 },
        { text: '', line: 3 },
        { text: 'last no newline', line: 4 },
      ]);
    }
    expect(await collect(linesOf('a\n'))).toEqual([{ text: 'a', line: 1 }]);
    // Invalid UTF-8 is an error, as Python's utf8 reading makes it, not a silent U+FFFD.
    const bad = Uint8Array.from([...new TextEncoder().encode('ok\nfine\n'), 0xff, 0x0a]);
    await expect(collect(splitLines([bad], 'bad.txt'))).rejects.toThrow(/^bad\.txt: invalid UTF-8/);
    await expect(collect(splitLines(pieces(bad, 1), 'bad.txt'))).rejects.toThrow(
      /^bad\.txt: invalid UTF-8 after line 2/,
    );
    const cut = new TextEncoder().encode('é').subarray(0, 1);
    await expect(collect(splitLines([cut], 'cut.txt'))).rejects.toThrow(/cut\.txt: invalid UTF-8/);
    expect(await collect(linesOf(''))).toEqual([]);
  });
});

describe('parseTsv (GLUE quoting: none)', () => {
  it('keeps quotes as ordinary characters and splits at every tab', async () => {
    // A tab inside quotes still splits: with quoting off there is no quoted field.
    const text = 'a\tb\n" quoted \t x"\t""\n';
    await expect(collect(parseTsv(linesOf(text), { source: 'q.tsv' }))).rejects.toThrow(
      'q.tsv:2: expected 2 tab-separated fields (a, b), got 3',
    );
    const ok = await collect(parseTsv(linesOf('a\tb\n" quoted "\t""\n'), { source: 'q.tsv' }));
    expect(ok).toEqual([{ fields: { a: '" quoted "', b: '""' }, line: 2 }]);
  }, 10_000);

  it('names the file and line of a row with the wrong number of fields', async () => {
    const bad = 'a\tb\n1\t2\n1\t2\t3\n';
    await expect(collect(parseTsv(linesOf(bad), { source: 'bad.tsv' }))).rejects.toThrow(
      'bad.tsv:3: expected 2 tab-separated fields (a, b), got 3',
    );
    const stats = { skipped: 0, skippedLines: [] as number[] };
    const rows = await collect(
      parseTsv(linesOf(`${bad}x\n4\t5\n`), { source: 'bad.tsv', malformed: 'skip', stats }),
    );
    expect(rows.map((r) => r.fields.a)).toEqual(['1', '4']);
    expect(stats).toEqual({ skipped: 2, skippedLines: [3, 4] });
  });

  it('takes column names for headerless files and rejects a repeated header column', async () => {
    const rows = await collect(
      parseTsv(linesOf('x\t1\n'), { source: 'h.tsv', header: ['name', 'value'] }),
    );
    expect(rows).toEqual([{ fields: { name: 'x', value: '1' }, line: 1 }]);
    await expect(collect(parseTsv(linesOf('a\ta\n'), { source: 'h.tsv' }))).rejects.toThrow(
      /h\.tsv:1: header repeats the column "a"/,
    );
  });

  it('reads a file streamed, and reports a missing one', async () => {
    const path = write('t.tsv', '\ufeffQuality\ttext\n1\tA " quote\n0\tB\n');
    const rows = await collect(readTsvFile(path));
    expect(rows.map((r) => r.fields)).toEqual([
      { Quality: '1', text: 'A " quote' },
      { Quality: '0', text: 'B' },
    ]);
    await expect(collect(readTsvFile(join(tmp, 'none.tsv')))).rejects.toThrow(
      /none\.tsv: file not found/,
    );
    expect((await collect(readLines(path))).length).toBe(3);
  });
});

describe('JSON and JSONL', () => {
  it('gives the line of a JSON syntax error', () => {
    for (const [text, offset] of [
      ['{"a": }', 6],
      ['[1, 2', 5],
      ['{"a": "x\n"}', 8],
      ['[tru]', 4],
      ['{"a": 1} x', 9],
      ['"\\q"', 2],
    ] as const) {
      expect(jsonErrorOffset(text), text).toBe(offset);
    }
    expect(() => parseJson('{\n  "a": 1,\n  "b": }\n', 'x.json')).toThrow(
      /^x\.json:3: invalid JSON/,
    );
    try {
      parseJson('[1,\n2,\n', 'y.json');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DataError);
      expect((e as DataError).source).toBe('y.json');
    }
  });

  it('parses JSONL line by line and names a bad line', async () => {
    const good = await collect(parseJsonl(linesOf('{"a":1}\n\n{"a":2}\n'), 'g.jsonl'));
    expect(good).toEqual([
      { value: { a: 1 }, line: 1, index: 0 },
      { value: { a: 2 }, line: 3, index: 1 },
    ]);
    const crlf = await collect(
      parseJsonl(linesOf('\ufeff{"a":1}\r\n\r\n{"a":"x\\r"}\r\n'), 'c.jsonl'),
    );
    expect(crlf.map((r) => r.value)).toEqual([{ a: 1 }, { a: 'x\r' }]);
    const path = write('bad.jsonl', '{"a":1}\n{"a":2}\n{"a":\n');
    await expect(collect(readJsonlFile(path))).rejects.toThrow(/bad\.jsonl:3: invalid JSON/);
  });

  it('streams the elements of a JSON array across any chunk boundaries', async () => {
    const value = [
      { s: 'a ] } [ { " \\" quote', n: [1, [2, { x: null }]] },
      'plain string',
      12.5e3,
      true,
      null,
      [],
      { é: '日本語 🙂' },
    ];
    const text = `\ufeff[\n${value.map((v) => JSON.stringify(v, null, 1)).join(' ,\n')}\n]\n`;
    const bytes = new TextEncoder().encode(text);
    for (const size of [1, 3, 16, 100_000]) {
      const records = await collect(streamJsonArray(pieces(bytes, size), 'a.json'));
      expect(records.map((r) => r.value)).toEqual(value);
      expect(records.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(records[1].line).toBe(text.slice(0, text.indexOf('"plain')).split('\n').length);
    }
    expect(await collect(streamJsonArray(['[]'], 'e.json'))).toEqual([]);
  });

  it('names the file and line of a broken array element', async () => {
    const bad = '[\n{"a": 1},\n{"a": 2,}\n]';
    await expect(collect(streamJsonArray([bad], 'b.json'))).rejects.toThrow(
      /^b\.json:3: invalid JSON/,
    );
    await expect(collect(streamJsonArray(['{"a":1}'], 'o.json'))).rejects.toThrow(
      /o\.json:1: expected a JSON array/,
    );
    await expect(collect(streamJsonArray(['[1,2'], 'u.json'))).rejects.toThrow(/not closed/);
    await expect(collect(streamJsonArray(['[1 2]'], 'c.json'))).rejects.toThrow(
      /expected ',' or ']'/,
    );
    await expect(collect(streamJsonArray(['[1,]'], 't.json'))).rejects.toThrow(/trailing comma/);
    await expect(collect(streamJsonArray(['[1]\n 2'], 'x.json'))).rejects.toThrow(
      /x\.json:2: unexpected "2" after the end of the array/,
    );
    await expect(collect(streamJsonArray(['[,1]'], 'y.json'))).rejects.toThrow(
      /y\.json:1: unexpected ',' in the array/,
    );
    const path = write('arr.json', '[{"a": 1}, {"a": 2}]');
    expect((await collect(readJsonArrayFile(path))).map((r) => r.value)).toEqual([
      { a: 1 },
      { a: 2 },
    ]);
    expect(await readJsonFile(path)).toEqual([{ a: 1 }, { a: 2 }]);
    // A byte-order mark before a whole JSON file (JSON.parse alone rejects it).
    expect(await readJsonFile(write('bom.json', '\ufeff{"a": [1]}'))).toEqual({ a: [1] });
    await expect(
      readJsonFile(write('latin1.json', Uint8Array.from([0x22, 0xe9, 0x22]))),
    ).rejects.toThrow(/latin1\.json: invalid UTF-8/);
    await expect(
      collect(streamJsonArray([Uint8Array.from([0x5b, 0x0a, 0x22, 0xe9, 0x22, 0x5d])], 's.json')),
    ).rejects.toThrow(/s\.json: invalid UTF-8/);
    await expect(readJsonFile(write('bad.json', '\ufeff{\n"a": }'))).rejects.toThrow(
      /bad\.json:2: invalid JSON at column 6/,
    );
  });
});

describe('parquet (written with hyparquet-writer)', () => {
  const n = 25;
  const buffer = parquetWriteBuffer({
    columnData: [
      {
        name: 'sentence',
        data: Array.from({ length: n }, (_, i) => `sentence ${i} — é`),
        type: 'STRING',
      },
      { name: 'label', data: Array.from({ length: n }, (_, i) => BigInt(i % 2)), type: 'INT64' },
      { name: 'idx', data: Array.from({ length: n }, (_, i) => i), type: 'INT32' },
    ],
    rowGroupSize: 10,
  });

  it('reads every row group in order, int64 as numbers', async () => {
    const rows = await collect(readParquetRows(buffer, { source: 'mem.parquet' }));
    expect(rows).toHaveLength(n);
    expect(rows[0]).toEqual({ value: { sentence: 'sentence 0 — é', label: 0, idx: 0 }, index: 0 });
    expect(rows[24].value).toEqual({ sentence: 'sentence 24 — é', label: 0, idx: 24 });
    expect(rows.map((r) => r.index)).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('reads a file on disk by byte ranges, selected columns, and via readRecords', async () => {
    const path = write('glue.parquet', new Uint8Array(buffer));
    const rows = await collect(readParquetFile(path, { columns: ['label'] }));
    expect(rows.map((r) => r.value.label)).toEqual(Array.from({ length: n }, (_, i) => i % 2));
    expect(Object.keys(rows[3].value)).toEqual(['label']);
    const records = await collect(readRecords(path));
    expect(records[13].value.sentence).toBe('sentence 13 — é');
  });

  it('says when a file is not parquet', async () => {
    const path = write('not.parquet', 'hello, this is not parquet at all');
    await expect(collect(readParquetFile(path))).rejects.toThrow(
      /not\.parquet: not a readable parquet file/,
    );
  });
});

describe('readRecords', () => {
  it('dispatches on the extension and insists on objects', async () => {
    const jl = write('r.jsonl', '{"id": "a"}\n{"id": "b"}\n');
    expect((await collect(readRecords(jl))).map((r) => r.value.id)).toEqual(['a', 'b']);
    const tsv = write('r.tsv', 'id\n7\n');
    expect((await collect(readRecords(tsv)))[0].value).toEqual({ id: '7' });
    const arr = write('r.json', '[{"id": 1}, 3]');
    await expect(collect(readRecords(arr))).rejects.toThrow(/r\.json:1: record 1 is not an object/);
    await expect(collect(readRecords(write('r.csv', 'a,b')))).rejects.toThrow(/unknown format/);
    const dir = join(tmp, 'folder.json');
    mkdirSync(dir);
    await expect(collect(readRecords(dir))).rejects.toThrow(/folder\.json: not a file/);
  });
});
