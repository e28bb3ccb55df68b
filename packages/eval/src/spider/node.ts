import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SpiderError } from './errors.js';
import {
  prepareSpiderExamples,
  type SpiderEvalType,
  type SpiderEvaluation,
  type SpiderExampleResult,
  type SpiderMatchOptions,
  type SpiderPreparedExample,
  scoreSpiderMatch,
  spiderEvaluation,
} from './evaluate.js';
import { spiderExecMatch } from './exec-match.js';
import {
  parseSpiderTables,
  type SpiderSchema,
  SpiderSchemas,
  type SpiderTablesEntry,
  spiderSchemaFromColumns,
} from './schema.js';
import { type SqliteQueryResult, SqliteQueryRunner } from './sqlite-runner.js';

export { type SqliteQueryResult, SqliteQueryRunner } from './sqlite-runner.js';

/** Reads and checks a Spider `tables.json`. */
export function loadSpiderTables(path: string): SpiderTablesEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new SpiderError('loadSpiderTables', `cannot read ${path}: ${(e as Error).message}`);
  }
  return parseSpiderTables(json, path);
}

/** `<databaseDir>/<dbId>/<dbId>.sqlite`, where Spider keeps each database. */
export function spiderDatabasePath(databaseDir: string, dbId: string): string {
  return join(databaseDir, dbId, `${dbId}.sqlite`);
}

/**
 * The schema of a SQLite file the way the official `get_schema` reads it: the tables of
 * `sqlite_master` and their `PRAGMA table_info` columns, lower-cased. Pass the foreign-key
 * map of the `tables.json` schema to keep foreign-key normalisation.
 */
export function readSqliteSpiderSchema(
  dbPath: string,
  dbId: string,
  foreignKeyMap?: ReadonlyMap<string, string>,
): SpiderSchema {
  if (!existsSync(dbPath)) {
    throw new SpiderError('readSqliteSpiderSchema', `database "${dbId}" not found at ${dbPath}`);
  }
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type='table'")
      .pluck()
      .all() as string[];
    const columns = tables.map((t): [string, string[]] => [
      t,
      (
        db.prepare(`PRAGMA table_info("${t.replaceAll('"', '""')}")`).all() as { name: string }[]
      ).map((c) => c.name),
    ]);
    return spiderSchemaFromColumns(dbId, columns, foreignKeyMap);
  } finally {
    db.close();
  }
}

/** Options of {@link evaluateSpider}. */
export interface SpiderEvalOptions extends SpiderMatchOptions {
  /** `match`, `exec` or `all` (default `all`). */
  etype?: SpiderEvalType;
  /** The folder holding `<db_id>/<db_id>.sqlite`; needed for `exec`, `all` and `schemaSource: 'database'`. */
  databaseDir?: string;
  /** Time limit per query in milliseconds (default 30 000); a prediction over it is wrong. */
  timeoutMs?: number;
  /**
   * Where table and column names come from: `tables` (default) uses `tables.json`;
   * `database` reads each SQLite file as the official script does (foreign keys still come
   * from `tables.json`).
   */
  schemaSource?: 'tables' | 'database';
}

function checkDatabases(
  gold: SpiderMatchOptions['gold'],
  databaseDir: string | undefined,
  why: string,
): Map<string, string> {
  if (databaseDir === undefined) {
    throw new SpiderError(
      'evaluateSpider',
      `${why} needs "databaseDir" (the Spider database folder)`,
    );
  }
  const paths = new Map<string, string>();
  for (const { dbId } of gold) {
    if (paths.has(dbId)) continue;
    const path = spiderDatabasePath(databaseDir, dbId);
    if (!existsSync(path)) {
      throw new SpiderError('evaluateSpider', `database "${dbId}" not found at ${path}`);
    }
    paths.set(dbId, path);
  }
  return paths;
}

