import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  dartExampleFromRecord,
  dartTask,
  decodeForEvaluation,
  IGNORE_INDEX,
  prepareSplit,
  type SpiderTables,
  samsumTask,
  serializeSpiderSchema,
  spiderTablesFromRecord,
  spiderTask,
  tokenizeForLm,
} from '../src/index.js';
import { loadDart, loadSamsum, loadSpider, loadSpiderTables } from '../src/node.js';
import { dataPath, HAS_DATA, neoxTokenizer } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'statetune-gen-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const CONCERT_SINGER_SCHEMA =
  'stadium: stadium_id number ,  location text ,  name text ,  capacity number ,  highest number ,  lowest number ,  average number ,  foreign:  ,  primary: stadium_id' +
  ' | singer: singer_id number ,  name text ,  country text ,  song_name text ,  song_release_year text ,  age number ,  is_male others ,  foreign:  ,  primary: singer_id' +
  ' | concert: concert_id number ,  concert_name text ,  theme text ,  stadium_id text ,  year text ,  foreign: stadium_id from stadium ,  primary: concert_id' +
  ' | singer_in_concert: concert_id number ,  singer_id text ,  foreign: singer_id from singer , concert_id from concert ,  primary: concert_id';

describe.skipIf(!HAS_DATA)('DART (real dev file)', () => {
  it('keeps every triple set and reference; training has one example per reference', async () => {
    const dev = await loadDart(dataPath('dart', 'dart-v1.1.1-full-dev.json'));
    expect(dev).toHaveLength(2768);
    const task = dartTask();
    const train = dev.flatMap((d) => task.format(d, 'train'));
    const evalSet = dev.flatMap((d) => task.format(d, 'eval'));
    expect(train).toHaveLength(6980);
    expect(evalSet).toHaveLength(2768);
    expect(evalSet.reduce((n, e) => n + e.references.length, 0)).toBe(6980);
    expect(task.metrics).toEqual(['bleu', 'meteor']);
  });

  it('formats the paper strings character for character', async () => {
    const dev = await loadDart(dataPath('dart', 'dart-v1.1.1-full-dev.json'));
    const [t0] = dartTask().format(dev[0], 'train');
    expect([t0.prefix, t0.input, t0.label]).toEqual([
      'Generate text for the following RDF triples:\n',
      'Mars Hill College : JOINED : 1973 | Mars Hill College : LOCATION : Mars Hill, North Carolina###',
      'A school from Mars Hill, North Carolina, joined in 1973.<|endoftext|>',
    ]);
    const train = dartTask().format(dev[421], 'train');
    expect(train.map((e) => e.id)).toEqual(['421#0', '421#1']);
    expect(train[1].label).toBe(
      'The Accademia di Architettura di Mendrisio of Switzerland has 600 students and the dean is called Mario Botta.<|endoftext|>',
    );
    const [ev] = dartTask().format(dev[421], 'eval');
    expect(ev.input).toBe(
      'Accademia di Architettura di Mendrisio : COUNTRY : Switzerland | Accademia di Architettura di Mendrisio : DEAN : Mario Botta | Accademia di Architettura di Mendrisio : NUMBER_OF_STUDENTS : 600###',
    );
    expect(ev.label).toBe(
      'The Accademia di Architettura di Mendrisio is in Switzerland. Its dean is Mario Botta and it has 600 students.###The Accademia di Architettura di Mendrisio of Switzerland has 600 students and the dean is called Mario Botta.<|endoftext|>',
    );
    expect(ev.references).toEqual([
      'The Accademia di Architettura di Mendrisio is in Switzerland. Its dean is Mario Botta and it has 600 students.',
      'The Accademia di Architettura di Mendrisio of Switzerland has 600 students and the dean is called Mario Botta.',
    ]);
  });

  it('builds generation prompts that end in ### and labels that end in EOS', async () => {
    const tok = await neoxTokenizer();
    const dev = await loadDart(dataPath('dart', 'dart-v1.1.1-full-dev.json'));
    const split = prepareSplit(dartTask(), dev.slice(420, 425), tok, { role: 'eval' });
    expect(split.gen).toHaveLength(5);
    const g = split.gen[1];
    expect(tok.decode(g.promptIds, { cleanUpTokenizationSpaces: false })).toBe(
      `Generate text for the following RDF triples:\n${split.formatted[1].input}`,
    );
    expect(g.labelIds.at(-1)).toBe(0);
    // References are the decoded label without its EOS, split back at ### (PAPER §5.3).
    expect(g.references).toEqual([
      'The Accademia di Architettura di Mendrisio is in Switzerland. Its dean is Mario Botta and it has 600 students.',
      'The Accademia di Architettura di Mendrisio of Switzerland has 600 students and the dean is called Mario Botta.',
    ]);
    expect(decodeForEvaluation(tok, g.labelIds)).toBe(`${g.references[0]}###${g.references[1]}`);
  });

  it('reads the Hugging Face layout of annotations too', () => {
    const ex = dartExampleFromRecord(
      { tripleset: [['a', 'b', 'c']], annotations: { source: ['s1', 's2'], text: ['T1', 'T2'] } },
      '9',
      'dart.parquet',
    );
    expect(ex.annotations).toEqual([
      { source: 's1', text: 'T1' },
      { source: 's2', text: 'T2' },
    ]);
    expect(() => dartExampleFromRecord({ tripleset: 'x' }, '4', 'd.json')).toThrow(
      /d\.json \(example 4\): "tripleset" must be an array/,
    );
  });

  it('names the file, line and example of a bad record', async () => {
    const path = join(tmp, 'dart-bad.json');
    writeFileSync(
      path,
      '[\n{"tripleset": [["a", "b", "c"]], "annotations": [{"source": "s", "text": "T"}]},\n{"tripleset": [["a", 1, "c"]], "annotations": []}\n]\n',
    );
    await expect(loadDart(path)).rejects.toThrow(
      /dart-bad\.json:3 \(example 1\): triple 0 must be an array of strings/,
    );
  });
});

