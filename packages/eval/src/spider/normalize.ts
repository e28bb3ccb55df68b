import type { SpiderSchema } from './schema.js';
import {
  isSpiderSql,
  type SpiderColUnit,
  type SpiderCondition,
  type SpiderCondUnit,
  type SpiderSql,
  type SpiderTableUnit,
  type SpiderValUnit,
} from './types.js';

/** The switches of evaluation.py; both are on in the official script and in the paper. */
export interface SpiderNormalizeOptions {
  /** `DISABLE_VALUE`: drop condition values (keep nested queries). Default true. */
  disableValue?: boolean;
  /** `DISABLE_DISTINCT`: drop DISTINCT flags of SELECT and columns. Default true. */
  disableDistinct?: boolean;
}

function rebuildCondValues(cond: SpiderCondition): SpiderCondition {
  return cond.map((c) => {
    if (typeof c === 'string') return c;
    const [not, op, valUnit, v1, v2] = c;
    return [
      not,
      op,
      valUnit,
      isSpiderSql(v1) ? rebuildValues(v1) : null,
      isSpiderSql(v2) ? rebuildValues(v2) : null,
    ] satisfies SpiderCondUnit;
  });
}

/**
 * `rebuild_sql_val`: values of FROM, WHERE and HAVING conditions become null, recursively
 * into their nested queries and into INTERSECT/UNION/EXCEPT; queries in FROM are left as they
 * are (the official code does not visit them).
 */
function rebuildValues(sql: SpiderSql): SpiderSql {
  return {
    ...sql,
    from: { ...sql.from, conds: rebuildCondValues(sql.from.conds) },
    having: rebuildCondValues(sql.having),
    where: rebuildCondValues(sql.where),
    intersect: sql.intersect && rebuildValues(sql.intersect),
    except: sql.except && rebuildValues(sql.except),
    union: sql.union && rebuildValues(sql.union),
  };
}

/** `build_valid_col_units`: the column ids of the tables (not subqueries) in FROM. */
function validColumns(tableUnits: readonly SpiderTableUnit[], schema: SpiderSchema): Set<string> {
  const prefixes = new Set<string>();
  for (const [type, id] of tableUnits) {
    if (type === 'table_unit') prefixes.add(id.slice(0, -2));
  }
  const valid = new Set<string>();
  for (const value of schema.idMap.values()) {
    const dot = value.indexOf('.');
    if (dot >= 0 && prefixes.has(value.slice(0, dot))) valid.add(value);
  }
  return valid;
}

interface ColRebuild {
  readonly valid: ReadonlySet<string>;
  readonly kmap: ReadonlyMap<string, string>;
  readonly disableDistinct: boolean;
}

function colUnit(r: ColRebuild, unit: SpiderColUnit): SpiderColUnit {
  const [agg, colId, distinct] = unit;
  const mapped = r.valid.has(colId) ? (r.kmap.get(colId) ?? colId) : colId;
  return [agg, mapped, r.disableDistinct ? null : distinct];
}

function valUnit(r: ColRebuild, unit: SpiderValUnit): SpiderValUnit {
  const [op, c1, c2] = unit;
  return [op, colUnit(r, c1), c2 && colUnit(r, c2)];
}

function condCols(r: ColRebuild, cond: SpiderCondition): SpiderCondition {
  return cond.map((c) =>
    typeof c === 'string' ? c : ([c[0], c[1], valUnit(r, c[2]), c[3], c[4]] as SpiderCondUnit),
  );
}

/**
 * `rebuild_sql_col`: every column of the top query and of its INTERSECT/UNION/EXCEPT parts is
 * mapped through the foreign-key map when its table is in the top query's FROM, and DISTINCT
 * flags are dropped. Nested queries in conditions and in FROM are not visited (as in the
 * official code).
 */
function rebuildCols(r: ColRebuild, sql: SpiderSql): SpiderSql {
  return {
    ...sql,
    select: [
      r.disableDistinct ? null : sql.select[0],
      sql.select[1].map(([agg, vu]) => [agg, valUnit(r, vu)]),
    ],
    from: { table_units: sql.from.table_units, conds: condCols(r, sql.from.conds) },
    where: condCols(r, sql.where),
    groupBy: sql.groupBy.map((u) => colUnit(r, u)),
    orderBy:
      sql.orderBy.length === 0 ? [] : [sql.orderBy[0], sql.orderBy[1].map((u) => valUnit(r, u))],
    having: condCols(r, sql.having),
    intersect: sql.intersect && rebuildCols(r, sql.intersect),
    except: sql.except && rebuildCols(r, sql.except),
    union: sql.union && rebuildCols(r, sql.union),
  };
}

/**
 * The normalisation evaluation.py applies to both gold and prediction before comparing
 * them: `rebuild_sql_val` (values dropped) then `rebuild_sql_col` (foreign-key columns merged
 * via `schema.foreignKeyMap`, DISTINCT dropped). Returns a new structure; the input is left
 * unchanged.
 */
export function normalizeSpiderSql(
  sql: SpiderSql,
  schema: SpiderSchema,
  options: SpiderNormalizeOptions = {},
): SpiderSql {
  const disableValue = options.disableValue ?? true;
  const disableDistinct = options.disableDistinct ?? true;
  const valid = validColumns(sql.from.table_units, schema);
  const withValues = disableValue ? rebuildValues(sql) : sql;
  return rebuildCols({ valid, kmap: schema.foreignKeyMap, disableDistinct }, withValues);
}
