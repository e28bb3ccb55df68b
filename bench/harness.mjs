// Shared benchmark harness: median timing of repeated runs, a printed table, and JSON
// results under bench/results/ at the repository root. Used by every package's `bench`.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RESULTS = join(dirname(fileURLToPath(import.meta.url)), 'results');

/**
 * Times `fn` (sync or async): `warmup` untimed runs, then at least `repeats` timed runs and
 * at least `minMs` of timing. Returns the median and every sample in milliseconds.
 * @param {() => unknown} fn
 * @param {{ warmup?: number, repeats?: number, minMs?: number }} [options]
 */
export async function measure(fn, options = {}) {
  const { warmup = 1, repeats = 5, minMs = 300 } = options;
  for (let i = 0; i < warmup; i++) await fn();
  const samples = [];
  const start = performance.now();
  while (samples.length < repeats || performance.now() - start < minMs) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
    if (samples.length >= 200) break;
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, samples };
}

/**
 * Prints rows as a table and writes them to bench/results/<suite>.json.
 * Each row: { name, shape, backend, ms, throughput, unit, ratio? }.
 * @param {string} suite
 * @param {Array<Record<string, unknown>>} rows
 * @param {Record<string, unknown>} [meta]
 */
export function report(suite, rows, meta = {}) {
  const cols = ['name', 'shape', 'backend', 'ms', 'throughput', 'unit', 'ratio'];
  const fmt = (v) =>
    typeof v === 'number'
      ? Math.abs(v) >= 100
        ? v.toFixed(1)
        : v.toPrecision(4)
      : String(v ?? '');
  const cells = rows.map((r) => cols.map((c) => fmt(r[c])));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (vals) => vals.map((v, i) => v.padEnd(widths[i])).join('  ');
  console.log(`\n${suite}`);
  console.log(line(cols));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of cells) console.log(line(r));
  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, `${suite}.json`);
  const body = {
    suite,
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    ...meta,
    results: rows,
  };
  writeFileSync(`${file}.tmp`, `${JSON.stringify(body, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  console.log(`-> ${file}`);
}