describe.skipIf(!HAS_DATA)('SAMSum (real files)', () => {
  it('reads both files and formats dialogue### / summary + EOS', async () => {
    const val = await loadSamsum(dataPath('samsum', 'val.json'));
    const test = await loadSamsum(dataPath('samsum', 'test_part1.json'));
    expect(val).toHaveLength(818);
    expect(test).toHaveLength(319);
    const [e] = samsumTask().format(val[5], 'eval');
    expect(e.id).toBe('val-0005');
    expect(e.prefix).toBe('');
    expect(e.input).toBe(
      "Keith: Meg, pls buy some milk and cereals, I see now we've run out of them\r\nMegan: hm, sure, I can do that\r\nMegan: but did you check in the drawer next to the fridge?\r\nKeith: nope, let me have a look\r\nKeith: ok, false alarm, we have cereal and milk :D\r\nMegan: <file_gif>###",
    );
    expect(e.label).toBe(
      "Megan needn't buy milk and cereals. They're in the drawer next to the fridge.<|endoftext|>",
    );
    expect(e.references).toEqual([
      "Megan needn't buy milk and cereals. They're in the drawer next to the fridge.",
    ]);
    expect(samsumTask().metrics).toEqual(['rouge1', 'rouge2', 'rougeL', 'rougeLsum']);
  });

  it('masks everything but the summary and its EOS', async () => {
    const tok = await neoxTokenizer();
    const test = await loadSamsum(dataPath('samsum', 'test_part1.json'));
    const { lm } = prepareSplit(samsumTask(), test.slice(0, 3), tok, { role: 'train' });
    const summary = tok.encode(
      "Hannah needs Betty's number but Amanda doesn't have it. She needs to contact Larry.<|endoftext|>",
    );
    const labels = Array.from(lm[0].labels);
    const firstLabel = labels.findIndex((l) => l !== IGNORE_INDEX);
    expect(labels.slice(firstLabel)).toEqual(summary);
    expect(lm[0].inputIds.length).toBe(labels.length);
    expect(summary.at(-1)).toBe(0);
  });
});

