#!/usr/bin/env node
// Rebuilds apps/trainer/data/sst2/{train,dev}.tsv, the small SST-2 task bundled with the
// default model, from the GLUE SST-2 files (original GLUE TSV format, header `sentence\tlabel`).
//
//   node apps/trainer/scripts/make-sst2-subset.mjs [glue SST-2 folder] [output folder]
//
// Defaults: ../shared/data/glue/SST-2 and apps/trainer/data/sst2, relative to the repository
// root (run it from there). The selection is deterministic:
// - train.tsv: 1,000 negative and 1,000 positive rows of the GLUE train split, drawn with a
//   seeded shuffle (seed 42) among rows of at least 6 words and at most 200 characters (the
//   train split is mostly short phrases; these are closer to the dev sentences), in the
//   shuffled order;
// - dev.tsv: the first 300 rows of the GLUE dev split, unfiltered (held out: never trained on).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const src = process.argv[2] ?? '../shared/data/glue/SST-2';
const out = process.argv[3] ?? 'apps/trainer/data/sst2';
const PER_CLASS = 1000;
const DEV_ROWS = 300;

function rows(file) {
  const lines = readFileSync(join(src, file), 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
  if (lines[0] !== 'sentence\tlabel') throw new Error(`${file}: unexpected header ${lines[0]}`);
  return { header: lines[0], body: lines.slice(1) };
}

// mulberry32: a small seeded generator, enough for a reproducible shuffle.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const train = rows('train.tsv');
const eligible = train.body.filter((l) => {
  const [s] = l.split('\t');
  return s.trim().split(/\s+/).length >= 6 && s.length <= 200;
});
const next = rng(42);
for (let i = eligible.length - 1; i > 0; i--) {
  const j = Math.floor(next() * (i + 1));
  [eligible[i], eligible[j]] = [eligible[j], eligible[i]];
}
const count = { 0: 0, 1: 0 };
const picked = eligible.filter((l) => {
  const label = l.split('\t')[1];
  if (count[label] >= PER_CLASS) return false;
  count[label]++;
  return true;
});
const dev = rows('dev.tsv');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'train.tsv'), `${[train.header, ...picked].join('\n')}\n`);
writeFileSync(join(out, 'dev.tsv'), `${[dev.header, ...dev.body.slice(0, DEV_ROWS)].join('\n')}\n`);
console.log(
  `train.tsv: ${picked.length} rows (${count[0]} negative, ${count[1]} positive); dev.tsv: ${Math.min(DEV_ROWS, dev.body.length)} rows`,
);
