/**
 * @statetune/data/node: file readers for Node (streamed TSV, JSON, JSONL and parquet), the
 * tokenizer loader and the dataset loaders of the paper's tasks.
 *
 * @packageDocumentation
 */

export {
  type LoadGlueOptions,
  type LoadSpiderOptions,
  loadDart,
  loadGlueRecords,
  loadGlueSplit,
  loadSamsum,
  loadSpider,
  loadSpiderTables,
  loadTokenizer,
  type SpiderData,
} from './files/datasets.js';
export {
  assertFile,
  type FileRecord,
  fileAsyncBuffer,
  readJsonArrayFile,
  readJsonFile,
  readJsonlFile,
  readLines,
  readParquetFile,
  readRecords,
  readTsvFile,
} from './files/io.js';
