import { SpiderError } from './errors.js';
import { spiderHardness } from './hardness.js';
import { type SpiderMatchRules, type SpiderPartialScores, spiderExactMatch } from './match.js';
import { normalizeSpiderSql, type SpiderNormalizeOptions } from './normalize.js';
import { parseSpiderSql } from './parser.js';
import { type SpiderSchema, SpiderSchemas, type SpiderTablesEntry } from './schema.js';
import {
  emptySpiderSql,
  SPIDER_COMPONENTS,
  SPIDER_LEVELS,
  type SpiderComponent,
  type SpiderHardness,
  type SpiderLevel,
  type SpiderSql,
} from './types.js';

/** A gold example: its SQL and the database it runs on. */
export interface SpiderGold {
  /** The gold SQL, as in the gold file or `dev.json`'s `query`. */
  sql: string;
  /** The database it runs on (`db_id`). */
  dbId: string;
}

/** What to compute: exact-set match, execution accuracy, or both (as `--etype`). */
export type SpiderEvalType = 'match' | 'exec' | 'all';

/** The verdict on one example. */
export interface SpiderExampleResult {
  /** Position in the input lists. */
  index: number;
  dbId: string;
  /** Difficulty of the gold query. */
  hardness: SpiderHardness;
  /** Exact-set match (etype `match` or `all`). */
  exact?: boolean;
  /** Per-component scores (etype `match` or `all`). */
  partial?: SpiderPartialScores;
  /** Execution match (etype `exec` or `all`). */
  exec?: boolean;
  /**
   * Why the prediction could not be parsed; it was then scored as the empty query, as the
   * official script does (never an exact match, never an execution match).
   */
  parseError?: string;
  /** Why the execution match is false when it did not come from comparing results. */
  execError?: string;
}

/** The averages of one component over a level, as evaluation.py aggregates them. */
export interface SpiderComponentAverage {
  /** Mean accuracy over the examples whose prediction has the component. */
  acc: number;
  /** Mean recall over the examples whose gold query has the component. */
  rec: number;
  /** Harmonic mean of `acc` and `rec` (1 when both are 0, as in the official script). */
  f1: number;
}

/** The scores of one hardness level (or `all`). */
export interface SpiderLevelScores {
  /** Examples at this level. */
  count: number;
  /** Exact-set-match accuracy (0 when not computed or no examples). */
  exact: number;
  /** Execution accuracy (0 when not computed or no examples). */
  exec: number;
  /** Partial-matching accuracy, recall and F1 per component. */
  partial: Record<SpiderComponent, SpiderComponentAverage>;
}

/** A report per level: `easy`, `medium`, `hard`, `extra` and `all`. */
export type SpiderScores = Record<SpiderLevel, SpiderLevelScores>;

/**
 * The paper's two Spider scores over all examples, under the names `@statetune/data`'s
 * Spider task declares (`task.metrics`), so a trainer can look them up by those names.
 */
export interface SpiderTaskMetrics {
  /** Execution accuracy, `scores.all.exec` (etype `exec` or `all`). */
  execution_accuracy?: number;
  /** Exact-set match without values, `scores.all.exact` (etype `match` or `all`). */
  exact_match?: number;
}

/** The whole evaluation: the verdict per example, the report and the task's scores. */
export interface SpiderEvaluation {
  /** What was computed. */
  etype: SpiderEvalType;
  /** The verdict per example, in input order. */
  examples: SpiderExampleResult[];
  /** The per-level report of evaluation.py. */
  scores: SpiderScores;
  /** `scores.all` under the task's metric names; only the ones `etype` computed. */
  metrics: SpiderTaskMetrics;
}

/**
 * Builds a {@link SpiderEvaluation} from per-example verdicts: the per-level report and the
 * task metrics that `etype` computed.
 */
export function spiderEvaluation(
  etype: SpiderEvalType,
  examples: SpiderExampleResult[],
): SpiderEvaluation {
  const scores = aggregateSpiderScores(examples);
  const metrics: SpiderTaskMetrics = {};
  if (etype !== 'match') metrics.execution_accuracy = scores.all.exec;
  if (etype !== 'exec') metrics.exact_match = scores.all.exact;
  return { etype, examples, scores, metrics };
}

/** Options shared by the match-only and the full evaluation. */
export interface SpiderMatchOptions extends SpiderNormalizeOptions, SpiderMatchRules {
  /** Gold queries with their databases. */
  gold: readonly SpiderGold[];
  /** One predicted SQL string per gold example. */
  predicted: readonly string[];
  /** The entries of `tables.json` (or at least those of the databases used). */
  tables: readonly SpiderTablesEntry[] | SpiderSchemas;
}

/** One example after parsing and normalisation, before scoring. */
export interface SpiderPreparedExample {
  index: number;
  dbId: string;
  schema: SpiderSchema;
  goldSql: string;
  predSql: string;
  hardness: SpiderHardness;
  /** Normalised gold query. */
  gold: SpiderSql;
  /** Normalised prediction (the normalised empty query when it did not parse). */
  pred: SpiderSql;
  parseError?: string;
}

/**
 * Parses and normalises every example as evaluation.py does: the gold query must parse (the
 * official script stops otherwise; here a {@link SpiderError} names the example), a
 * prediction that does not parse becomes the empty query. Throws when the two lists differ in
 * length or a `db_id` is not in `tables`.
 */
