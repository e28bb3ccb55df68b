import { pyEqual } from './equal.js';
import {
  SPIDER_COMPONENTS,
  type SpiderComponent,
  type SpiderCondUnit,
  type SpiderSql,
  type SpiderTableUnit,
} from './types.js';

/** One component's score for one example, as `eval_partial_match` returns it. */
export interface SpiderComponentScore {
  /** 1 when the component matches (same number of units, all found), else 0. */
  acc: number;
  rec: number;
  f1: number;
  /** Units of the gold query (what the official code calls `label_total`). */
  label_total: number;
  /** Units of the prediction. */
  pred_total: number;
}

/** The ten partial-matching scores of one example. */
export type SpiderPartialScores = Record<SpiderComponent, SpiderComponentScore>;

const IN = 8;
const LIKE = 9;

/** `get_scores`: all or nothing, and 1 when both sides are empty. */
function score(count: number, predTotal: number, labelTotal: number): [number, number, number] {
  if (predTotal !== labelTotal) return [0, 0, 0];
  if (count === predTotal) return [1, 1, 1];
  return [0, 0, 0];
}

/** Counts the items of `pred` found in `label`, each label item used once. */
function countFound<T>(pred: readonly T[], label: readonly T[]): number {
  const left = [...label];
  let count = 0;
  for (const p of pred) {
    const i = left.findIndex((l) => pyEqual(p, l));
    if (i >= 0) {
      count += 1;
      left.splice(i, 1);
    }
  }
  return count;
}

function condUnitsOf(cond: SpiderSql['where']): SpiderCondUnit[] {
  return cond.filter((_, i) => i % 2 === 0) as SpiderCondUnit[];
}

function evalSelect(pred: SpiderSql, label: SpiderSql): [number, number, number, number] {
  const p = pred.select[1];
  const l = label.select[1];
  return [
    l.length,
    p.length,
    countFound(p, l),
    countFound(
      p.map((u) => u[1]),
      l.map((u) => u[1]),
    ),
  ];
}

function evalWhere(pred: SpiderSql, label: SpiderSql): [number, number, number, number] {
  const p = condUnitsOf(pred.where);
  const l = condUnitsOf(label.where);
  return [
    l.length,
    p.length,
    countFound(p, l),
    countFound(
      p.map((u) => u[2]),
      l.map((u) => u[2]),
    ),
  ];
}

/** GROUP BY columns compared by the text after the first dot of their ids (`c__`). */
function evalGroup(pred: SpiderSql, label: SpiderSql): [number, number, number] {
  const name = (id: string) => (id.includes('.') ? id.split('.')[1] : id);
  const p = pred.groupBy.map((u) => name(u[1]));
  const l = label.groupBy.map((u) => name(u[1]));
  return [l.length, p.length, countFound(p, l)];
}

function evalHaving(pred: SpiderSql, label: SpiderSql): [number, number, number] {
  const predTotal = pred.groupBy.length > 0 ? 1 : 0;
  const labelTotal = label.groupBy.length > 0 ? 1 : 0;
  const same =
    predTotal === 1 &&
    labelTotal === 1 &&
    pyEqual(
      pred.groupBy.map((u) => u[1]),
      label.groupBy.map((u) => u[1]),
    ) &&
    pyEqual(pred.having, label.having);
  return [labelTotal, predTotal, same ? 1 : 0];
}

function evalOrder(pred: SpiderSql, label: SpiderSql): [number, number, number] {
  const predTotal = pred.orderBy.length > 0 ? 1 : 0;
  const labelTotal = label.orderBy.length > 0 ? 1 : 0;
  const same =
    label.orderBy.length > 0 &&
    pyEqual(pred.orderBy, label.orderBy) &&
    (pred.limit === null) === (label.limit === null);
  return [labelTotal, predTotal, same ? 1 : 0];
}

/** `eval_and_or`; the official code returns the two totals swapped, which we keep. */
function evalAndOr(pred: SpiderSql, label: SpiderSql): [number, number, number] {
  const p = new Set(pred.where.filter((_, i) => i % 2 === 1));
  const l = new Set(label.where.filter((_, i) => i % 2 === 1));
  if (p.size === l.size && [...p].every((x) => l.has(x))) return [1, 1, 1];
  return [p.size, l.size, 0];
}

function evalNested(
  pred: SpiderSql | null,
  label: SpiderSql | null,
  options: SpiderMatchRules,
): [number, number, number] {
  const labelTotal = label !== null ? 1 : 0;
  const predTotal = pred !== null ? 1 : 0;
  const cnt =
    pred !== null && label !== null && spiderExactMatch(pred, label, options).exact ? 1 : 0;
  return [labelTotal, predTotal, cnt];
}

function evalIUEN(
  pred: SpiderSql,
  label: SpiderSql,
  options: SpiderMatchRules,
): [number, number, number] {
  const parts = [
    evalNested(pred.intersect, label.intersect, options),
    evalNested(pred.except, label.except, options),
    evalNested(pred.union, label.union, options),
  ];
  return [0, 1, 2].map((k) => parts.reduce((s, p) => s + p[k], 0)) as [number, number, number];
}

