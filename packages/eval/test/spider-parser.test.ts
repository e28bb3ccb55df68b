import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { treebankWordTokenize } from '../src/index.js';
import {
  parseSpiderSql,
  SpiderError,
  type SpiderHardness,
  SpiderSchemas,
  spiderHardness,
  tokenizeSpiderSql,
} from '../src/spider/index.js';
import {
  concertSinger,
  dataDir,
  dataLines,
  hasSpiderData,
  skipReason,
  spiderTables,
} from './spider-helpers.js';

/** A `get_sql` structure: the clauses given, the others as process_sql leaves them empty. */
function sql(clauses: Record<string, unknown>): Record<string, unknown> {
  return {
    where: [],
    groupBy: [],
    having: [],
    orderBy: [],
    limit: null,
    intersect: null,
    union: null,
    except: null,
    ...clauses,
  };
}

interface ParseCase {
  sql: string;
  /** Tokens of process_sql `tokenize`; null when it raises. */
  toks: string[] | null;
  /** The official parser raises on this SQL. */
  error?: true;
  hardness?: SpiderHardness;
  parsed?: unknown;
}

// Hand-written SQL on concert_singer; tokens, structures and hardness are what the official
// process_sql.py / evaluation.py (NLTK 3.10 word tokenizer) return for them.
const CASES: ParseCase[] = [
  {
    sql: 'select count(*) from singer where age=20',
    toks: ['select', 'count', '(', '*', ')', 'from', 'singer', 'where', 'age=20'],
    error: true,
  },
  {
    sql: "select name from singer where age != 20 and country = 'France' or age > 3",
    toks: [
      'select',
      'name',
      'from',
      'singer',
      'where',
      'age',
      '!=',
      '20',
      'and',
      'country',
      '=',
      '"France"',
      'or',
      'age',
      '>',
      '3',
    ],
    hardness: 'medium',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [false, [[0, [0, [0, '__singer.name__', false], null]]]],
      where: [
        [false, 7, [0, [0, '__singer.age__', false], null], 20.0, null],
        'and',
        [false, 2, [0, [0, '__singer.country__', false], null], '"France"', null],
        'or',
        [false, 3, [0, [0, '__singer.age__', false], null], 3.0, null],
      ],
    }),
  },
  {
    sql: 'select t1.name from singer as t1 join concert as t2 on t1.singer_id = t2.concert_id where t1.age between 1 and 5',
    toks: [
      'select',
      't1.name',
      'from',
      'singer',
      'as',
      't1',
      'join',
      'concert',
      'as',
      't2',
      'on',
      't1.singer_id',
      '=',
      't2.concert_id',
      'where',
      't1.age',
      'between',
      '1',
      'and',
      '5',
    ],
    hardness: 'medium',
    parsed: sql({
      from: {
        table_units: [
          ['table_unit', '__singer__'],
          ['table_unit', '__concert__'],
        ],
        conds: [
          [
            false,
            2,
            [0, [0, '__singer.singer_id__', false], null],
            [0, '__concert.concert_id__', false],
            null,
          ],
        ],
      },
      select: [false, [[0, [0, [0, '__singer.name__', false], null]]]],
      where: [[false, 1, [0, [0, '__singer.age__', false], null], 1.0, 5.0]],
    }),
  },
  {
    sql: 'select max(age), min(age), avg(age) from singer',
    toks: [
      'select',
      'max',
      '(',
      'age',
      ')',
      ',',
      'min',
      '(',
      'age',
      ')',
      ',',
      'avg',
      '(',
      'age',
      ')',
      'from',
      'singer',
    ],
    hardness: 'medium',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [
        false,
        [
          [1, [0, [0, '__singer.age__', false], null]],
          [2, [0, [0, '__singer.age__', false], null]],
          [5, [0, [0, '__singer.age__', false], null]],
        ],
      ],
    }),
  },
  {
    sql: 'select name from singer where singer_id not in (select singer_id from singer_in_concert)',
    toks: [
      'select',
      'name',
      'from',
      'singer',
      'where',
      'singer_id',
      'not',
      'in',
      '(',
      'select',
      'singer_id',
      'from',
      'singer_in_concert',
      ')',
    ],
    hardness: 'hard',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [false, [[0, [0, [0, '__singer.name__', false], null]]]],
      where: [
        [
          true,
          8,
          [0, [0, '__singer.singer_id__', false], null],
          sql({
            from: { table_units: [['table_unit', '__singer_in_concert__']], conds: [] },
            select: [false, [[0, [0, [0, '__singer_in_concert.singer_id__', false], null]]]],
          }),
          null,
        ],
      ],
    }),
  },
  {
    sql: 'select name from singer order by age desc, name asc limit 3',
    toks: [
      'select',
      'name',
      'from',
      'singer',
      'order',
      'by',
      'age',
      'desc',
      ',',
      'name',
      'asc',
      'limit',
      '3',
    ],
    hardness: 'medium',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [false, [[0, [0, [0, '__singer.name__', false], null]]]],
      orderBy: [
        'asc',
        [
          [0, [0, '__singer.age__', false], null],
          [0, [0, '__singer.name__', false], null],
        ],
      ],
      limit: 3,
    }),
  },
  {
    sql: "select name from singer where name like '%a%' intersect select name from singer",
    toks: [
      'select',
      'name',
      'from',
      'singer',
      'where',
      'name',
      'like',
      '"%a%"',
      'intersect',
      'select',
      'name',
      'from',
      'singer',
    ],
    hardness: 'extra',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [false, [[0, [0, [0, '__singer.name__', false], null]]]],
      where: [[false, 9, [0, [0, '__singer.name__', false], null], '"%a%"', null]],
      intersect: sql({
        from: { table_units: [['table_unit', '__singer__']], conds: [] },
        select: [false, [[0, [0, [0, '__singer.name__', false], null]]]],
      }),
    }),
  },
  {
    sql: 'select distinct country from singer',
    toks: ['select', 'distinct', 'country', 'from', 'singer'],
    hardness: 'easy',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [true, [[0, [0, [0, '__singer.country__', false], null]]]],
    }),
  },
  {
    sql: 'select count(distinct country) from singer',
    toks: ['select', 'count', '(', 'distinct', 'country', ')', 'from', 'singer'],
    hardness: 'easy',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [false, [[3, [0, [0, '__singer.country__', true], null]]]],
    }),
  },
  {
    sql: 'select age - age from singer',
    toks: ['select', 'age', '-', 'age', 'from', 'singer'],
    hardness: 'easy',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [false, [[0, [1, [0, '__singer.age__', false], [0, '__singer.age__', false]]]]],
    }),
  },
  {
    sql: 'select (age + age) from singer',
    toks: ['select', '(', 'age', '+', 'age', ')', 'from', 'singer'],
    hardness: 'easy',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [false, [[0, [2, [0, '__singer.age__', false], [0, '__singer.age__', false]]]]],
    }),
  },
  {
    sql: 'select name from singer where age > (select avg(age) from singer)',
    toks: [
      'select',
      'name',
      'from',
      'singer',
      'where',
      'age',
      '>',
      '(',
      'select',
      'avg',
      '(',
      'age',
      ')',
      'from',
      'singer',
      ')',
    ],
    hardness: 'hard',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [false, [[0, [0, [0, '__singer.name__', false], null]]]],
      where: [
        [
          false,
          3,
          [0, [0, '__singer.age__', false], null],
          sql({
            from: { table_units: [['table_unit', '__singer__']], conds: [] },
            select: [false, [[5, [0, [0, '__singer.age__', false], null]]]],
          }),
          null,
        ],
      ],
    }),
  },
  {
    sql: 'select * from (select name from singer)',
    toks: ['select', '*', 'from', '(', 'select', 'name', 'from', 'singer', ')'],
    hardness: 'easy',
    parsed: sql({
      from: {
        table_units: [
          [
            'sql',
            sql({
              from: { table_units: [['table_unit', '__singer__']], conds: [] },
              select: [false, [[0, [0, [0, '__singer.name__', false], null]]]],
            }),
          ],
        ],
        conds: [],
      },
      select: [false, [[0, [0, [0, '__all__', false], null]]]],
    }),
  },
  {
    sql: 'select name from singer;',
    toks: ['select', 'name', 'from', 'singer', ';'],
    hardness: 'easy',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [false, [[0, [0, [0, '__singer.name__', false], null]]]],
    }),
  },
  {
    sql: 'select name from singer where not age > 3',
    toks: ['select', 'name', 'from', 'singer', 'where', 'not', 'age', '>', '3'],
    error: true,
  },
  {
    sql: 'SELECT T1.name FROM singer AS t1 WHERE T1.age > 1',
    toks: ['select', 't1.name', 'from', 'singer', 'as', 't1', 'where', 't1.age', '>', '1'],
    hardness: 'easy',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [false, [[0, [0, [0, '__singer.name__', false], null]]]],
      where: [[false, 3, [0, [0, '__singer.age__', false], null], 1.0, null]],
    }),
  },
  {
    sql: 'select name, from singer',
    toks: ['select', 'name', ',', 'from', 'singer'],
    hardness: 'easy',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [false, [[0, [0, [0, '__singer.name__', false], null]]]],
    }),
  },
  {
    sql: 'select name from singer limit 1.5',
    toks: ['select', 'name', 'from', 'singer', 'limit', '1.5'],
    error: true,
  },
  {
    sql: 'select name from singer limit',
    toks: ['select', 'name', 'from', 'singer', 'limit'],
    error: true,
  },
  {
    sql: 'select count(*) as cnt from singer order by cnt',
    toks: ['select', 'count', '(', '*', ')', 'as', 'cnt', 'from', 'singer', 'order', 'by', 'cnt'],
    error: true,
  },
  { sql: "select 'a' from singer", toks: ['select', '"a"', 'from', 'singer'], error: true },
  { sql: 'select name from singer where name = "x\'s"', toks: null, error: true },
  {
    sql: 'select name from singer where age is null',
    toks: ['select', 'name', 'from', 'singer', 'where', 'age', 'is', 'null'],
    error: true,
  },
  {
    sql: 'select name from singer where age = nan',
    toks: ['select', 'name', 'from', 'singer', 'where', 'age', '=', 'nan'],
    hardness: 'easy',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [false, [[0, [0, [0, '__singer.name__', false], null]]]],
      where: [[false, 2, [0, [0, '__singer.age__', false], null], null, null]],
    }),
  },
  {
    sql: 'select name from singer where age = 1e3',
    toks: ['select', 'name', 'from', 'singer', 'where', 'age', '=', '1e3'],
    hardness: 'easy',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [false, [[0, [0, [0, '__singer.name__', false], null]]]],
      where: [[false, 2, [0, [0, '__singer.age__', false], null], 1000.0, null]],
    }),
  },
  {
    sql: 'select name from singer where age = 1_0',
    toks: ['select', 'name', 'from', 'singer', 'where', 'age', '=', '1_0'],
    hardness: 'easy',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [false, [[0, [0, [0, '__singer.name__', false], null]]]],
      where: [[false, 2, [0, [0, '__singer.age__', false], null], 10.0, null]],
    }),
  },
  { sql: '', toks: [], error: true },
  { sql: 'select', toks: ['select'], error: true },
  { sql: 'select name from', toks: ['select', 'name', 'from'], error: true },
  {
    sql: 'select name from singer, concert',
    toks: ['select', 'name', 'from', 'singer', ',', 'concert'],
    error: true,
  },
  {
    sql: 'select name from singer where age >= 3 and age <= 9',
    toks: ['select', 'name', 'from', 'singer', 'where', 'age', '>=', '3', 'and', 'age', '<=', '9'],
    hardness: 'medium',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [false, [[0, [0, [0, '__singer.name__', false], null]]]],
      where: [
        [false, 5, [0, [0, '__singer.age__', false], null], 3.0, null],
        'and',
        [false, 6, [0, [0, '__singer.age__', false], null], 9.0, null],
      ],
    }),
  },
  {
    sql: '= select name from singer',
    toks: ['=', 'select', 'name', 'from', 'singer'],
    error: true,
  },
  {
    sql: 'select name from singer group by country having count(*) > 1 and max(age) < 3 order by count(*)',
    toks: [
      'select',
      'name',
      'from',
      'singer',
      'group',
      'by',
      'country',
      'having',
      'count',
      '(',
      '*',
      ')',
      '>',
      '1',
      'and',
      'max',
      '(',
      'age',
      ')',
      '<',
      '3',
      'order',
      'by',
      'count',
      '(',
      '*',
      ')',
    ],
    hardness: 'medium',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [false, [[0, [0, [0, '__singer.name__', false], null]]]],
      groupBy: [[0, '__singer.country__', false]],
      having: [
        [false, 3, [0, [3, '__all__', false], null], 1.0, null],
        'and',
        [false, 4, [0, [1, '__singer.age__', false], null], 3.0, null],
      ],
      orderBy: ['asc', [[0, [3, '__all__', false], null]]],
    }),
  },
  {
    sql: 'select sum(t1.age) from singer as t1 join singer_in_concert as t2 on t1.singer_id = t2.singer_id join concert as t3 on t2.concert_id = t3.concert_id',
    toks: [
      'select',
      'sum',
      '(',
      't1.age',
      ')',
      'from',
      'singer',
      'as',
      't1',
      'join',
      'singer_in_concert',
      'as',
      't2',
      'on',
      't1.singer_id',
      '=',
      't2.singer_id',
      'join',
      'concert',
      'as',
      't3',
      'on',
      't2.concert_id',
      '=',
      't3.concert_id',
    ],
    hardness: 'medium',
    parsed: sql({
      from: {
        table_units: [
          ['table_unit', '__singer__'],
          ['table_unit', '__singer_in_concert__'],
          ['table_unit', '__concert__'],
        ],
        conds: [
          [
            false,
            2,
            [0, [0, '__singer.singer_id__', false], null],
            [0, '__singer_in_concert.singer_id__', false],
            null,
          ],
          'and',
          [
            false,
            2,
            [0, [0, '__singer_in_concert.concert_id__', false], null],
            [0, '__concert.concert_id__', false],
            null,
          ],
        ],
      },
      select: [false, [[4, [0, [0, '__singer.age__', false], null]]]],
    }),
  },
  {
    sql: 'select name from singer where age > 3 union select name from singer where age < 2 except select name from singer',
    toks: [
      'select',
      'name',
      'from',
      'singer',
      'where',
      'age',
      '>',
      '3',
      'union',
      'select',
      'name',
      'from',
      'singer',
      'where',
      'age',
      '<',
      '2',
      'except',
      'select',
      'name',
      'from',
      'singer',
    ],
    hardness: 'hard',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [false, [[0, [0, [0, '__singer.name__', false], null]]]],
      where: [[false, 3, [0, [0, '__singer.age__', false], null], 3.0, null]],
      union: sql({
        from: { table_units: [['table_unit', '__singer__']], conds: [] },
        select: [false, [[0, [0, [0, '__singer.name__', false], null]]]],
        where: [[false, 4, [0, [0, '__singer.age__', false], null], 2.0, null]],
        except: sql({
          from: { table_units: [['table_unit', '__singer__']], conds: [] },
          select: [false, [[0, [0, [0, '__singer.name__', false], null]]]],
        }),
      }),
    }),
  },
  {
    sql: 'select name from singer where age in (1, 2)',
    toks: ['select', 'name', 'from', 'singer', 'where', 'age', 'in', '(', '1', ',', '2', ')'],
    error: true,
  },
  {
    sql: 'select (select count(*) from singer) from singer',
    toks: [
      'select',
      '(',
      'select',
      'count',
      '(',
      '*',
      ')',
      'from',
      'singer',
      ')',
      'from',
      'singer',
    ],
    error: true,
  },
  {
    sql: 'select name from singer where (age > 3)',
    toks: ['select', 'name', 'from', 'singer', 'where', '(', 'age', '>', '3', ')'],
    error: true,
  },
  {
    sql: 'select count ( * ) from singer',
    toks: ['select', 'count', '(', '*', ')', 'from', 'singer'],
    hardness: 'easy',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [false, [[3, [0, [0, '__all__', false], null]]]],
    }),
  },
  {
    sql: 'select name from singer where age>3',
    toks: ['select', 'name', 'from', 'singer', 'where', 'age', '>', '3'],
    hardness: 'easy',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [false, [[0, [0, [0, '__singer.name__', false], null]]]],
      where: [[false, 3, [0, [0, '__singer.age__', false], null], 3.0, null]],
    }),
  },
  {
    sql: 'select name from singer where age > -3',
    toks: ['select', 'name', 'from', 'singer', 'where', 'age', '>', '-3'],
    hardness: 'easy',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [false, [[0, [0, [0, '__singer.name__', false], null]]]],
      where: [[false, 3, [0, [0, '__singer.age__', false], null], -3.0, null]],
    }),
  },
  {
    sql: 'select name from singer where country = `x`',
    toks: ['select', 'name', 'from', 'singer', 'where', 'country', '=', '`', 'x', '`'],
    error: true,
  },
  {
    sql: 'select name from singer cannot',
    toks: ['select', 'name', 'from', 'singer', 'can', 'not'],
    error: true,
  },
  {
    sql: "select name from singer where name = 'a' --comment",
    toks: ['select', 'name', 'from', 'singer', 'where', 'name', '=', '"a"', '--', 'comment'],
    error: true,
  },
  {
    sql: 'select avg(age) , country from singer group by country order by avg(age) desc limit 1',
    toks: [
      'select',
      'avg',
      '(',
      'age',
      ')',
      ',',
      'country',
      'from',
      'singer',
      'group',
      'by',
      'country',
      'order',
      'by',
      'avg',
      '(',
      'age',
      ')',
      'desc',
      'limit',
      '1',
    ],
    hardness: 'hard',
    parsed: sql({
      from: { table_units: [['table_unit', '__singer__']], conds: [] },
      select: [
        false,
        [
          [5, [0, [0, '__singer.age__', false], null]],
          [0, [0, [0, '__singer.country__', false], null]],
        ],
      ],
      groupBy: [[0, '__singer.country__', false]],
      orderBy: ['desc', [[0, [5, '__singer.age__', false], null]]],
      limit: 1,
    }),
  },
  {
    sql: 'select t1.* from singer as t1',
    toks: ['select', 't1.', '*', 'from', 'singer', 'as', 't1'],
    error: true,
  },
  {
    sql: 'select name from singer where age > 3 and ( age < 5 )',
    toks: [
      'select',
      'name',
      'from',
      'singer',
      'where',
      'age',
      '>',
      '3',
      'and',
      '(',
      'age',
      '<',
      '5',
      ')',
    ],
    error: true,
  },
];

