/**
 * @statetune/data: the GPT-NeoX tokenizer (and a byte-level one for small models), readers
 * for TSV, JSON, JSONL and parquet, the paper's tasks (GLUE, DART, SAMSum, Spider) formatted
 * exactly as its code does, synthetic tasks, and resumable seeded batching. Everything here
 * runs in Node and in browsers; file-system loaders are in `@statetune/data/node`.
 *
 * @packageDocumentation
 */

export {
  Batcher,
  type BatcherOptions,
  type BatcherState,
  evalBatches,
} from './batching/batcher.js';
export { type Batch, type CollateOptions, collate } from './batching/collate.js';
export {
  applyMaxLength,
  type MaxLengthOptions,
  type MaxLengthResult,
  type OverflowPolicy,
} from './batching/length.js';
export { mixSeed, SeededRandom } from './batching/rng.js';
export { DataError, type DataLocation } from './errors.js';
export {
  type JsonRecord,
  jsonErrorOffset,
  parseJson,
  parseJsonl,
  streamJsonArray,
} from './readers/json.js';
export { type Line, linesOf, splitLines, type TextChunk } from './readers/lines.js';
export {
  type AsyncBuffer,
  type ParquetReadRowsOptions,
  type ParquetRecord,
  readParquetRows,
} from './readers/parquet.js';
export {
  type MalformedPolicy,
  parseTsv,
  type TsvOptions,
  type TsvRow,
} from './readers/tsv.js';
export {
  DART_PREFIX,
  type DartAnnotation,
  type DartExample,
  dartExampleFromRecord,
  dartTask,
  linearizeTriples,
} from './tasks/dart.js';
export { EOS, SEPARATOR } from './tasks/format.js';
export {
  COLA_TSV_COLUMNS,
  GLUE_PROMPTS,
  GLUE_TASKS,
  type GlueExample,
  type GlueTaskName,
  glueClassNames,
  glueExampleFromRecord,
  glueExampleFromTsv,
  glueFolderName,
  glueSplitFiles,
  glueTask,
} from './tasks/glue.js';
export { type SamsumExample, samsumExampleFromRecord, samsumTask } from './tasks/samsum.js';
export {
  SPIDER_MAX_TOKENS,
  SPIDER_PREFIX,
  type SpiderExample,
  type SpiderTables,
  serializeSpiderSchema,
  spiderExampleFromRecord,
  spiderTablesFromRecord,
  spiderTask,
} from './tasks/spider.js';
export {
  copyExamples,
  countingExamples,
  keyValueRecallExamples,
  type SyntheticExample,
  type SyntheticOptions,
  syntheticTask,
} from './tasks/synthetic.js';
export {
  buildLmExample,
  type ExampleTokens,
  formatExamples,
  type GenExample,
  IGNORE_INDEX,
  type LmExample,
  labelTokenIds,
  type PreparedSplit,
  prepareSplit,
  type TokenizedSplit,
  type TokenizeTaskOptions,
  tokenizeForGeneration,
  tokenizeForLm,
} from './tasks/tokenize.js';
export type {
  EvalMode,
  FormattedExample,
  SplitRole,
  TaskDefinition,
} from './tasks/types.js';
export { ByteTokenizer, type ByteTokenizerOptions } from './tokenizer/byte.js';
export { cleanUpTokenization, decodeForEvaluation } from './tokenizer/common.js';
export { HfTokenizer, type HfTokenizerOptions } from './tokenizer/hf.js';
export type {
  DecodeOptions,
  EncodeOptions,
  SpecialToken,
  TextTokenizer,
} from './tokenizer/types.js';
