import { DataError } from '../errors.js';
import { EOS, SEPARATOR } from './glue.js';
import type { FormattedExample, TaskDefinition } from './types.js';

/** A Spider question with its gold SQL and database. */
export interface SpiderExample {
  /** Position in the split file (Spider has no ids), as a string. */
  readonly id: string;
  readonly db_id: string;
  readonly question: string;
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
    checkCol(fk[0], 'a foreign key');
    checkCol(fk[1], 'a foreign key');
  }
  return db;
}

/** A Spider example from a `dev.json`/`train_spider.json` (or HF `xlangai/spider`) record. */
export function spiderExampleFromRecord(
  record: Readonly<Record<string, unknown>>,
  id: string,
  source: string,
): SpiderExample {
  for (const key of ['db_id', 'question', 'query']) {
    if (typeof record[key] !== 'string') {
      throw new DataError(source, `"${key}" must be a string`, { example: id });
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
      const sql = ex.query.toLowerCase().trim();
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
