import { SpiderError } from './errors.js';

/** One database entry of Spider's `tables.json` (the fields the evaluator reads). */
export interface SpiderTablesEntry {
  /** The database name, also the folder name under `database/`. */
  db_id: string;
  /** Table names as in the database. */
  table_names_original: string[];
  /** `[tableIndex, columnName]` per column; `[-1, "*"]` first. */
  column_names_original: Array<[number, string]>;
  /** Pairs of column indexes `[from, to]`. */
  foreign_keys: Array<[number, number]>;
  /** Other fields of `tables.json` (names, types, primary keys) pass through untouched. */
  [field: string]: unknown;
}

/**
 * What the parser needs to know about a database: its lower-cased tables and columns, the
 * `__table.column__` ids, and the foreign-key map used to treat joined key columns as one.
 */
export interface SpiderSchema {
  /** The database name. */
  readonly dbId: string;
  /** Lower-cased table name -> its lower-cased column names, in order. */
  readonly tables: ReadonlyMap<string, readonly string[]>;
  /**
   * `Schema.idMap` of process_sql.py: `*` -> `__all__`, `table.column` -> `__table.column__`,
   * `table` -> `__table__` (all lower case).
   */
  readonly idMap: ReadonlyMap<string, string>;
  /**
   * `build_foreign_key_map` of evaluation.py: every column of a foreign-key cluster ->
   * the cluster's column with the smallest index. Empty when the schema did not come from
   * `tables.json`.
   */
  readonly foreignKeyMap: ReadonlyMap<string, string>;
}

/**
 * Builds a schema from table and column names (for example read from a SQLite file, as the
 * official `get_schema` does). Names are lower-cased. Pass `foreignKeyMap` from
 * {@link spiderSchemaFromTables} to keep the foreign-key normalisation.
 */
export function spiderSchemaFromColumns(
  dbId: string,
  tables: Iterable<readonly [table: string, columns: readonly string[]]>,
  foreignKeyMap: ReadonlyMap<string, string> = new Map(),
): SpiderSchema {
  const map = new Map<string, string[]>();
  for (const [table, columns] of tables) {
    map.set(
      table.toLowerCase(),
      columns.map((c) => c.toLowerCase()),
    );
  }
  const idMap = new Map<string, string>([['*', '__all__']]);
  for (const [table, columns] of map) {
    for (const c of columns) idMap.set(`${table}.${c}`, `__${table}.${c}__`);
  }
  for (const table of map.keys()) idMap.set(table, `__${table}__`);
  return { dbId, tables: map, idMap, foreignKeyMap };
}

/** Builds the schema of one `tables.json` entry (tables, columns and foreign keys). */
export function spiderSchemaFromTables(entry: SpiderTablesEntry): SpiderSchema {
  const tables: Array<[string, string[]]> = entry.table_names_original.map((t) => [t, []]);
  for (const [t, c] of entry.column_names_original) {
    if (t >= 0) tables[t][1].push(c);
  }
  return spiderSchemaFromColumns(entry.db_id, tables, spiderForeignKeyMap(entry));
}

/**
 * `build_foreign_key_map` of evaluation.py: foreign-key pairs are merged into clusters (a pair
 * joins the first cluster that holds either of its columns), and every column of a cluster
 * maps to the cluster's lowest-index column, as `__table.column__` ids.
 */
export function spiderForeignKeyMap(entry: SpiderTablesEntry): Map<string, string> {
  const ids = entry.column_names_original.map(([t, c]) =>
    t >= 0 ? `__${entry.table_names_original[t].toLowerCase()}.${c.toLowerCase()}__` : '__all__',
  );
  const clusters: Array<Set<number>> = [];
  for (const [k1, k2] of entry.foreign_keys) {
    let cluster = clusters.find((s) => s.has(k1) || s.has(k2));
    if (!cluster) {
      cluster = new Set();
      clusters.push(cluster);
    }
    cluster.add(k1);
    cluster.add(k2);
  }
  const map = new Map<string, string>();
  for (const cluster of clusters) {
    const sorted = [...cluster].sort((a, b) => a - b);
    for (const idx of sorted) map.set(ids[idx], ids[sorted[0]]);
  }
  return map;
}

/**
 * Checks parsed `tables.json` content and returns its entries. Throws a {@link SpiderError}
 * naming the entry and field that is malformed.
 */
export function parseSpiderTables(json: unknown, source = 'tables.json'): SpiderTablesEntry[] {
  if (!Array.isArray(json)) {
    throw new SpiderError(source, `expected an array of database entries, got ${typeof json}`);
  }
  json.forEach((e: unknown, i) => {
    const where = `${source}[${i}]`;
    if (typeof e !== 'object' || e === null) {
      throw new SpiderError(where, 'expected an object');
    }
    const entry = e as Record<string, unknown>;
    if (typeof entry.db_id !== 'string') {
      throw new SpiderError(where, '"db_id" must be a string');
    }
    const names = entry.table_names_original;
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) {
      throw new SpiderError(where, `"table_names_original" of ${entry.db_id} must be strings`);
    }
    const cols = entry.column_names_original;
    const isPair = (p: unknown, second: 'string' | 'number') =>
      Array.isArray(p) && p.length === 2 && Number.isInteger(p[0]) && typeof p[1] === second;
    if (!Array.isArray(cols) || !cols.every((c) => isPair(c, 'string'))) {
      throw new SpiderError(
        where,
        `"column_names_original" of ${entry.db_id} must be [tableIndex, name] pairs`,
      );
    }
    for (const [t] of cols as Array<[number, string]>) {
      if (t < -1 || t >= names.length) {
        throw new SpiderError(where, `column of ${entry.db_id} names table ${t} out of range`);
      }
    }
    const fks = entry.foreign_keys;
    if (
      !Array.isArray(fks) ||
      !fks.every((p) => isPair(p, 'number') && p.every((k: number) => k >= 0 && k < cols.length))
    ) {
      throw new SpiderError(
        where,
        `"foreign_keys" of ${entry.db_id} must be pairs of column indexes`,
      );
    }
  });
  return json as SpiderTablesEntry[];
}

/**
 * Indexes `tables.json` entries by `db_id` and builds each schema on first use.
 */
export class SpiderSchemas {
  readonly #entries = new Map<string, SpiderTablesEntry>();
  readonly #built = new Map<string, SpiderSchema>();

  constructor(entries: readonly SpiderTablesEntry[]) {
    for (const e of entries) this.#entries.set(e.db_id, e);
  }

  /** A collection of ready schemas (for example read from the SQLite files). */
  static of(schemas: Iterable<SpiderSchema>): SpiderSchemas {
    const result = new SpiderSchemas([]);
    for (const s of schemas) result.#built.set(s.dbId, s);
    return result;
  }

  /** True when the database is known. */
  has(dbId: string): boolean {
    return this.#built.has(dbId) || this.#entries.has(dbId);
  }

  /** The schema of a database; throws a {@link SpiderError} naming an unknown `db_id`. */
  get(dbId: string): SpiderSchema {
    let s = this.#built.get(dbId);
    if (!s) {
      const entry = this.#entries.get(dbId);
      if (!entry) {
        throw new SpiderError('SpiderSchemas', `no database "${dbId}" in tables.json`);
      }
      s = spiderSchemaFromTables(entry);
      this.#built.set(dbId, s);
    }
    return s;
  }
}
