import { SpiderError } from './errors.js';
import type { SpiderSchema } from './schema.js';
import { pyIndex, tokenizeSpiderSql } from './tokenize.js';
import {
  CLAUSE_KEYWORDS,
  COND_OPS,
  JOIN_KEYWORDS,
  ORDER_OPS,
  SPIDER_AGG_OPS,
  SPIDER_UNIT_OPS,
  SPIDER_WHERE_OPS,
  type SpiderColUnit,
  type SpiderCondition,
  type SpiderOrderBy,
  type SpiderSql,
  type SpiderTableUnit,
  type SpiderValUnit,
  type SpiderValue,
  SQL_OPS,
} from './types.js';

// A recursive-descent parser that follows process_sql.py step by step, including its quirks
// (FROM is parsed before SELECT from the first `from` token on, one direction for all ORDER BY
// keys, aliases collected from every `as`), because the exact-match verdicts depend on them.
// Every place where the Python code would raise (failed assert, KeyError, IndexError,
// ValueError) throws a SpiderError, and a prediction that throws is scored as the empty query.

const WHERE = 'parseSpiderSql';

interface Ctx {
  readonly toks: readonly string[];
  readonly aliases: ReadonlyMap<string, string>;
  readonly schema: SpiderSchema;
}

function fail(message: string): never {
  throw new SpiderError(WHERE, message);
}

function check(cond: boolean, message: string): void {
  if (!cond) fail(message);
}

function at(toks: readonly string[], i: number): string {
  return pyIndex(toks, i, WHERE);
}

function indexOf(list: readonly string[], tok: string): number {
  return list.indexOf(tok);
}

function lookup(map: ReadonlyMap<string, string>, key: string, what: string): string {
  const v = map.get(key);
  if (v === undefined) fail(`unknown ${what} "${key}"`);
  return v;
}

// process_sql's `isBlock` ending: a unit that began with "(" must end with ")".
function closeParen(
  toks: readonly string[],
  idx: number,
  isBlock: boolean,
  message: string,
): number {
  if (!isBlock) return idx;
  check(at(toks, idx) === ')', message);
  return idx + 1;
}

const DIGITS = '\\d(?:_?\\d)*';
const PY_FLOAT = new RegExp(
  `^[+-]?(?:(?:${DIGITS})?\\.${DIGITS}|${DIGITS}\\.?)(?:[eE][+-]?${DIGITS})?$`,
);
const PY_FLOAT_SPECIAL = /^([+-]?)(inf|infinity|nan)$/i;

/** Python `float(tok)`: decimal/exponent forms, underscores between digits, inf and nan. */
function pyFloat(tok: string): number | undefined {
  const t = tok.trim();
  if (PY_FLOAT.test(t)) return Number(t.replaceAll('_', ''));
  const special = PY_FLOAT_SPECIAL.exec(t);
  if (special) {
    if (special[2].toLowerCase() === 'nan') return Number.NaN;
    return special[1] === '-' ? -Infinity : Infinity;
  }
  return undefined;
}

/** Python `int(tok)` for a LIMIT value. */
function pyInt(tok: string): number {
  const t = tok.trim();
  if (!/^[+-]?\d(?:_?\d)*$/.test(t)) fail(`invalid LIMIT value "${tok}"`);
  return Number.parseInt(t.replaceAll('_', ''), 10);
}

/** `scan_alias` + `get_tables_with_alias`: every `x as y` maps y -> x, plus every table. */
function tablesWithAlias(schema: SpiderSchema, toks: readonly string[]): Map<string, string> {
  const aliases = new Map<string, string>();
  toks.forEach((t, i) => {
    if (t === 'as') aliases.set(at(toks, i + 1), at(toks, i - 1));
  });
  for (const table of schema.tables.keys()) {
    check(!aliases.has(table), `alias "${table}" has the same name as a table`);
    aliases.set(table, table);
  }
  return aliases;
}

function parseCol(
  ctx: Ctx,
  toks: readonly string[],
  start: number,
  defaultTables: readonly string[] | null,
): [number, string] {
  const tok = at(toks, start);
  if (tok === '*') return [start + 1, lookup(ctx.schema.idMap, tok, 'column')];
  if (tok.includes('.')) {
    const parts = tok.split('.');
    check(parts.length === 2, `cannot split "${tok}" into alias.column`);
    const table = lookup(ctx.aliases, parts[0], 'table or alias');
    return [start + 1, lookup(ctx.schema.idMap, `${table}.${parts[1]}`, 'column')];
  }
  check(defaultTables !== null && defaultTables.length > 0, 'no table to resolve a column');
  for (const alias of defaultTables!) {
    const table = lookup(ctx.aliases, alias, 'table or alias');
    const columns = ctx.schema.tables.get(table);
    if (columns === undefined) fail(`unknown table "${table}"`);
    if (columns.includes(tok)) {
      return [start + 1, lookup(ctx.schema.idMap, `${table}.${tok}`, 'column')];
    }
  }
  return fail(`unknown column "${tok}"`);
}

