import type { RandomKey } from './backend.js';
import { PHILOX_WASM_BLOCKS, philoxWasm } from './cpu/philox-wasm.js';
import { TensorError } from './errors.js';

/**
 * Counter-based random numbers (Philox-4x32-10, Salmon et al., SC 2011, the generator of
 * cuRAND, PyTorch's CUDA RNG and JAX). Element i of a draw depends only on the key and its
 * counter, so every backend produces the same numbers in any order, in parallel.
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two u32 values. */
function mulhi(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lolo = aLo * bLo;
  const mid1 = aHi * bLo;
  const mid2 = aLo * bHi;
  const carry = ((lolo >>> 16) + (mid1 & 0xffff) + (mid2 & 0xffff)) >>> 16;
  return (aHi * bHi + (mid1 >>> 16) + (mid2 >>> 16) + carry) >>> 0;
}

/**
 * Philox-4x32-10 of the counter (c0, c1, c2, c3) under key (k0, k1), writing four u32
 * words into `out`. Draws use (block low, block high, 0, 0).
 */
export function philox(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
): void {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = c2 >>> 0;
  let x3 = c3 >>> 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi(M0, x0);
    const lo0 = Math.imul(M0, x0) >>> 0;
    const hi1 = mulhi(M1, x2);
    const lo1 = Math.imul(M1, x2) >>> 0;
    x0 = (hi1 ^ x1 ^ key0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ key1) >>> 0;
    x3 = lo0;
    key0 = (key0 + W0) >>> 0;
    key1 = (key1 + W1) >>> 0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
}

const TWO_POW_24 = 16777216;
const TWO_POW_32 = 4294967296;

/**
 * Calls `use(words, count, done)` for consecutive runs of blocks `counter ..
 * counter + total - 1` under `key`: `words` holds block `j` of the run as words `4j .. 4j + 3`
 * and `done` counts the blocks of earlier runs. The blocks come from the WebAssembly Philox
 * (`cpu/philox-wasm.ts`) or, where that is unavailable, from {@link philox}; the words are
 * the same.
 */
function eachBlockRun(
  key: RandomKey,
  total: number,
  use: (words: Uint32Array, count: number, done: number) => void,
): void {
  const wasm = philoxWasm();
  const run = wasm === null ? Math.min(total, 1024) : PHILOX_WASM_BLOCKS;
  const words = wasm === null ? new Uint32Array(4 * run) : wasm.words;
  const one = new Uint32Array(4);
  for (let done = 0; done < total; done += run) {
    const count = Math.min(run, total - done);
    const start = key.counter + done;
    const c0 = start % TWO_POW_32;
    const c1 = Math.floor(start / TWO_POW_32);
    if (wasm !== null) {
      wasm.blocks(c0 | 0, c1 | 0, key.key0 | 0, key.key1 | 0, count, 0);
    } else {
      for (let j = 0; j < count; j++) {
        const block = start + j;
        philox(block % TWO_POW_32, Math.floor(block / TWO_POW_32), 0, 0, key.key0, key.key1, one);
        words.set(one, 4 * j);
      }
    }
    use(words, count, done);
  }
}

/**
 * Fills `out` with uniform [0, 1) values (24 random bits, exact in float32) for elements
 * counter .. counter + n - 1: element i uses word i % 4 of block floor(i / 4).
 */
export function philoxUniform(key: RandomKey, out: Float32Array | Float64Array | Int32Array): void {
  const n = out.length;
  eachBlockRun(key, Math.ceil(n / 4), (words, count, done) => {
    const first = 4 * done;
    const end = Math.min(n - first, 4 * count);
    for (let j = 0; j < end; j++) out[first + j] = (words[j] >>> 8) / TWO_POW_24;
  });
}

/**
 * Fills `out` with standard normal values by Box-Muller: element i uses words 0 and 1 of
 * block counter + i, so one element's value never depends on the draw's size. The value is
 * `sqrt(-2 log u1) cos(2 pi u2)` evaluated in float64 with `Math`'s functions, so every
 * backend that draws on the CPU gets the same bits.
 */
export function philoxNormal(key: RandomKey, out: Float32Array | Float64Array | Int32Array): void {
  eachBlockRun(key, out.length, (words, count, done) => {
    for (let j = 0; j < count; j++) {
      const u1 = ((words[4 * j] >>> 8) + 1) / TWO_POW_24; // (0, 1]: log(u1) is finite
      const u2 = (words[4 * j + 1] >>> 8) / TWO_POW_24;
      out[done + j] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
  });
}

/** Counter blocks a draw of `size` elements uses. */
export function blocksFor(kind: 'uniform' | 'normal', size: number): number {
  return kind === 'uniform' ? Math.ceil(size / 4) : size;
}

/** The state of a {@link Generator}, to save and restore (resuming a run). */
export interface GeneratorState {
  readonly seed: number;
  readonly offset: number;
}

/**
 * A seeded stream of random numbers. Each draw takes the next counters, so a run with the
 * same seed and the same sequence of draws gets the same numbers on every backend.
 */
export class Generator {
  private seedValue: number;
  private offset = 0;

  constructor(seed = 0) {
    this.seedValue = 0;
    this.manualSeed(seed);
  }

  /** Restarts the stream from `seed` (an integer; up to 2^53). */
  manualSeed(seed: number): this {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new TensorError('Generator', `seed must be a non-negative safe integer, got ${seed}`);
    }
    this.seedValue = seed;
    this.offset = 0;
    return this;
  }

  /** The seed in use. */
  get seed(): number {
    return this.seedValue;
  }

  /** @internal reserves `blocks` counters and returns the key for them. */
  take(blocks: number): RandomKey {
    const key = {
      key0: this.seedValue % TWO_POW_32,
      key1: Math.floor(this.seedValue / TWO_POW_32),
      counter: this.offset,
    };
    this.offset += blocks;
    return key;
  }

  /** Where the stream stands. */
  getState(): GeneratorState {
    return { seed: this.seedValue, offset: this.offset };
  }

  /** Returns to a saved position. */
  setState(state: GeneratorState): void {
    this.manualSeed(state.seed);
    if (!Number.isSafeInteger(state.offset) || state.offset < 0) {
      throw new TensorError(
        'Generator',
        `offset must be a non-negative safe integer, got ${state.offset}`,
      );
    }
    this.offset = state.offset;
  }
}

/** The generator used when none is passed. */
export const defaultGenerator = new Generator(0);

/** Reseeds the default generator. */
export function manualSeed(seed: number): void {
  defaultGenerator.manualSeed(seed);
}