/** `get_keywords`: the SQL keywords a query uses. */
function keywords(sql: SpiderSql): Set<string> {
  const res = new Set<string>();
  if (sql.where.length > 0) res.add('where');
  if (sql.groupBy.length > 0) res.add('group');
  if (sql.having.length > 0) res.add('having');
  if (sql.orderBy.length === 2) {
    res.add(sql.orderBy[0]);
    res.add('order');
  }
  if (sql.limit !== null) res.add('limit');
  if (sql.except !== null) res.add('except');
  if (sql.union !== null) res.add('union');
  if (sql.intersect !== null) res.add('intersect');
  const all = [...sql.from.conds, ...sql.where, ...sql.having];
  if (all.includes('or')) res.add('or');
  const units = all.filter((c): c is SpiderCondUnit => typeof c !== 'string');
  if (units.some((c) => c[0])) res.add('not');
  if (units.some((c) => c[1] === IN)) res.add('in');
  if (units.some((c) => c[1] === LIKE)) res.add('like');
  return res;
}

function evalKeywords(pred: SpiderSql, label: SpiderSql): [number, number, number] {
  const p = keywords(pred);
  const l = keywords(label);
  let cnt = 0;
  for (const k of p) if (l.has(k)) cnt += 1;
  return [l.size, p.size, cnt];
}

function component(count: number, predTotal: number, labelTotal: number): SpiderComponentScore {
  const [acc, rec, f1] = score(count, predTotal, labelTotal);
  return { acc, rec, f1, label_total: labelTotal, pred_total: predTotal };
}

/**
 * `eval_partial_match` of evaluation.py on two normalised queries (see
 * {@link normalizeSpiderSql}): per component, 1 when the prediction has exactly the gold's
 * units, else 0.
 */
export function spiderPartialMatch(
  pred: SpiderSql,
  gold: SpiderSql,
  options: SpiderMatchRules = {},
): SpiderPartialScores {
  const [sl, sp, sc, scNoAgg] = evalSelect(pred, gold);
  const [wl, wp, wc, wcNoOp] = evalWhere(pred, gold);
  const [gl, gp, gc] = evalGroup(pred, gold);
  const [hl, hp, hc] = evalHaving(pred, gold);
  const [ol, op, oc] = evalOrder(pred, gold);
  const [al, ap, ac] = evalAndOr(pred, gold);
  const [il, ip, ic] = evalIUEN(pred, gold, options);
  const [kl, kp, kc] = evalKeywords(pred, gold);
  return {
    select: component(sc, sp, sl),
    'select(no AGG)': component(scNoAgg, sp, sl),
    where: component(wc, wp, wl),
    'where(no OP)': component(wcNoOp, wp, wl),
    'group(no Having)': component(gc, gp, gl),
    group: component(hc, hp, hl),
    order: component(oc, op, ol),
    'and/or': component(ac, ap, al),
    IUEN: component(ic, ip, il),
    keywords: component(kc, kp, kl),
  };
}

// Python sorts the FROM units as tuples: by kind ('sql' < 'table_unit'), then table id. Two
// different subqueries would make Python raise (dicts are not ordered); we order them by
// their JSON instead.
function compareTableUnits(a: SpiderTableUnit, b: SpiderTableUnit): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[0] === 'table_unit' && b[0] === 'table_unit') {
    return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
  }
  if (pyEqual(a[1], b[1])) return 0;
  const ja = JSON.stringify(a[1]);
  const jb = JSON.stringify(b[1]);
  return ja < jb ? -1 : ja > jb ? 1 : 0;
}

/** Which revision of evaluation.py's `eval_exact_match` to follow. */
export interface SpiderMatchRules {
  /**
   * `'current'` (default): the FROM units (tables and subqueries, sorted) must also be equal,
   * as the current evaluation.py requires. `'2018'`: they are compared only when the gold
   * query joins several of them, which reproduces the verdicts of the published
   * `evaluation_examples/eval_result_example.txt` (there `SELECT count(*) FROM a` matched
   * `SELECT count(*) FROM b`).
   */
  revision?: 'current' | '2018';
}

/** The verdict of {@link spiderExactMatch}. */
export interface SpiderExactMatch {
  /** True when every component has F1 1 and the FROM tables are the same. */
  exact: boolean;
  /** The per-component scores. */
  partial: SpiderPartialScores;
}

/**
 * `eval_exact_match` of evaluation.py on two normalised queries: every partial component
 * must score 1, and the sorted FROM units (tables and subqueries) must be equal (with
 * `revision: '2018'`, only when the gold query has several).
 */
export function spiderExactMatch(
  pred: SpiderSql,
  gold: SpiderSql,
  options: SpiderMatchRules = {},
): SpiderExactMatch {
  const partial = spiderPartialMatch(pred, gold, options);
  for (const name of SPIDER_COMPONENTS) {
    if (partial[name].f1 !== 1) return { exact: false, partial };
  }
  const minUnits = options.revision === '2018' ? 2 : 1;
  if (gold.from.table_units.length >= minUnits) {
    const l = [...gold.from.table_units].sort(compareTableUnits);
    const p = [...pred.from.table_units].sort(compareTableUnits);
    return { exact: pyEqual(l, p), partial };
  }
  return { exact: true, partial };
}
