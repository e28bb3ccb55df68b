// Benchmarks of the data pipeline on real files: GPT-NeoX tokenization throughput (one call
// per text against one batched call; the byte tokenizer beside it), and preparing plus
// batching a GLUE split as the trainer does. Reads the real data folder (STATETUNE_DATA, or
// shared/data next to the repository) and skips with the reason when it is absent.
//
//   node bench/run.mjs [--texts 2000]

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Batcher, ByteTokenizer, glueTask, prepareSplit } from '@statetune/data';
import { loadGlueSplit, loadTokenizer } from '@statetune/data/node';
import { measure, report } from '../../../bench/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const dataDir = process.env.STATETUNE_DATA ?? resolve(here, '../../../../shared/data');
const i = process.argv.indexOf('--texts');
const count = i < 0 ? 2000 : Number(process.argv[i + 1]);

if (!existsSync(join(dataDir, 'tokenizer/gpt-neox-20b/tokenizer.json'))) {
  console.log(`data bench skipped: no real data folder at ${dataDir} (set STATETUNE_DATA)`);
  process.exit(0);
}

const neox = await loadTokenizer(join(dataDir, 'tokenizer/gpt-neox-20b/tokenizer.json'));
const bytes = new ByteTokenizer();
// Lines of real prose: the first `count` non-empty lines of the TinyStories part.
const texts = readFileSync(join(dataDir, 'corpus/tinystories-valid-part.txt'), 'utf8')
  .split('\n')
  .filter((line) => line.trim().length > 0)
  .slice(0, count);
const chars = texts.reduce((n, t) => n + t.length, 0);
const tokens = texts.reduce((n, t) => n + neox.encode(t).length, 0);

const rows = [];
const add = (name, backend, median, units, unit, base, shape = `${texts.length} texts`) =>
  rows.push({
    name,
    shape,
    backend,
    ms: median,
    throughput: units / (median / 1000),
    unit,
    ratio: base === undefined ? 1 : median / base,
  });

const one = await measure(() => texts.map((t) => neox.encode(t)), { repeats: 3 });
add('encode, one call per text', 'gpt-neox', one.median, tokens, 'tokens/s');
const batch = await measure(() => neox.encodeBatch(texts), { repeats: 3 });
add('encodeBatch', 'gpt-neox', batch.median, tokens, 'tokens/s', one.median);
const byte = await measure(() => texts.map((t) => bytes.encode(t)), { repeats: 3 });
add('encode, one call per text', 'bytes', byte.median, chars, 'chars/s', one.median);
const ids = texts.map((t) => neox.encode(t));
const decode = await measure(() => ids.map((x) => neox.decode(x)), { repeats: 3 });
add('decode', 'gpt-neox', decode.median, tokens, 'tokens/s', one.median);

const sst2 = await loadGlueSplit(join(dataDir, 'glue/SST-2'), 'sst2', 'validation');
const task = glueTask('sst2');
let prepared;
const prep = await measure(
  () => {
    prepared = prepareSplit(task, sst2, neox, { role: 'train' });
  },
  { repeats: 3 },
);
add(
  'prepareSplit sst2 validation',
  'gpt-neox',
  prep.median,
  sst2.length,
  'examples/s',
  undefined,
  `${sst2.length} examples`,
);
const epoch = await measure(
  () => {
    const batcher = new Batcher(prepared.lm, { batchSize: 4, seed: 42, shuffle: true });
    for (let b = 0; b < Math.floor(prepared.lm.length / 4); b++) batcher.next();
  },
  { repeats: 3 },
);
add(
  'Batcher epoch, batch 4',
  '-',
  epoch.median,
  prepared.lm.length,
  'examples/s',
  undefined,
  `${prepared.lm.length} examples`,
);

report('data', rows, { texts: texts.length, characters: chars, tokens });