describe('tokenizeSpiderSql', () => {
  it('splits like NLTK and process_sql', () => {
    expect(treebankWordTokenize('a,b (c)>=d!=e t1.x=t2.y count(*)')).toEqual([
      'a',
      ',',
      'b',
      '(',
      'c',
      ')',
      '>',
      '=d',
      '!',
      '=e',
      't1.x=t2.y',
      'count',
      '(',
      '*',
      ')',
    ]);
    expect(tokenizeSpiderSql("SELECT Name FROM t WHERE x != 'New York' AND y >= 2")).toEqual([
      'select',
      'name',
      'from',
      't',
      'where',
      'x',
      '!=',
      '"New York"',
      'and',
      'y',
      '>=',
      '2',
    ]);
    // An escaped quote splits the value in two quoted runs that NLTK keeps as one word, which
    // then matches no stored value (checked against process_sql.py).
    expect(tokenizeSpiderSql("SELECT Name FROM t WHERE x != 'It''s' AND y >= 2")[7]).toBe(
      '__val_30_33____val_34_36__',
    );
    expect(() => tokenizeSpiderSql("select 'a")).toThrow(/odd number of quotes/);
  });
});

describe('parseSpiderSql on hand-written SQL', () => {
  const schema = concertSinger();
  for (const c of CASES) {
    it(c.sql || '(empty string)', () => {
      if (c.toks === null) expect(() => tokenizeSpiderSql(c.sql)).toThrow(SpiderError);
      else expect(tokenizeSpiderSql(c.sql)).toEqual(c.toks);
      if (c.error) {
        expect(() => parseSpiderSql(c.sql, schema)).toThrow(SpiderError);
        return;
      }
      const parsed = parseSpiderSql(c.sql, schema);
      // JSON round trip: Python's NaN and tuples compare as in json.dumps output
      expect(JSON.parse(JSON.stringify(parsed))).toEqual(c.parsed);
      expect(spiderHardness(parsed)).toBe(c.hardness);
    });
  }
});

