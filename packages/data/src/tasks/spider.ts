import { DataError } from '../errors.js';
import { EOS, SEPARATOR } from './format.js';
import type { FormattedExample, TaskDefinition } from './types.js';

/** A Spider question with its gold SQL and database. */
export interface SpiderExample {
  /** Position in the split file (Spider has no ids), as a string. */
  readonly id: string;
  /** The database, a key of `tables.json` and a folder of `database/`. */
  readonly db_id: string;
  /** The natural-language question. */
  readonly question: string;
  /** The gold SQL, as written in the file (formatting lower-cases and strips it). */
  readonly query: string;
}

/** One database of Spider's `tables.json`. */
export interface SpiderTables {
  readonly db_id: string;
  readonly table_names_original: readonly string[];
  /** `[tableIndex, columnName]`; entry 0 is `[-1, "*"]`. */
  readonly column_names_original: readonly (readonly [number, string])[];
  readonly column_types: readonly string[];
  /** Column indices. */
  readonly primary_keys: readonly (number | readonly number[])[];
  /** `[fromColumn, toColumn]` column indices. */
  readonly foreign_keys: readonly (readonly [number, number])[];
}

/** The Spider prompt prefix of the paper's code (the prompt and `###`). */
export const SPIDER_PREFIX = `Create a sql request for the following question and schema:\n${SEPARATOR}`;

/** The token budget of the paper's Spider filter (input + label tokens, prefix not counted). */
export const SPIDER_MAX_TOKENS = 1536;

/**
 * Python's `str.strip()` with no argument: it removes what `str.isspace()` accepts, which is
 * not JavaScript's `trim()` set (Python also strips U+001C..U+001F and U+0085, and keeps U+FEFF).
 */
