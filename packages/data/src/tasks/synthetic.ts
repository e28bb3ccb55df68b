import { SeededRandom } from '../batching/rng.js';
import { EOS, SEPARATOR } from './glue.js';
import type { FormattedExample, TaskDefinition } from './types.js';

/** A synthetic example: an input string and its target (without EOS). */
export interface SyntheticExample {
  readonly id: string;
  readonly input: string;
  readonly target: string;
}

/** Common options of the synthetic generators. */
export interface SyntheticOptions {
  /** Number of examples. */
  readonly count: number;
  /** Seed: the same seed gives the same examples. */
  readonly seed: number;
  /** Symbols to draw from (default lowercase `a`-`h`). */
  readonly alphabet?: string;
}

function checkCount(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 0)
    throw new RangeError(`${what}: count must be a non-negative integer, got ${n}`);
}

function checkRange(what: string, name: string, [lo, hi]: readonly [number, number]): void {
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || hi < lo) {
    throw new RangeError(
      `${what}: ${name} must be [min, max] with 1 <= min <= max, got [${lo}, ${hi}]`,
    );
  }
}

function draw(rng: SeededRandom, alphabet: string, n: number): string {
  const chars = [...alphabet];
  let s = '';
  for (let i = 0; i < n; i++) s += chars[rng.int(chars.length)];
  return s;
}

/**
 * Copy: repeat a random string. `input = s`, `target = s`, lengths in `length`
 * (default [3, 12]).
 */
export function copyExamples(
  options: SyntheticOptions & { readonly length?: readonly [number, number] },
): SyntheticExample[] {
  checkCount('copyExamples', options.count);
  const [lo, hi] = options.length ?? [3, 12];
  checkRange('copyExamples', 'length', [lo, hi]);
  const rng = new SeededRandom(options.seed);
  const alphabet = options.alphabet ?? 'abcdefgh';
  return Array.from({ length: options.count }, (_, i) => {
    const s = draw(rng, alphabet, lo + rng.int(hi - lo + 1));
    return { id: `copy-${i}`, input: s, target: s };
  });
}

/**
 * Counting: how many times the first symbol occurs in the string after the colon.
 * `input = "a:abcaab"`, `target = "3"`; lengths in `length` (default [4, 16]).
 */
export function countingExamples(
  options: SyntheticOptions & { readonly length?: readonly [number, number] },
): SyntheticExample[] {
  checkCount('countingExamples', options.count);
  const [lo, hi] = options.length ?? [4, 16];
  checkRange('countingExamples', 'length', [lo, hi]);
  const rng = new SeededRandom(options.seed);
  const alphabet = options.alphabet ?? 'abcd';
  const chars = [...alphabet];
  return Array.from({ length: options.count }, (_, i) => {
    const target = chars[rng.int(chars.length)];
    const s = draw(rng, alphabet, lo + rng.int(hi - lo + 1));
    const n = [...s].filter((c) => c === target).length;
    return { id: `count-${i}`, input: `${target}:${s}`, target: String(n) };
  });
}

/**
 * Key-value recall: a list of distinct keys with values, then a query key; the answer is that
 * key's value, which the model can only give if its state kept the pairs.
 * `input = "c=4 a=1 f=7 ?a"`, `target = "1"`. `pairs` (default [2, 6]) keys from `alphabet`
 * (default `a`-`p`), values are digits.
 */
export function keyValueRecallExamples(
  options: SyntheticOptions & { readonly pairs?: readonly [number, number] },
): SyntheticExample[] {
  checkCount('keyValueRecallExamples', options.count);
  const [lo, hi] = options.pairs ?? [2, 6];
  checkRange('keyValueRecallExamples', 'pairs', [lo, hi]);
  const keys = [...(options.alphabet ?? 'abcdefghijklmnop')];
  if (hi > keys.length) {
    throw new RangeError(
      `keyValueRecallExamples: ${hi} pairs need as many distinct keys, the alphabet has ${keys.length}`,
    );
  }
  const rng = new SeededRandom(options.seed);
  return Array.from({ length: options.count }, (_, i) => {
    const n = lo + rng.int(hi - lo + 1);
    const chosen = rng.shuffle([...keys]).slice(0, n);
    const values = chosen.map(() => String(rng.int(10)));
    const q = rng.int(n);
    const pairs = chosen.map((k, j) => `${k}=${values[j]}`).join(' ');
    return { id: `kv-${i}`, input: `${pairs} ?${chosen[q]}`, target: values[q] };
  });
}

/**
 * A synthetic task in the paper's layout: no prefix, input `input + "###"`, label
 * `target + "<|endoftext|>"`; scored by exact match of the generated target.
 */
export function syntheticTask(name: string): TaskDefinition<SyntheticExample> {
  return {
    name,
    kind: 'generation',
    evalMode: 'generate',
    metrics: ['exact_match'],
    format(ex: SyntheticExample): FormattedExample[] {
      return [
        {
          id: ex.id,
          prefix: '',
          input: ex.input + SEPARATOR,
          label: ex.target + EOS,
          references: [ex.target],
        },
      ];
    },
  };
}