async function execExample(
  runner: SqliteQueryRunner,
  ex: SpiderPreparedExample,
  dbPath: string,
  goldCache: Map<string, SqliteQueryResult>,
): Promise<{ exec: boolean; execError?: string }> {
  const pred = await runner.run(dbPath, ex.predSql);
  if (!pred.ok) return { exec: false, execError: pred.error };
  // The official script runs it, but scores an unparsed prediction as the empty query, whose
  // empty result map never equals the gold's.
  if (ex.parseError !== undefined) {
    return {
      exec: false,
      execError: `the prediction ran, but the official parser rejects it (${ex.parseError})`,
    };
  }
  const key = `${ex.dbId}\u0000${ex.goldSql}`;
  let gold = goldCache.get(key);
  if (!gold) {
    gold = await runner.run(dbPath, ex.goldSql);
    goldCache.set(key, gold);
  }
  if (!gold.ok) return { exec: false, execError: `the gold SQL failed: ${gold.error}` };
  const verdict = spiderExecMatch(pred.rows, gold.rows, ex.pred, ex.gold);
  return verdict.error === undefined
    ? { exec: verdict.match }
    : { exec: verdict.match, execError: verdict.error };
}

/**
 * The official Spider evaluation (`evaluation.py --etype match|exec|all`): exact-set match
 * without values and partial scores, execution accuracy on the SQLite databases, and the
 * report per hardness level. Predictions run read-only, one at a time, each under
 * `timeoutMs`; a prediction that fails or times out is wrong, with the reason in
 * `execError`.
 *
 * Throws a {@link SpiderError} when the lists differ in length, a database is not in
 * `tables` or not on disk, or a gold query does not parse.
 *
 * @example
 * const tables = loadSpiderTables('spider/tables.json');
 * const result = await evaluateSpider({
 *   gold: [{ sql: 'SELECT count(*) FROM singer', dbId: 'concert_singer' }],
 *   predicted: ['select count(*) from singer'],
 *   tables,
 *   databaseDir: 'spider/database',
 * });
 * result.scores.all.exec; // 1
 * result.metrics; // { execution_accuracy: 1, exact_match: 1 }
 */
export async function evaluateSpider(options: SpiderEvalOptions): Promise<SpiderEvaluation> {
  const etype = options.etype ?? 'all';
  if (etype !== 'match' && etype !== 'exec' && etype !== 'all') {
    throw new SpiderError(
      'evaluateSpider',
      `etype must be "match", "exec" or "all", got "${etype}"`,
    );
  }
  if (options.gold.length !== options.predicted.length) {
    throw new SpiderError(
      'evaluateSpider',
      `${options.gold.length} gold examples but ${options.predicted.length} predictions; give one prediction per gold example`,
    );
  }
  const needDb = etype !== 'match' || options.schemaSource === 'database';
  const paths = needDb
    ? checkDatabases(options.gold, options.databaseDir, `etype "${etype}"`)
    : new Map<string, string>();
  let tables = options.tables;
  if (options.schemaSource === 'database') {
    const fromJson = tables instanceof SpiderSchemas ? tables : new SpiderSchemas(tables);
    tables = SpiderSchemas.of(
      [...paths].map(([dbId, path]) =>
        readSqliteSpiderSchema(
          path,
          dbId,
          fromJson.has(dbId) ? fromJson.get(dbId).foreignKeyMap : undefined,
        ),
      ),
    );
  }
  const prepared = prepareSpiderExamples({ ...options, tables });
  const examples: SpiderExampleResult[] = prepared.map((ex) => {
    if (etype === 'exec') {
      const r: SpiderExampleResult = { index: ex.index, dbId: ex.dbId, hardness: ex.hardness };
      if (ex.parseError !== undefined) r.parseError = ex.parseError;
      return r;
    }
    return scoreSpiderMatch(ex, options);
  });
  if (etype !== 'match') {
    const runner = new SqliteQueryRunner(options.timeoutMs ?? 30_000);
    const goldCache = new Map<string, SqliteQueryResult>();
    try {
      for (const ex of prepared) {
        const r = await execExample(runner, ex, paths.get(ex.dbId)!, goldCache);
        examples[ex.index].exec = r.exec;
        if (r.execError !== undefined) examples[ex.index].execError = r.execError;
      }
    } finally {
      runner.close();
    }
  }
  return spiderEvaluation(etype, examples);
}
