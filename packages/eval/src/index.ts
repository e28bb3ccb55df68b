/**
 * @statetune/eval: The metrics of the State-offset Tuning paper as their reference implementations compute them: GLUE scores, BLEU, sacreBLEU, ROUGE, METEOR and Spider exact-set match and execution accuracy.
 *
 * @packageDocumentation
 */

export * from './spider/index.js';
