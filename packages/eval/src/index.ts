/**
 * @statetune/eval: the metrics of the State-offset Tuning paper as their reference
 * implementations compute them (GLUE scores, BLEU, sacreBLEU, ROUGE, METEOR and Spider
 * exact-set match and execution accuracy) and evaluation loops over a model-shaped
 * interface. WordNet from disk and atomic result files live in `@statetune/eval/node`.
 *
 * @packageDocumentation
 */

export { MetricError } from './errors.js';
export type { BatchOptions } from './loops/batches.js';
export {
  type ClassificationExample,
  type ClassificationModel,
  type ClassificationOptions,
  type ClassificationResult,
  evaluateClassification,
} from './loops/classification.js';
export {
  type CustomGenerationMetric,
  type EvaluateGenerationOptions,
  evaluateGeneration,
  type GenerationExample,
  type GenerationMetric,
  type GenerationMetricName,
  type GenerationModel,
  type GenerationOptions,
  type GenerationResult,
} from './loops/generation.js';
export { type BleuOptions, type BleuResult, bleu, tokenize13aWords } from './metrics/bleu.js';
export {
  accuracy,
  averageRanks,
  f1,
  type GlueScores,
  type GlueTask,
  glueMetric,
  matthewsCorrelation,
  pearson,
  spearman,
} from './metrics/glue.js';
export {
  alignWords,
  type CorpusMeteorOptions,
  countChunks,
  type MeteorOptions,
  meteor,
  meteorScore,
  type SynonymSource,
  singleMeteorScore,
} from './metrics/meteor.js';
export {
  type AggregateScore,
  type BootstrapOptions,
  bootstrapAggregate,
  isRougeType,
  type RougeOptions,
  type RougeScore,
  RougeScorer,
  type RougeScorerOptions,
  type RougeType,
  rouge,
  rougeTokenize,
  summaryLevelLcs,
  unionLcs,
} from './metrics/rouge.js';
export {
  type BleuStats,
  bleuSignature,
  bleuStatistics,
  computeBleuFromStats,
  corpusBleu,
  SACREBLEU_VERSION,
  type SacreBleuOptions,
  type SacreBleuScore,
  type SmoothMethod,
  sentenceBleu,
} from './metrics/sacrebleu.js';
export * from './spider/index.js';
export { type PorterMode, PorterStemmer } from './text/porter.js';
export {
  type SacreTokenizerName,
  sacreTokenizer,
  tokenize13a,
  tokenizeChar,
  tokenizeIntl,
} from './text/sacrebleu-tokenizers.js';
export { splitSentences, treebankWordTokenize, wordTokenize } from './text/word-tokenize.js';
export { type Synset, WordNet, type WordNetFileReader, type WordNetPos } from './text/wordnet.js';