describe.skipIf(!HAS_DATA)('Spider (real tables.json and dev subset)', () => {
  it('serialises a schema with foreign and primary keys as the paper', async () => {
    const tables = await loadSpiderTables(dataPath('spider', 'tables.json'));
    expect(tables.size).toBe(166);
    expect(serializeSpiderSchema(tables.get('concert_singer')!)).toBe(CONCERT_SINGER_SCHEMA);
  });

  it('formats a question character for character', async () => {
    const { examples, tables } = await loadSpider({
      examples: dataPath('spider', 'dev_subset.json'),
      tables: dataPath('spider', 'tables.json'),
    });
    expect(examples).toHaveLength(614);
    const task = spiderTask(tables);
    const [e0] = task.format(examples[0], 'eval');
    expect(e0.prefix).toBe('Create a sql request for the following question and schema:\n###');
    expect(e0.input).toBe(
      `Question: How many singers do we have?\\Schema: ${CONCERT_SINGER_SCHEMA}\n###`,
    );
    expect(e0.label).toBe('select count(*) from singer<|endoftext|>');
    expect(e0.meta).toEqual({ db_id: 'concert_singer' });
    const [e3] = task.format(examples[3], 'eval');
    expect(e3.label).toBe(
      'select name ,  country ,  age from singer order by age desc<|endoftext|>',
    );
    expect(e3.references).toEqual(['select name ,  country ,  age from singer order by age desc']);
  });

  it('gives generation references as the decoded label (clean-up of spaces included)', async () => {
    const tok = await neoxTokenizer();
    const { examples, tables } = await loadSpider({
      examples: dataPath('spider', 'dev_subset.json'),
      tables: dataPath('spider', 'tables.json'),
    });
    const { gen, formatted } = prepareSplit(spiderTask(tables), examples.slice(3, 4), tok, {
      role: 'eval',
    });
    // transformers' decode (clean_up_tokenization_spaces) turns " ," into ",".
    expect(gen[0].references).toEqual([
      'select name,  country,  age from singer order by age desc',
    ]);
    expect(formatted[0].references).toEqual([
      'select name ,  country ,  age from singer order by age desc',
    ]);
    expect(gen[0].meta).toEqual({ db_id: 'concert_singer' });
  });

  it('drops examples over the token budget (input + label, prefix not counted)', async () => {
    const tok = await neoxTokenizer();
    const { examples, tables } = await loadSpider({
      examples: dataPath('spider', 'dev_subset.json'),
      tables: dataPath('spider', 'tables.json'),
    });
    const sample = examples.slice(0, 40);
    const formatted = sample.map((e) => spiderTask(tables).format(e, 'eval')[0]);
    const sizes = formatted.map((f) => tok.encode(f.input).length + tok.encode(f.label).length);
    const prefixLen = tok.encode(formatted[0].prefix).length;
    expect(prefixLen).toBeGreaterThan(5);
    // The default budget (1536) keeps exactly those within it.
    const full = prepareSplit(spiderTask(tables), sample, tok, { role: 'eval' });
    expect(full.dropped).toEqual(sample.filter((_, i) => sizes[i] > 1536).map((e) => e.id));
    // A budget equal to one example's input + label keeps it although the prefix adds more.
    const budget = sizes[0];
    const cut = prepareSplit(spiderTask(tables, { maxTokens: budget }), sample, tok, {
      role: 'eval',
    });
    const expectedDropped = sample.filter((_, i) => sizes[i] > budget).map((e) => e.id);
    expect(expectedDropped.length).toBeGreaterThan(0);
    expect(expectedDropped.length).toBeLessThan(sample.length);
    expect(cut.dropped).toEqual(expectedDropped);
    expect(cut.lm.map((e) => e.id)).toContain('0');
    expect(cut.lm.find((e) => e.id === '0')!.inputIds.length).toBe(prefixLen + budget - 1);
    expect(cut.gen.map((g) => g.id)).toEqual(cut.lm.map((e) => e.id));
    // The filter applies to training too.
    const train = prepareSplit(spiderTask(tables, { maxTokens: budget }), sample, tok, {
      role: 'train',
    });
    expect(train.dropped).toEqual(expectedDropped);
  });

  it('names the example whose database folder is missing', async () => {
    await expect(
      loadSpider({
        examples: dataPath('spider', 'dev_subset.json'),
        tables: dataPath('spider', 'tables.json'),
        databaseDir: dataPath('spider', 'database'),
      }),
    ).rejects.toThrow(
      /dev_subset\.json:2 \(example 0\): database folder .*concert_singer for db_id "concert_singer" is missing/,
    );
    const path = join(tmp, 'train_small.json');
    writeFileSync(
      path,
      JSON.stringify([
        {
          db_id: 'department_store',
          question: 'How many staff?',
          query: 'SELECT count(*) FROM Staff ',
        },
      ]),
    );
    const ok = await loadSpider({
      examples: path,
      tables: dataPath('spider', 'tables.json'),
      databaseDir: dataPath('spider', 'database'),
    });
    expect(ok.examples[0]).toEqual({
      id: '0',
      db_id: 'department_store',
      question: 'How many staff?',
      query: 'SELECT count(*) FROM Staff ',
    });
    writeFileSync(path, JSON.stringify([{ db_id: 'nope', question: 'q', query: 'x' }]));
    await expect(
      loadSpider({ examples: path, tables: dataPath('spider', 'tables.json') }),
    ).rejects.toThrow(/train_small\.json:1 \(example 0\): database "nope" is not in tables\.json/);
  });
});