function parseColUnit(
  ctx: Ctx,
  toks: readonly string[],
  start: number,
  defaultTables: readonly string[] | null,
): [number, SpiderColUnit] {
  let idx = start;
  const len = toks.length;
  let isDistinct = false;
  const isBlock = at(toks, idx) === '(';
  if (isBlock) idx += 1;
  const agg = indexOf(SPIDER_AGG_OPS, at(toks, idx));
  if (agg >= 0) {
    idx += 1;
    check(idx < len && at(toks, idx) === '(', 'expected "(" after an aggregate');
    idx += 1;
    if (at(toks, idx) === 'distinct') {
      idx += 1;
      isDistinct = true;
    }
    let colId: string;
    [idx, colId] = parseCol(ctx, toks, idx, defaultTables);
    check(idx < len && at(toks, idx) === ')', 'expected ")" after an aggregate');
    idx += 1;
    // As in process_sql, an opening "(" before an aggregate is not closed here.
    return [idx, [agg, colId, isDistinct]];
  }
  if (at(toks, idx) === 'distinct') {
    idx += 1;
    isDistinct = true;
  }
  const [afterCol, colId] = parseCol(ctx, toks, idx, defaultTables);
  idx = afterCol;
  idx = closeParen(toks, idx, isBlock, 'expected ")"');
  return [idx, [0, colId, isDistinct]];
}

function parseValUnit(
  ctx: Ctx,
  start: number,
  defaultTables: readonly string[] | null,
): [number, SpiderValUnit] {
  const toks = ctx.toks;
  let idx = start;
  const len = toks.length;
  const isBlock = at(toks, idx) === '(';
  if (isBlock) idx += 1;
  let col2: SpiderColUnit | null = null;
  let unitOp = 0;
  const [afterCol1, col1] = parseColUnit(ctx, toks, idx, defaultTables);
  idx = afterCol1;
  if (idx < len && indexOf(SPIDER_UNIT_OPS, at(toks, idx)) >= 0) {
    unitOp = indexOf(SPIDER_UNIT_OPS, at(toks, idx));
    idx += 1;
    [idx, col2] = parseColUnit(ctx, toks, idx, defaultTables);
  }
  idx = closeParen(toks, idx, isBlock, 'expected ")"');
  return [idx, [unitOp, col1, col2]];
}

function parseTableUnit(ctx: Ctx, start: number): [number, string, string] {
  const toks = ctx.toks;
  let idx = start;
  const key = lookup(ctx.aliases, at(toks, idx), 'table or alias');
  if (idx + 1 < toks.length && at(toks, idx + 1) === 'as') idx += 3;
  else idx += 1;
  return [idx, lookup(ctx.schema.idMap, key, 'table'), key];
}

function parseValue(
  ctx: Ctx,
  start: number,
  defaultTables: readonly string[] | null,
): [number, SpiderValue] {
  const toks = ctx.toks;
  let idx = start;
  const len = toks.length;
  const isBlock = at(toks, idx) === '(';
  if (isBlock) idx += 1;
  let val: SpiderValue;
  const tok = at(toks, idx);
  const num = pyFloat(tok);
  if (tok === 'select') {
    [idx, val] = parseSql(ctx, idx);
  } else if (tok.includes('"')) {
    val = tok;
    idx += 1;
  } else if (num !== undefined) {
    val = num;
    idx += 1;
  } else {
    let end = idx;
    while (
      end < len &&
      toks[end] !== ',' &&
      toks[end] !== ')' &&
      toks[end] !== 'and' &&
      !CLAUSE_KEYWORDS.includes(toks[end]) &&
      !JOIN_KEYWORDS.includes(toks[end])
    ) {
      end += 1;
    }
    // The column is parsed from the start of the value, "(" included, on a cut token list.
    [, val] = parseColUnit(ctx, toks.slice(start, end), 0, defaultTables);
    idx = end;
  }
  idx = closeParen(toks, idx, isBlock, 'expected ")" after a value');
  return [idx, val];
}

