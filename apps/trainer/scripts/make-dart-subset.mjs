#!/usr/bin/env node
// Rebuilds apps/trainer/data/dart/{train,heldout}.json, the small DART (data-to-text) task
// bundled with the default model, from a DART v1.1.1 JSON file (official format: an array of
// `{ tripleset: [[s, p, o], ...], annotations: [{ source, text }, ...] }`).
//
//   node apps/trainer/scripts/make-dart-subset.mjs [--sources e2e] [DART json] [output folder]
//
// Defaults: ../shared/data/dart/dart-v1.1.1-full-dev.json and apps/trainer/data/dart,
// relative to the repository root (run it from there). The selection is deterministic:
// - keep only the references whose `source` is one of `--sources` (comma-separated; default
//   `e2e`, the restaurant descriptions DART takes from the E2E dataset; `all` keeps every
//   source);
// - keep the triple sets whose linearised triples (`s : p : o | ...`) are at most
//   MAX_INPUT characters, keeping only their references of at most MAX_TEXT characters (a
//   byte-level model reads one token per byte, so short examples keep the run fast); triple
//   sets left without a reference are dropped;
// - shuffle them with a seeded generator (seed 42);
// - heldout.json: the first HELDOUT triple sets of the shuffle (every reference kept);
// - train.json: triple sets of the rest whose linearised triples differ from every held-out
//   one, in shuffled order, until TRAIN_PAIRS (triple set, reference) pairs are reached.
// So no held-out input is ever trained on.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const flag = args.indexOf('--sources');
const sourcesArg = flag >= 0 ? args.splice(flag, 2)[1] : 'e2e';
const SOURCES = sourcesArg === 'all' ? null : sourcesArg.split(',');
const src = args[0] ?? '../shared/data/dart/dart-v1.1.1-full-dev.json';
const out = args[1] ?? 'apps/trainer/data/dart';
const MAX_INPUT = 160;
const MAX_TEXT = 140;
const HELDOUT = 80;
const TRAIN_PAIRS = 2000;

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

const linearize = (ts) => ts.map((t) => t.join(' : ')).join(' | ');
const all = JSON.parse(readFileSync(src, 'utf8'));
if (!Array.isArray(all)) throw new Error(`${src}: expected a JSON array of DART records`);
const eligible = [];
for (const rec of all) {
  if (linearize(rec.tripleset).length > MAX_INPUT) continue;
  const annotations = rec.annotations
    .filter((a) => a.text.length <= MAX_TEXT && !a.text.includes('###'))
    .filter((a) => SOURCES === null || SOURCES.includes(a.source))
    .map((a) => ({ source: a.source, text: a.text }));
  if (annotations.length === 0) continue;
  eligible.push({ tripleset: rec.tripleset, annotations });
}
const next = rng(42);
for (let i = eligible.length - 1; i > 0; i--) {
  const j = Math.floor(next() * (i + 1));
  [eligible[i], eligible[j]] = [eligible[j], eligible[i]];
}
const heldout = eligible.slice(0, HELDOUT);
const heldInputs = new Set(heldout.map((r) => linearize(r.tripleset)));
const train = [];
let pairs = 0;
for (const rec of eligible.slice(HELDOUT)) {
  if (pairs >= TRAIN_PAIRS) break;
  if (heldInputs.has(linearize(rec.tripleset))) continue;
  const take = rec.annotations.slice(0, TRAIN_PAIRS - pairs);
  train.push({ ...rec, annotations: take });
  pairs += take.length;
}
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'train.json'), `${JSON.stringify(train, null, 1)}\n`);
writeFileSync(join(out, 'heldout.json'), `${JSON.stringify(heldout, null, 1)}\n`);
const refs = heldout.reduce((n, r) => n + r.annotations.length, 0);
console.log(
  `eligible ${eligible.length} triple sets; train.json: ${train.length} triple sets, ${pairs} pairs; heldout.json: ${heldout.length} triple sets, ${refs} references`,
);
