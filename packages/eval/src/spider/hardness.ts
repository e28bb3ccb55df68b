import {
  isSpiderSql,
  type SpiderColUnit,
  type SpiderCondUnit,
  type SpiderHardness,
  type SpiderSql,
} from './types.js';

const LIKE = 9;

function condUnits(sql: SpiderSql): SpiderCondUnit[] {
  return [...sql.from.conds, ...sql.where, ...sql.having].filter(
    (c): c is SpiderCondUnit => typeof c !== 'string',
  );
}

function countOr(sql: SpiderSql): number {
  return [...sql.from.conds, ...sql.where, ...sql.having].filter((c) => c === 'or').length;
}

/** `get_nestedSQL`: queries in condition values and the INTERSECT/EXCEPT/UNION parts. */
export function nestedSpiderSql(sql: SpiderSql): SpiderSql[] {
  const nested: SpiderSql[] = [];
  for (const c of condUnits(sql)) {
    if (isSpiderSql(c[3])) nested.push(c[3]);
    if (isSpiderSql(c[4])) nested.push(c[4]);
  }
  if (sql.intersect) nested.push(sql.intersect);
  if (sql.except) nested.push(sql.except);
  if (sql.union) nested.push(sql.union);
  return nested;
}

function countComponent1(sql: SpiderSql): number {
  let count = 0;
  if (sql.where.length > 0) count += 1;
  if (sql.groupBy.length > 0) count += 1;
  if (sql.orderBy.length > 0) count += 1;
  if (sql.limit !== null) count += 1;
  if (sql.from.table_units.length > 0) count += sql.from.table_units.length - 1;
  count += countOr(sql);
  count += condUnits(sql).filter((c) => c[1] === LIKE).length;
  return count;
}

// `has_agg` looks at item [0]. Applied to where/having it reads the NOT flag of a cond unit,
// and for the 'and'/'or' entries of HAVING the first letter, which always counts; kept as is.
function countAgg(units: ReadonlyArray<readonly unknown[] | string>): number {
  return units.filter((u) => {
    const first = u[0];
    return first !== 0 && first !== false;
  }).length;
}

function countOthers(sql: SpiderSql): number {
  let count = 0;
  let agg = countAgg(sql.select[1]);
  agg += countAgg(sql.where.filter((_, i) => i % 2 === 0) as SpiderCondUnit[]);
  agg += countAgg(sql.groupBy);
  if (sql.orderBy.length === 2) {
    const units = sql.orderBy[1];
    const cols: SpiderColUnit[] = [
      ...units.map((u) => u[1]),
      ...units.map((u) => u[2]).filter((c): c is SpiderColUnit => c !== null),
    ];
    agg += countAgg(cols);
  }
  agg += countAgg(sql.having);
  if (agg > 1) count += 1;
  if (sql.select[1].length > 1) count += 1;
  if (sql.where.length > 1) count += 1;
  if (sql.groupBy.length > 1) count += 1;
  return count;
}

/**
 * `eval_hardness` of evaluation.py on a parsed (not normalised) gold query: counts of
 * components (WHERE, GROUP BY, ORDER BY, LIMIT, joins, OR, LIKE), of nested queries, and of
 * other features (several aggregates, select columns, where conditions or group columns)
 * decide between easy, medium, hard and extra.
 */
export function spiderHardness(sql: SpiderSql): SpiderHardness {
  const c1 = countComponent1(sql);
  const c2 = nestedSpiderSql(sql).length;
  const others = countOthers(sql);
  if (c1 <= 1 && others === 0 && c2 === 0) return 'easy';
  if ((others <= 2 && c1 <= 1 && c2 === 0) || (c1 <= 2 && others < 2 && c2 === 0)) {
    return 'medium';
  }
  if (
    (others > 2 && c1 <= 2 && c2 === 0) ||
    (c1 > 2 && c1 <= 3 && others <= 2 && c2 === 0) ||
    (c1 <= 1 && others === 0 && c2 <= 1)
  ) {
    return 'hard';
  }
  return 'extra';
}