export function prepareSpiderExamples(
  options: SpiderMatchOptions,
  where = 'evaluateSpider',
): SpiderPreparedExample[] {
  const { gold, predicted } = options;
  if (gold.length !== predicted.length) {
    throw new SpiderError(
      where,
      `${gold.length} gold examples but ${predicted.length} predictions; give one prediction per gold example`,
    );
  }
  const schemas =
    options.tables instanceof SpiderSchemas ? options.tables : new SpiderSchemas(options.tables);
  return gold.map((g, index) => {
    if (!schemas.has(g.dbId)) {
      throw new SpiderError(`${where}: gold[${index}]`, `no database "${g.dbId}" in tables.json`);
    }
    const schema = schemas.get(g.dbId);
    let goldParsed: SpiderSql;
    try {
      goldParsed = parseSpiderSql(g.sql, schema);
    } catch (e) {
      throw new SpiderError(
        `${where}: gold[${index}]`,
        `cannot parse the gold SQL of ${g.dbId} (${(e as Error).message}): ${g.sql}`,
      );
    }
    const predSql = predicted[index];
    let predParsed: SpiderSql;
    let parseError: string | undefined;
    try {
      predParsed = parseSpiderSql(predSql, schema);
    } catch (e) {
      predParsed = emptySpiderSql();
      parseError = (e as Error).message;
    }
    const example: SpiderPreparedExample = {
      index,
      dbId: g.dbId,
      schema,
      goldSql: g.sql,
      predSql,
      hardness: spiderHardness(goldParsed),
      gold: normalizeSpiderSql(goldParsed, schema, options),
      pred: normalizeSpiderSql(predParsed, schema, options),
    };
    if (parseError !== undefined) example.parseError = parseError;
    return example;
  });
}

/** Exact-set match and partial scores of one prepared example. */
export function scoreSpiderMatch(
  ex: SpiderPreparedExample,
  rules: SpiderMatchRules = {},
): SpiderExampleResult {
  const { exact, partial } = spiderExactMatch(ex.pred, ex.gold, rules);
  const result: SpiderExampleResult = {
    index: ex.index,
    dbId: ex.dbId,
    hardness: ex.hardness,
    exact,
    partial,
  };
  if (ex.parseError !== undefined) result.parseError = ex.parseError;
  return result;
}

/**
 * The per-level report of evaluation.py from per-example verdicts: counts, exact and
 * execution accuracy, and per component the mean accuracy (over examples whose prediction
 * has it), mean recall (over examples whose gold has it) and their harmonic mean.
 */
export function aggregateSpiderScores(examples: readonly SpiderExampleResult[]): SpiderScores {
  type Acc = { acc: number; rec: number; accCount: number; recCount: number };
  const sums = {} as Record<
    SpiderLevel,
    { count: number; exact: number; exec: number; partial: Record<SpiderComponent, Acc> }
  >;
  for (const level of SPIDER_LEVELS) {
    const partial = {} as Record<SpiderComponent, Acc>;
    for (const c of SPIDER_COMPONENTS) partial[c] = { acc: 0, rec: 0, accCount: 0, recCount: 0 };
    sums[level] = { count: 0, exact: 0, exec: 0, partial };
  }
  for (const ex of examples) {
    for (const level of [ex.hardness, 'all'] as const) {
      const s = sums[level];
      s.count += 1;
      if (ex.exec) s.exec += 1;
      if (ex.exact) s.exact += 1;
      if (ex.partial) {
        for (const c of SPIDER_COMPONENTS) {
          const p = ex.partial[c];
          if (p.pred_total > 0) {
            s.partial[c].acc += p.acc;
            s.partial[c].accCount += 1;
          }
          if (p.label_total > 0) {
            s.partial[c].rec += p.rec;
            s.partial[c].recCount += 1;
          }
        }
      }
    }
  }
  const scores = {} as SpiderScores;
  for (const level of SPIDER_LEVELS) {
    const s = sums[level];
    const partial = {} as Record<SpiderComponent, SpiderComponentAverage>;
    for (const c of SPIDER_COMPONENTS) {
      const p = s.partial[c];
      if (s.count === 0) {
        partial[c] = { acc: 0, rec: 0, f1: 0 };
        continue;
      }
      const acc = p.accCount === 0 ? 0 : p.acc / p.accCount;
      const rec = p.recCount === 0 ? 0 : p.rec / p.recCount;
      const f1 = acc === 0 && rec === 0 ? 1 : (2 * acc * rec) / (acc + rec);
      partial[c] = { acc, rec, f1 };
    }
    scores[level] = {
      count: s.count,
      exact: s.count === 0 ? 0 : s.exact / s.count,
      exec: s.count === 0 ? 0 : s.exec / s.count,
      partial,
    };
  }
  return scores;
}

/**
 * Exact-set match without values, the official setting (`etype="match"`), with no database
 * needed. Throws a {@link SpiderError} when the lists differ in length, a database is not in
 * `tables`, or a gold query does not parse.
 *
 * @example
 * const { scores } = evaluateSpiderMatch({ gold, predicted, tables });
 * scores.all.exact; // exact-set-match accuracy
 */
export function evaluateSpiderMatch(options: SpiderMatchOptions): SpiderEvaluation {
  const examples = prepareSpiderExamples(options, 'evaluateSpiderMatch').map((ex) =>
    scoreSpiderMatch(ex, options),
  );
  return spiderEvaluation('match', examples);
}
