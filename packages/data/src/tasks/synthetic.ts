import { SeededRandom } from '../batching/rng.js';
import { unprefixedGenerationExample } from './format.js';
import type { FormattedExample, TaskDefinition } from './types.js';

/** A synthetic example: an input string and its target (without EOS). */
export interface SyntheticExample {
  /** `copy-N`, `count-N` or `kv-N`. */
  readonly id: string;
  /** The input, without the `###` separator. */
  readonly input: string;
  /** The expected output, without EOS. */
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

/** A generator's checked options: the length (or pair-count) range, its RNG and its symbols. */
interface Setup {
  readonly lo: number;
  readonly hi: number;
  readonly rng: SeededRandom;
  readonly symbols: readonly string[];
}

/** Checks the options of generator `what`; `rangeName` is what its range counts. */
function setup(
  what: string,
  options: SyntheticOptions,
  rangeName: string,
  [lo, hi]: readonly [number, number],
  defaultAlphabet: string,
): Setup {
  if (!Number.isInteger(options.count) || options.count < 0) {
    throw new RangeError(`${what}: count must be a non-negative integer, got ${options.count}`);
  }
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || hi < lo) {
    throw new RangeError(
      `${what}: ${rangeName} must be [min, max] with 1 <= min <= max, got [${lo}, ${hi}]`,
    );
  }
  const symbols = [...(options.alphabet ?? defaultAlphabet)];
  if (symbols.length === 0) throw new RangeError(`${what}: the alphabet is empty`);
  return { lo, hi, rng: new SeededRandom(options.seed), symbols };
}

/** A uniform integer in [lo, hi]. */
function between(rng: SeededRandom, lo: number, hi: number): number {
  return lo + rng.int(hi - lo + 1);
}

/** `n` symbols drawn uniformly. */
function draw(rng: SeededRandom, symbols: readonly string[], n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += symbols[rng.int(symbols.length)];
  return s;
}

/**
 * Copy: repeat a random string. `input = s`, `target = s`, lengths in `length`
 * (default [3, 12]).
 */
export function copyExamples(
  options: SyntheticOptions & { readonly length?: readonly [number, number] },
): SyntheticExample[] {
  const { lo, hi, rng, symbols } = setup(
    'copyExamples',
    options,
    'length',
    options.length ?? [3, 12],
    'abcdefgh',
  );
  return Array.from({ length: options.count }, (_, i) => {
    const s = draw(rng, symbols, between(rng, lo, hi));
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
  const { lo, hi, rng, symbols } = setup(
    'countingExamples',
    options,
    'length',
    options.length ?? [4, 16],
    'abcd',
  );
  return Array.from({ length: options.count }, (_, i) => {
    const target = symbols[rng.int(symbols.length)];
    const s = draw(rng, symbols, between(rng, lo, hi));
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
  const { lo, hi, rng, symbols } = setup(
    'keyValueRecallExamples',
    options,
    'pairs',
    options.pairs ?? [2, 6],
    'abcdefghijklmnop',
  );
  if (hi > symbols.length) {
    throw new RangeError(
      `keyValueRecallExamples: ${hi} pairs need as many distinct keys, the alphabet has ${symbols.length}`,
    );
  }
  return Array.from({ length: options.count }, (_, i) => {
    const n = between(rng, lo, hi);
    const chosen = rng.shuffle([...symbols]).slice(0, n);
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
      return [unprefixedGenerationExample(ex.id, ex.input, ex.target)];
    },
  };
}