function parseCondition(
  ctx: Ctx,
  start: number,
  defaultTables: readonly string[] | null,
): [number, SpiderCondition] {
  const toks = ctx.toks;
  let idx = start;
  const len = toks.length;
  const conds: SpiderCondition = [];
  while (idx < len) {
    let valUnit: SpiderValUnit;
    [idx, valUnit] = parseValUnit(ctx, idx, defaultTables);
    let not = false;
    if (at(toks, idx) === 'not') {
      not = true;
      idx += 1;
    }
    check(
      idx < len && indexOf(SPIDER_WHERE_OPS, at(toks, idx)) >= 0,
      `expected a condition operator at token ${idx} ("${toks[idx] ?? ''}")`,
    );
    const op = indexOf(SPIDER_WHERE_OPS, at(toks, idx));
    idx += 1;
    let val1: SpiderValue;
    let val2: SpiderValue = null;
    if (op === 1) {
      // BETWEEN ... AND ...
      [idx, val1] = parseValue(ctx, idx, defaultTables);
      check(at(toks, idx) === 'and', 'expected "and" in BETWEEN');
      idx += 1;
      [idx, val2] = parseValue(ctx, idx, defaultTables);
    } else {
      [idx, val1] = parseValue(ctx, idx, defaultTables);
    }
    conds.push([not, op, valUnit, val1, val2]);
    if (
      idx < len &&
      (CLAUSE_KEYWORDS.includes(toks[idx]) ||
        toks[idx] === ')' ||
        toks[idx] === ';' ||
        JOIN_KEYWORDS.includes(toks[idx]))
    ) {
      break;
    }
    if (idx < len && COND_OPS.includes(toks[idx])) {
      conds.push(toks[idx] as 'and' | 'or');
      idx += 1;
    }
  }
  return [idx, conds];
}

function parseSelect(
  ctx: Ctx,
  start: number,
  defaultTables: readonly string[],
): SpiderSql['select'] {
  const toks = ctx.toks;
  let idx = start;
  const len = toks.length;
  check(at(toks, idx) === 'select', '"select" not found');
  idx += 1;
  let isDistinct = false;
  if (idx < len && toks[idx] === 'distinct') {
    idx += 1;
    isDistinct = true;
  }
  const items: SpiderSql['select'][1] = [];
  while (idx < len && !CLAUSE_KEYWORDS.includes(toks[idx])) {
    let agg = 0;
    const a = indexOf(SPIDER_AGG_OPS, toks[idx]);
    if (a >= 0) {
      agg = a;
      idx += 1;
    }
    let valUnit: SpiderValUnit;
    [idx, valUnit] = parseValUnit(ctx, idx, defaultTables);
    items.push([agg, valUnit]);
    if (idx < len && toks[idx] === ',') idx += 1;
  }
  return [isDistinct, items];
}

function parseFrom(
  ctx: Ctx,
  start: number,
): [number, SpiderTableUnit[], SpiderCondition, string[]] {
  const toks = ctx.toks;
  const len = toks.length;
  const from = toks.indexOf('from', start);
  check(from >= 0, '"from" not found');
  let idx = from + 1;
  const defaultTables: string[] = [];
  const tableUnits: SpiderTableUnit[] = [];
  const conds: SpiderCondition = [];
  while (idx < len) {
    const isBlock = at(toks, idx) === '(';
    if (isBlock) idx += 1;
    if (at(toks, idx) === 'select') {
      let sql: SpiderSql;
      [idx, sql] = parseSql(ctx, idx);
      tableUnits.push(['sql', sql]);
    } else {
      if (idx < len && toks[idx] === 'join') idx += 1;
      let tableId: string;
      let tableName: string;
      [idx, tableId, tableName] = parseTableUnit(ctx, idx);
      tableUnits.push(['table_unit', tableId]);
      defaultTables.push(tableName);
    }
    if (idx < len && toks[idx] === 'on') {
      idx += 1;
      let these: SpiderCondition;
      [idx, these] = parseCondition(ctx, idx, defaultTables);
      if (conds.length > 0) conds.push('and');
      conds.push(...these);
    }
    idx = closeParen(toks, idx, isBlock, 'expected ")" in FROM');
    if (
      idx < len &&
      (CLAUSE_KEYWORDS.includes(toks[idx]) || toks[idx] === ')' || toks[idx] === ';')
    ) {
      break;
    }
  }
  return [idx, tableUnits, conds, defaultTables];
}

function parseOptionalCondition(
  ctx: Ctx,
  start: number,
  keyword: string,
  defaultTables: readonly string[],
): [number, SpiderCondition] {
  if (start >= ctx.toks.length || ctx.toks[start] !== keyword) return [start, []];
  return parseCondition(ctx, start + 1, defaultTables);
}

