/**
 * The parsed-SQL structure of the official Spider evaluator (`process_sql.py`), kept field for
 * field so that `JSON.stringify` of a parse gives the same JSON as Python's `json.dumps` of
 * `get_sql` (tuples become arrays). Ids index the constant tables below.
 */

/** Condition operators; a cond unit stores the index of its operator in this list. */
export const SPIDER_WHERE_OPS = [
  'not',
  'between',
  '=',
  '>',
  '<',
  '>=',
  '<=',
  '!=',
  'in',
  'like',
  'is',
  'exists',
] as const;
/** Arithmetic operators of a value unit; index 0 means "no operator". */
export const SPIDER_UNIT_OPS = ['none', '-', '+', '*', '/'] as const;
/** Aggregates; index 0 means "no aggregate". */
export const SPIDER_AGG_OPS = ['none', 'max', 'min', 'count', 'sum', 'avg'] as const;

/** Clause keywords that end a condition, a FROM or a GROUP/ORDER BY list. */
export const CLAUSE_KEYWORDS: readonly string[] = [
  'select',
  'from',
  'where',
  'group',
  'order',
  'limit',
  'intersect',
  'union',
  'except',
];
/** Keywords of joins and aliases; they also end a condition. */
export const JOIN_KEYWORDS: readonly string[] = ['join', 'on', 'as'];
/** Connectives between cond units. */
export const COND_OPS: readonly string[] = ['and', 'or'];
/** Set operations that attach a second query. */
export const SQL_OPS = ['intersect', 'union', 'except'] as const;
/** ORDER BY directions. */
export const ORDER_OPS: readonly string[] = ['desc', 'asc'];

/**
 * `[aggId, columnId, isDistinct]`: a column (`__table.column__`, or `__all__` for `*`) with an
 * aggregate. `isDistinct` becomes `null` once DISTINCT is disabled by normalisation.
 */
export type SpiderColUnit = [agg: number, colId: string, distinct: boolean | null];

/** `[unitOp, colUnit1, colUnit2]`: one column or two joined by `-`, `+`, `*` or `/`. */
export type SpiderValUnit = [unitOp: number, col1: SpiderColUnit, col2: SpiderColUnit | null];

/**
 * A condition's right-hand side: a number (Python `float`), a quoted string token as written
 * (`"abc"`, with its quotes), a column, a nested query, or `null` (absent, or removed by value
 * normalisation).
 */
export type SpiderValue = number | string | SpiderColUnit | SpiderSql | null;

/** `[not, opId, valUnit, val1, val2]`; `val2` is used by BETWEEN only. */
export type SpiderCondUnit = [
  not: boolean,
  op: number,
  valUnit: SpiderValUnit,
  val1: SpiderValue,
  val2: SpiderValue,
];

/** Cond units alternating with `'and'` / `'or'`: `[cond, 'and', cond, ...]`. */
export type SpiderCondition = Array<SpiderCondUnit | 'and' | 'or'>;

/** A FROM item: a table id (`__table__`) or a subquery. */
export type SpiderTableUnit = ['table_unit', string] | ['sql', SpiderSql];

/** `[]` without ORDER BY, else `[direction, valUnits]` (one direction: the last one written). */
export type SpiderOrderBy = [] | ['asc' | 'desc', SpiderValUnit[]];

/** One parsed query, as `get_sql` of `process_sql.py` returns it. */
export interface SpiderSql {
  /** `[isDistinct, [[aggId, valUnit], ...]]`; `isDistinct` is `null` after normalisation. */
  select: [distinct: boolean | null, items: Array<[agg: number, valUnit: SpiderValUnit]>];
  /** FROM items and the ON conditions of all joins (keys named as in process_sql.py). */
  from: { table_units: SpiderTableUnit[]; conds: SpiderCondition };
  where: SpiderCondition;
  groupBy: SpiderColUnit[];
  orderBy: SpiderOrderBy;
  having: SpiderCondition;
  limit: number | null;
  intersect: SpiderSql | null;
  except: SpiderSql | null;
  union: SpiderSql | null;
}

/** The four difficulty levels of Spider, from `eval_hardness`. */
export type SpiderHardness = 'easy' | 'medium' | 'hard' | 'extra';

/** The levels of a report: the four hardness levels and `all`. */
export const SPIDER_LEVELS = ['easy', 'medium', 'hard', 'extra', 'all'] as const;
/** A report level. */
export type SpiderLevel = (typeof SPIDER_LEVELS)[number];

/** The components of partial matching, in the order the official report prints them. */
export const SPIDER_COMPONENTS = [
  'select',
  'select(no AGG)',
  'where',
  'where(no OP)',
  'group(no Having)',
  'group',
  'order',
  'and/or',
  'IUEN',
  'keywords',
] as const;
/** A partial-matching component. */
export type SpiderComponent = (typeof SPIDER_COMPONENTS)[number];

/** The query the official script substitutes for a prediction it cannot parse. */
export function emptySpiderSql(): SpiderSql {
  return {
    except: null,
    from: { conds: [], table_units: [] },
    groupBy: [],
    having: [],
    intersect: null,
    limit: null,
    orderBy: [],
    select: [false, []],
    union: null,
    where: [],
  };
}

/** True when a value is a nested query (Python `type(val) is dict`). */
export function isSpiderSql(v: unknown): v is SpiderSql {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
