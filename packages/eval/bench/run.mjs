// Benchmarks of the text metrics on a synthetic corpus shaped like DART/SAMSum outputs
// (sentences of 20-40 words from a 2,000-word vocabulary, 2 references each): examples
// scored per second for evaluate's BLEU, sacreBLEU, ROUGE (with the 1,000-sample bootstrap)
// and METEOR (WordNet loaded once, untimed).
//
//   node bench/run.mjs [--examples 500]

import { bleu, corpusBleu, meteor, rouge } from '@statetune/eval';
import { loadWordNet } from '@statetune/eval/node';
import { measure, report } from '../../../bench/harness.mjs';

const i = process.argv.indexOf('--examples');
const n = i < 0 ? 500 : Number(process.argv[i + 1]);

let seed = 12345;
const rand = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};
const vocab = Array.from({ length: 2000 }, (_, k) => `w${k.toString(36)}`);
const sentence = () =>
  Array.from({ length: 20 + Math.floor(rand() * 20) }, () => vocab[Math.floor(rand() * 400)]).join(
    ' ',
  );

const predictions = Array.from({ length: n }, sentence);
const references = predictions.map(() => [sentence(), sentence()]);
const streams = [references.map((r) => r[0]), references.map((r) => r[1])];
const wordnet = loadWordNet();
meteor(predictions.slice(0, 1), references.slice(0, 1), { wordnet }); // load WordNet

const cases = [
  ['bleu (evaluate)', () => bleu(predictions, references)],
  ['corpusBleu (sacreBLEU)', () => corpusBleu(predictions, streams)],
  ['rouge (bootstrap mid)', () => rouge(predictions, references)],
  ['meteor (evaluate)', () => meteor(predictions, references, { wordnet })],
];
const rows = [];
for (const [name, fn] of cases) {
  const { median } = await measure(fn, { repeats: 3, minMs: 200 });
  rows.push({
    name,
    shape: `${n} x 2 refs`,
    backend: 'cpu',
    ms: median,
    throughput: (n / median) * 1000,
    unit: 'examples/s',
  });
}
report('eval-metrics', rows, { examples: n });