describe.skipIf(!hasSpiderData)(
  `parseSpiderSql on Spider gold queries${hasSpiderData ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    // Hardness counts from running the official evaluation.py on the same queries.
    const count = (hs: SpiderHardness[]) =>
      Object.fromEntries(
        (['easy', 'medium', 'hard', 'extra'] as const).map((h) => [
          h,
          hs.filter((x) => x === h).length,
        ]),
      );
    // Built on first use: the describe body runs at collection even when the block is skipped.
    let schemas: SpiderSchemas | undefined;
    const schemaOf = (db: string) => {
      schemas ??= new SpiderSchemas(spiderTables());
      return schemas.get(db);
    };

    it('parses every gold query of dev_subset.json with the official hardness counts', () => {
      const dev = JSON.parse(readFileSync(join(dataDir, 'spider', 'dev_subset.json'), 'utf8')) as {
        query: string;
        db_id: string;
      }[];
      expect(dev.length).toBe(614);
      const hs = dev.map((d) => spiderHardness(parseSpiderSql(d.query, schemaOf(d.db_id))));
      expect(count(hs)).toEqual({ easy: 163, medium: 264, hard: 97, extra: 90 });
    });

    it('parses the 2018 gold file and the department_store train queries', () => {
      const gold = dataLines('metric-tests', 'spider', 'gold_subset.txt').map((l) =>
        l.trim().split('\t'),
      );
      const hs = gold.map(([sql, db]) => spiderHardness(parseSpiderSql(sql, schemaOf(db))));
      expect(count(hs)).toEqual({ easy: 165, medium: 262, hard: 95, extra: 92 });
      const dept = dataLines(
        'spider',
        'database',
        'department_store',
        'train_gold_department_store.sql',
      );
      const hd = dept.map((l) => {
        const [sql, db] = l.trim().split('\t');
        return spiderHardness(parseSpiderSql(sql, schemaOf(db)));
      });
      expect(count(hd)).toEqual({ easy: 4, medium: 30, hard: 34, extra: 20 });
    });
  },
);