function parseGroupBy(
  ctx: Ctx,
  start: number,
  defaultTables: readonly string[],
): [number, SpiderColUnit[]] {
  const toks = ctx.toks;
  let idx = start;
  const len = toks.length;
  const units: SpiderColUnit[] = [];
  if (idx >= len || toks[idx] !== 'group') return [idx, units];
  idx += 1;
  check(at(toks, idx) === 'by', 'expected "by" after "group"');
  idx += 1;
  while (
    idx < len &&
    !(CLAUSE_KEYWORDS.includes(toks[idx]) || toks[idx] === ')' || toks[idx] === ';')
  ) {
    let unit: SpiderColUnit;
    [idx, unit] = parseColUnit(ctx, toks, idx, defaultTables);
    units.push(unit);
    if (idx < len && toks[idx] === ',') idx += 1;
    else break;
  }
  return [idx, units];
}

function parseOrderBy(
  ctx: Ctx,
  start: number,
  defaultTables: readonly string[],
): [number, SpiderOrderBy] {
  const toks = ctx.toks;
  let idx = start;
  const len = toks.length;
  const units: SpiderValUnit[] = [];
  let direction: 'asc' | 'desc' = 'asc';
  if (idx >= len || toks[idx] !== 'order') return [idx, []];
  idx += 1;
  check(at(toks, idx) === 'by', 'expected "by" after "order"');
  idx += 1;
  while (
    idx < len &&
    !(CLAUSE_KEYWORDS.includes(toks[idx]) || toks[idx] === ')' || toks[idx] === ';')
  ) {
    let unit: SpiderValUnit;
    [idx, unit] = parseValUnit(ctx, idx, defaultTables);
    units.push(unit);
    if (idx < len && ORDER_OPS.includes(toks[idx])) {
      direction = toks[idx] as 'asc' | 'desc';
      idx += 1;
    }
    if (idx < len && toks[idx] === ',') idx += 1;
    else break;
  }
  return [idx, [direction, units]];
}

function parseLimit(toks: readonly string[], start: number): [number, number | null] {
  if (start < toks.length && toks[start] === 'limit') {
    return [start + 2, pyInt(at(toks, start + 1))];
  }
  return [start, null];
}

function skipSemicolons(toks: readonly string[], start: number): number {
  let idx = start;
  while (idx < toks.length && toks[idx] === ';') idx += 1;
  return idx;
}

function parseSql(ctx: Ctx, start: number): [number, SpiderSql] {
  const toks = ctx.toks;
  const len = toks.length;
  let idx = start;
  const isBlock = at(toks, idx) === '(';
  if (isBlock) idx += 1;
  // FROM first (from `start`, not after the "("), for the default tables of the columns.
  const [fromEnd, tableUnits, conds, defaultTables] = parseFrom(ctx, start);
  const select = parseSelect(ctx, idx, defaultTables);
  const [afterWhere, where] = parseOptionalCondition(ctx, fromEnd, 'where', defaultTables);
  const [afterGroup, groupBy] = parseGroupBy(ctx, afterWhere, defaultTables);
  const [afterHaving, having] = parseOptionalCondition(ctx, afterGroup, 'having', defaultTables);
  const [afterOrder, orderBy] = parseOrderBy(ctx, afterHaving, defaultTables);
  const [afterLimit, limit] = parseLimit(toks, afterOrder);
  idx = skipSemicolons(toks, afterLimit);
  idx = closeParen(toks, idx, isBlock, 'expected ")" closing a subquery');
  idx = skipSemicolons(toks, idx);
  // Keys in the order process_sql.py inserts them, so the JSON reads the same.
  const sql: SpiderSql = {
    from: { table_units: tableUnits, conds },
    select,
    where,
    groupBy,
    having,
    orderBy,
    limit,
    intersect: null,
    union: null,
    except: null,
  };
  if (idx < len && (SQL_OPS as readonly string[]).includes(toks[idx])) {
    const op = toks[idx] as (typeof SQL_OPS)[number];
    idx += 1;
    let sub: SpiderSql;
    [idx, sub] = parseSql(ctx, idx);
    sql[op] = sub;
  }
  return [idx, sql];
}

/**
 * Parses one SQL query into the structure of process_sql.py `get_sql`, against a schema
 * (column names resolve to `__table.column__` ids through table aliases and the tables of
 * the FROM clause). Accepts exactly what the official parser accepts; anything else throws a
 * {@link SpiderError} (unknown column, comma joins, `a=b` without spaces, a column alias used
 * later, ...).
 */
export function parseSpiderSql(sql: string, schema: SpiderSchema): SpiderSql {
  const toks = tokenizeSpiderSql(sql);
  const ctx: Ctx = { toks, aliases: tablesWithAlias(schema, toks), schema };
  return parseSql(ctx, 0)[1];
}