describe('loader and format errors (synthetic files)', () => {
  it('names the file, line and example of a bad SAMSum record', async () => {
    const path = join(tmp, 's.jsonl');
    writeFileSync(
      path,
      '{"id": "a", "dialogue": "A: hi", "summary": "S"}\n{"id": "b", "dialogue": "x"}\n',
    );
    await expect(loadSamsum(path)).rejects.toThrow(
      /s\.jsonl:2 \(example b\): "summary" must be a string/,
    );
  });

  it('rejects a tables.json that is not an array, and DART records without references', async () => {
    const path = join(tmp, 'tables.json');
    writeFileSync(path, '{"db_id": "x"}');
    await expect(loadSpiderTables(path)).rejects.toThrow(
      /tables\.json: expected a JSON array of databases/,
    );
    expect(() => dartExampleFromRecord({ tripleset: [] }, '1', 'd.json')).toThrow(
      /d\.json \(example 1\): "annotations" is missing/,
    );
    expect(() =>
      dartExampleFromRecord({ tripleset: [], annotations: [{ source: 's' }] }, '2', 'd.json'),
    ).toThrow(/annotation 0 has no "text" string/);
    const ex = {
      id: '7',
      tripleset: [['a', 'b', 'c']],
      annotations: [{ source: '', text: 'x###y' }],
    };
    // Joined references are split back at ###, so one may not contain it.
    expect(() => dartTask().format(ex, 'eval')).toThrow(
      /dart \(example 7\): a reference contains the separator ###/,
    );
    expect(dartTask().format({ ...ex, annotations: [] }, 'eval')).toEqual([]);
  });
});

describe('Spider tables.json checks', () => {
  const good = {
    db_id: 'd',
    table_names_original: ['T'],
    column_names_original: [
      [-1, '*'],
      [0, 'a'],
    ],
    column_types: ['text', 'number'],
    primary_keys: [1],
    foreign_keys: [],
  };
  it('accepts a well-formed entry and names what is wrong in a bad one', () => {
    expect(spiderTablesFromRecord(good, 'tables.json', 0).db_id).toBe('d');
    const bad = (patch: object) => () =>
      spiderTablesFromRecord({ ...good, ...patch }, 'tables.json', 4);
    expect(bad({ db_id: 3 })).toThrow(/tables\.json \(example 4\): "db_id" must be a string/);
    expect(bad({ foreign_keys: undefined })).toThrow(/"foreign_keys" must be an array/);
    expect(bad({ column_types: ['text'] })).toThrow(/d: 1 column types for 2 columns/);
    expect(
      bad({
        column_names_original: [
          [-1, '*'],
          [1, 'a'],
        ],
      }),
    ).toThrow(/d: column 1 must be \[tableIndex in -1\.\.0, name\], got \[1,"a"\]/);
    expect(bad({ primary_keys: [[1, 2]] })).toThrow(
      /d: a primary key refers to column 2, outside 0\.\.1/,
    );
    expect(bad({ foreign_keys: [[1]] })).toThrow(
      /d: a foreign key must be \[fromColumn, toColumn\]/,
    );
  });
});

describe('Spider schema serialisation (synthetic)', () => {
  it('handles composite keys, several foreign keys and case', () => {
    const db: SpiderTables = {
      db_id: 'x',
      table_names_original: ['Orders', 'Item_Line'],
      column_names_original: [
        [-1, '*'],
        [0, 'Order_ID'],
        [1, 'Order_ID'],
        [1, 'Line_No'],
      ],
      column_types: ['text', 'number', 'number', 'number'],
      primary_keys: [1, [2, 3]],
      foreign_keys: [[2, 1]],
    };
    expect(serializeSpiderSchema(db)).toBe(
      'Orders: order_id number ,  foreign:  ,  primary: order_id | Item_Line: order_id number ,  line_no number ,  foreign: order_id from orders ,  primary: order_id , line_no',
    );
    const task = spiderTask(new Map([['x', db]]));
    expect(
      task.format({ id: '1', db_id: 'x', question: 'Q', query: '  SELECT A  ' }, 'train')[0].label,
    ).toBe('select a<|endoftext|>');
    // Python's strip(): U+001F and U+0085 are white space there, U+FEFF is not.
    expect(
      task.format({ id: '3', db_id: 'x', question: 'Q', query: '\x1fSELECT a\u0085' }, 'train')[0]
        .references,
    ).toEqual(['select a']);
    expect(
      task.format({ id: '4', db_id: 'x', question: 'Q', query: '\ufeffSELECT a ' }, 'train')[0]
        .references,
    ).toEqual(['\ufeffselect a']);
    expect(() => task.format({ id: '2', db_id: 'y', question: 'Q', query: 'q' }, 'train')).toThrow(
      /spider \(example 2\): database "y" is not in tables\.json/,
    );
  });

  it('keeps the prefix out of the filter count', async () => {
    // A stand-in tokenizer: one id per character, so counts are easy to state.
    const { ByteTokenizer } = await import('../src/index.js');
    const tok = new ByteTokenizer();
    const ex = { id: 'a', prefix: 'P'.repeat(50), input: 'abc', label: 'de', references: [] };
    expect(tokenizeForLm(tok, [ex], { maxTokens: 5 }).examples).toHaveLength(1);
    expect(tokenizeForLm(tok, [ex], { maxTokens: 4 }).dropped).toEqual(['a']);
  });
});