function pythonStrip(text: string): string {
  const isSpace = (c: number) =>
    (c >= 0x09 && c <= 0x0d) ||
    (c >= 0x1c && c <= 0x20) ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000;
  let start = 0;
  let end = text.length;
  while (start < end && isSpace(text.charCodeAt(start))) start++;
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

/**
 * Serialises a database schema as the paper's code does. Per table: the table name (case
 * kept), `": "`, then, lower-cased and joined with `" ,  "` (comma, two spaces): every
 * `column type`, `"foreign: "` + `"col from table"` items joined with `" , "` (foreign keys
 * whose source column is in this table, naming the referenced column and its table), and
 * `"primary: "` + the table's primary-key columns joined with `" , "`. Tables are joined with
 * `" | "`. Names are the `*_original` ones.
 */
export function serializeSpiderSchema(db: SpiderTables): string {
  const cols = db.column_names_original;
  const tableOf = (c: number) => cols[c][0];
  const nameOf = (c: number) => cols[c][1];
  // Newer tables.json files list composite primary keys as arrays of column indices.
  const pks = db.primary_keys.flatMap((k) => (Array.isArray(k) ? k : [k])) as number[];
  return db.table_names_original
    .map((table, t) => {
      const columns: string[] = [];
      cols.forEach(([ti, name], c) => {
        if (ti === t) columns.push(`${name} ${db.column_types[c]}`);
      });
      const foreign = db.foreign_keys
        .filter(([from]) => tableOf(from) === t)
        .map(([, to]) => `${nameOf(to)} from ${db.table_names_original[tableOf(to)]}`);
      const primary = pks.filter((k) => tableOf(k) === t).map(nameOf);
      const body = [
        ...columns,
        `foreign: ${foreign.join(' , ')}`,
        `primary: ${primary.join(' , ')}`,
      ];
      return `${table}: ${body.join(' ,  ').toLowerCase()}`;
    })
    .join(' | ');
}

/** Checks a `tables.json` entry's shape; `source` and `index` name it in errors. */
export function spiderTablesFromRecord(
  value: unknown,
  source: string,
  index: number,
): SpiderTables {
  const fail = (m: string): never => {
    throw new DataError(source, m, { example: String(index) });
  };
  if (!value || typeof value !== 'object') fail('a database entry must be an object');
  const o = value as Record<string, unknown>;
  for (const key of [
    'table_names_original',
    'column_names_original',
    'column_types',
    'primary_keys',
    'foreign_keys',
  ]) {
    if (!Array.isArray(o[key])) fail(`"${key}" must be an array`);
  }
  if (typeof o.db_id !== 'string') fail('"db_id" must be a string');
  const db = o as unknown as SpiderTables;
  const nCols = db.column_names_original.length;
  const nTables = db.table_names_original.length;
  db.table_names_original.forEach((t, i) => {
    if (typeof t !== 'string') fail(`${db.db_id}: table name ${i} must be a string`);
  });
  db.column_names_original.forEach((col, c) => {
    const ok =
      Array.isArray(col) &&
      col.length === 2 &&
      Number.isInteger(col[0]) &&
      col[0] >= -1 &&
      col[0] < nTables &&
      typeof col[1] === 'string';
    if (!ok) {
      fail(
        `${db.db_id}: column ${c} must be [tableIndex in -1..${nTables - 1}, name], got ${JSON.stringify(col)}`,
      );
    }
  });
  if (db.column_types.length !== nCols) {
    fail(`${db.db_id}: ${db.column_types.length} column types for ${nCols} columns`);
  }
  const checkCol = (c: unknown, what: string) => {
    if (!Number.isInteger(c) || (c as number) < 0 || (c as number) >= nCols) {
      fail(`${db.db_id}: ${what} refers to column ${String(c)}, outside 0..${nCols - 1}`);
    }
  };
  for (const k of db.primary_keys)
    for (const c of Array.isArray(k) ? k : [k]) checkCol(c, 'a primary key');
  for (const fk of db.foreign_keys) {
    if (!Array.isArray(fk) || fk.length !== 2) {
      fail(`${db.db_id}: a foreign key must be [fromColumn, toColumn], got ${JSON.stringify(fk)}`);
    }
    checkCol(fk[0], 'a foreign key');
    checkCol(fk[1], 'a foreign key');
  }
  return db;
}

/**
 * A Spider example from a `dev.json`/`train_spider.json` (or HF `xlangai/spider`) record;
 * `source` and `line` (when known) name it in errors.
 */
export function spiderExampleFromRecord(
  record: Readonly<Record<string, unknown>>,
  id: string,
  source: string,
  line?: number,
): SpiderExample {
  for (const key of ['db_id', 'question', 'query']) {
    if (typeof record[key] !== 'string') {
      throw new DataError(source, `"${key}" must be a string`, { line, example: id });
    }
  }
  return {
    id,
    db_id: record.db_id as string,
    question: record.question as string,
    query: record.query as string,
  };
}

/**
 * Spider as the paper's code formats it: prefix {@link SPIDER_PREFIX}; input
 * `"Question: " + q + "\\Schema: " + schema + "\n###"` (a literal backslash before `Schema`,
 * as in the Python source); label `query.lower().strip() + "<|endoftext|>"`; examples whose
 * input + label exceed 1536 tokens are dropped on every split. `schemas` maps `db_id` to the
 * serialised schema ({@link serializeSpiderSchema}) or to its `tables.json` entry.
 */
export function spiderTask(
  schemas: ReadonlyMap<string, string | SpiderTables>,
  options: { maxTokens?: number } = {},
): TaskDefinition<SpiderExample> {
  const cache = new Map<string, string>();
  const schemaOf = (ex: SpiderExample): string => {
    let s = cache.get(ex.db_id);
    if (s === undefined) {
      const entry = schemas.get(ex.db_id);
      if (entry === undefined) {
        throw new DataError(
          'spider',
          `database ${JSON.stringify(ex.db_id)} is not in tables.json`,
          {
            example: ex.id,
          },
        );
      }
      s = typeof entry === 'string' ? entry : serializeSpiderSchema(entry);
      cache.set(ex.db_id, s);
    }
    return s;
  };
  return {
    name: 'spider',
    kind: 'generation',
    evalMode: 'generate',
    metrics: ['execution_accuracy', 'exact_match'],
    maxTokens: options.maxTokens ?? SPIDER_MAX_TOKENS,
    format(ex: SpiderExample): FormattedExample[] {
      const sql = pythonStrip(ex.query.toLowerCase());
      return [
        {
          id: ex.id,
          prefix: SPIDER_PREFIX,
          input: `Question: ${ex.question}\\Schema: ${schemaOf(ex)}\n${SEPARATOR}`,
          label: sql + EOS,
          references: [sql],
          meta: { db_id: ex.db_id },
        },
      ];
    },
  };
}
