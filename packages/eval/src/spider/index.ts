/**
 * The official Spider evaluator (taoyds/spider `evaluation.py` and `process_sql.py`) in
 * TypeScript: the SQL parser, hardness levels, exact-set match without values with partial
 * scores, and the comparison of execution results. Running SQL on SQLite lives in
 * `@statetune/eval/node`.
 *
 * @module
 */

export { SpiderError } from './errors.js';
export {
  aggregateSpiderScores,
  evaluateSpiderMatch,
  prepareSpiderExamples,
  type SpiderComponentAverage,
  type SpiderEvalType,
  type SpiderEvaluation,
  type SpiderExampleResult,
  type SpiderGold,
  type SpiderLevelScores,
  type SpiderMatchOptions,
  type SpiderPreparedExample,
  type SpiderScores,
  type SpiderTaskMetrics,
  scoreSpiderMatch,
} from './evaluate.js';
export { type SpiderExecVerdict, type SqliteCell, spiderExecMatch } from './exec-match.js';
export { nestedSpiderSql, spiderHardness } from './hardness.js';
export { parseSpiderGoldLines, parseSpiderPredictionLines } from './lines.js';
export {
  type SpiderComponentScore,
  type SpiderExactMatch,
  type SpiderMatchRules,
  type SpiderPartialScores,
  spiderExactMatch,
  spiderPartialMatch,
} from './match.js';
export { normalizeSpiderSql, type SpiderNormalizeOptions } from './normalize.js';
export { parseSpiderSql } from './parser.js';
export {
  parseSpiderTables,
  type SpiderSchema,
  SpiderSchemas,
  type SpiderTablesEntry,
  spiderForeignKeyMap,
  spiderSchemaFromColumns,
  spiderSchemaFromTables,
} from './schema.js';
export { tokenizeSpiderSql } from './tokenize.js';
export {
  emptySpiderSql,
  isSpiderSql,
  SPIDER_AGG_OPS,
  SPIDER_COMPONENTS,
  SPIDER_LEVELS,
  SPIDER_UNIT_OPS,
  SPIDER_WHERE_OPS,
  type SpiderColUnit,
  type SpiderComponent,
  type SpiderCondition,
  type SpiderCondUnit,
  type SpiderHardness,
  type SpiderLevel,
  type SpiderOrderBy,
  type SpiderSql,
  type SpiderTableUnit,
  type SpiderValUnit,
  type SpiderValue,
} from './types.js';
