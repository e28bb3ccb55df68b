import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The shared data folder: `STATETUNE_DATA`, else `<repo>/../shared/data`. */
export const DATA_DIR = process.env.STATETUNE_DATA ?? resolve(here, '../../../../shared/data');

/** The metric test vectors, or undefined when the data folder is absent. */
export const METRIC_TESTS = join(DATA_DIR, 'metric-tests');
export const HAVE_METRIC_TESTS = existsSync(METRIC_TESTS);
if (!HAVE_METRIC_TESTS) {
  console.warn(`metric test vectors skipped: ${METRIC_TESTS} does not exist (set STATETUNE_DATA)`);
}

export function readJson<T>(...parts: string[]): T {
  return JSON.parse(readFileSync(join(METRIC_TESTS, ...parts), 'utf8')) as T;
}

export function readText(...parts: string[]): string {
  return readFileSync(join(METRIC_TESTS, ...parts), 'utf8');
}

/**
 * Tolerance for an expected value transcribed with a fixed number of decimals: half a unit
 * in the last place, or `atLeast`, whichever is larger.
 */
export function decimalsTolerance(expected: number | string, atLeast = 0): number {
  const s = String(expected);
  const dot = s.indexOf('.');
  const decimals = dot < 0 ? 0 : s.length - dot - 1;
  return Math.max(0.5 * 10 ** -decimals, atLeast) * (1 + 1e-9);
}
