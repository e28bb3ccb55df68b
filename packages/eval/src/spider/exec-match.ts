import type { SpiderSql } from './types.js';

/** A cell of a SQLite result: integer, real, text, blob or NULL. */
export type SqliteCell = number | bigint | string | Uint8Array | null;

/** The outcome of {@link spiderExecMatch}. */
export interface SpiderExecVerdict {
  match: boolean;
  /** Set when the results could not be compared (the official script would raise). */
  error?: string;
}

/** Python `==` on sqlite3 values: numbers by value (int and float alike), text, bytes. */
function cellEqual(a: SqliteCell, b: SqliteCell): boolean {
  const na = typeof a === 'number' || typeof a === 'bigint';
  const nb = typeof b === 'number' || typeof b === 'bigint';
  // biome-ignore lint/suspicious/noDoubleEquals: bigint == number compares exact values
  if (na && nb) return a == b;
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }
  return a === b;
}

/**
 * `res_map` of evaluation.py: one entry per SELECT item, keyed by its (normalised) value
 * unit (`colUnit` alone, or `[op, col1, col2]` for arithmetic), holding that result column
 * in row order. A later item with the same key replaces an earlier one.
 */
function resultMap(
  rows: readonly (readonly SqliteCell[])[],
  sql: SpiderSql,
): Map<string, SqliteCell[]> | string {
  const map = new Map<string, SqliteCell[]>();
  const units = sql.select[1].map((item) => item[1]);
  for (let i = 0; i < units.length; i++) {
    const [op, c1, c2] = units[i];
    const key = JSON.stringify(c2 ? [op, c1, c2] : c1);
    const column: SqliteCell[] = [];
    for (const r of rows) {
      if (i >= r.length) {
        return `the query returns ${r.length} columns but its SELECT parses into ${units.length} items`;
      }
      column.push(r[i]);
    }
    map.set(key, column);
  }
  return map;
}

/**
 * `eval_exec_match` of evaluation.py, given both results: the columns of the two results are
 * matched through the parsed SELECT items (so column order does not matter, but row order
 * does, and only the first column of `SELECT *` is compared), and each matched column must be
 * equal value by value. `pred` and `gold` are the normalised queries (a prediction that did
 * not parse is the empty query, which never matches).
 */
export function spiderExecMatch(
  predRows: readonly (readonly SqliteCell[])[],
  goldRows: readonly (readonly SqliteCell[])[],
  pred: SpiderSql,
  gold: SpiderSql,
): SpiderExecVerdict {
  const p = resultMap(predRows, pred);
  const g = resultMap(goldRows, gold);
  if (typeof p === 'string') return { match: false, error: `prediction: ${p}` };
  if (typeof g === 'string') return { match: false, error: `gold: ${g}` };
  if (p.size !== g.size) return { match: false };
  for (const [key, pc] of p) {
    const gc = g.get(key);
    if (gc === undefined || gc.length !== pc.length) return { match: false };
    for (let i = 0; i < pc.length; i++) if (!cellEqual(pc[i], gc[i])) return { match: false };
  }
  return { match: true };
}
