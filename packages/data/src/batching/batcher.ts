import type { LmExample } from '../tasks/tokenize.js';
import { type Batch, collate } from './collate.js';
import { mixSeed, SeededRandom } from './rng.js';

/**
 * Where a {@link Batcher} is: the seed, the epoch, and how many batches of that epoch were
 * already returned, with the number of examples and the batch size it was saved with (a
 * resume with other data or another batch size would silently give other batches, so
 * {@link Batcher.setState} refuses it). Plain JSON, so a training run can save it with its
 * checkpoint.
 */
export interface BatcherState {
  /** The shuffle seed. */
  readonly seed: number;
  /** 0-based epoch. */
  readonly epoch: number;
  /** Batches of `epoch` already returned. */
  readonly position: number;
  /** Number of examples of the batcher that saved it. */
  readonly examples: number;
  /** Batch size of the batcher that saved it. */
  readonly batchSize: number;
}

/** Options of {@link Batcher}. */
export interface BatcherOptions {
  /** Examples per batch. */
  readonly batchSize: number;
  /** Shuffle seed (default 42, the paper's seed). */
  readonly seed?: number;
  /** Shuffle every epoch (default true); false keeps the examples' order. */
  readonly shuffle?: boolean;
  /**
   * Leave out the last, smaller batch of an epoch (default false). The paper trains with
   * `dataloader_drop_last=True`, so an epoch has `floor(n / batchSize)` steps.
   */
  readonly dropLast?: boolean;
  /**
   * Length bucketing: within windows of `bucketWindow` batches (of the shuffled order), sort
   * examples by length before cutting batches, then shuffle the batches, so a batch holds
   * examples of similar length and pads less. Off by default (the paper does not bucket).
   */
  readonly bucketWindow?: number;
  /** Input padding id (default 0). */
  readonly padId?: number;
  /** Round each batch's length up to a multiple of this (default 1). */
  readonly padToMultipleOf?: number;
}

/**
 * Cuts training examples into padded batches, epoch after epoch, in an order that depends
 * only on (seed, epoch): stopping after any batch, saving {@link Batcher.state} and resuming
 * with {@link Batcher.setState} gives exactly the batches an uninterrupted run would have.
 *
 * @example
 * ```ts
 * const batcher = new Batcher(train.lm, { batchSize: 4, seed: 42, dropLast: true });
 * for (let step = 0; step < maxSteps; step++) {
 *   const { inputIds, labels, shape } = batcher.next();
 *   // ...
 *   if (step % 100 === 0) save(JSON.stringify(batcher.state));
 * }
 * ```
 */
export class Batcher {
  readonly examples: readonly LmExample[];
  readonly options: Readonly<Required<Omit<BatcherOptions, 'bucketWindow'>>> & {
    readonly bucketWindow: number | undefined;
  };
  #seed: number;
  #epoch = 0;
  #position = 0;
  #order: number[][] | undefined;

  constructor(examples: readonly LmExample[], options: BatcherOptions) {
    const { batchSize } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`Batcher: batchSize must be a positive integer, got ${batchSize}`);
    }
    checkSeed('Batcher', options.seed ?? 42);
    if (
      options.bucketWindow !== undefined &&
      (!Number.isInteger(options.bucketWindow) || options.bucketWindow < 1)
    ) {
      throw new RangeError(
        `Batcher: bucketWindow must be a positive integer, got ${options.bucketWindow}`,
      );
    }
    this.examples = examples;
    this.options = {
      batchSize,
      seed: options.seed ?? 42,
      shuffle: options.shuffle ?? true,
      dropLast: options.dropLast ?? false,
      bucketWindow: options.bucketWindow,
      padId: options.padId ?? 0,
      padToMultipleOf: options.padToMultipleOf ?? 1,
    };
    this.#seed = this.options.seed;
    if (this.batchesPerEpoch === 0) {
      throw new RangeError(
        `Batcher: ${examples.length} examples make no batch of ${batchSize}${
          this.options.dropLast ? ' with dropLast' : ''
        }`,
      );
    }
  }

  /** Batches in one epoch. */
  get batchesPerEpoch(): number {
    const n = this.examples.length;
    const b = this.options.batchSize;
    return this.options.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
  }

  /** The current position; save it to resume later. */
  get state(): BatcherState {
    return {
      seed: this.#seed,
      epoch: this.#epoch,
      position: this.#position,
      examples: this.examples.length,
      batchSize: this.options.batchSize,
    };
  }

  /**
   * Continues from a saved {@link state}. Throws a RangeError when the state is malformed or
   * was saved by a batcher with another number of examples or another batch size.
   */
  setState(state: BatcherState): void {
    const { seed, epoch, position, examples, batchSize } = state ?? ({} as BatcherState);
    checkSeed('Batcher.setState', seed);
    if (examples !== this.examples.length || batchSize !== this.options.batchSize) {
      throw new RangeError(
        `Batcher.setState: the state was saved with ${examples} examples in batches of ${batchSize}; this batcher has ${this.examples.length} in batches of ${this.options.batchSize}`,
      );
    }
    if (!Number.isInteger(epoch) || epoch < 0) {
      throw new RangeError(`Batcher.setState: epoch must be a non-negative integer, got ${epoch}`);
    }
    if (!Number.isInteger(position) || position < 0 || position > this.batchesPerEpoch) {
      throw new RangeError(
        `Batcher.setState: position must be in 0..${this.batchesPerEpoch}, got ${position}`,
      );
    }
    this.#seed = seed;
    this.#epoch = epoch;
    this.#position = position;
    this.#order = undefined;
  }

  /** Example indices of each batch of `epoch`, in order. */
  epochOrder(epoch: number): number[][] {
    const n = this.examples.length;
    const { batchSize, shuffle, bucketWindow, dropLast } = this.options;
    const rng = new SeededRandom(
      mixSeed(this.#seed >>> 0, Math.floor(this.#seed / 2 ** 32), epoch),
    );
    const perm = Array.from({ length: n }, (_, i) => i);
    if (shuffle) rng.shuffle(perm);
    let batches: number[][] = [];
    if (bucketWindow === undefined) {
      for (let i = 0; i < n; i += batchSize) batches.push(perm.slice(i, i + batchSize));
    } else {
      const window = bucketWindow * batchSize;
      for (let w = 0; w < n; w += window) {
        const part = perm.slice(w, w + window);
        // Stable sort: equal lengths keep their shuffled order.
        part.sort((a, b) => this.examples[a].inputIds.length - this.examples[b].inputIds.length);
        for (let i = 0; i < part.length; i += batchSize) batches.push(part.slice(i, i + batchSize));
      }
    }
    if (dropLast) batches = batches.filter((b) => b.length === batchSize);
    if (bucketWindow !== undefined && shuffle) rng.shuffle(batches);
    return batches;
  }

  /** The next batch; after the last batch of an epoch, the first of the next. */
  next(): Batch {
    if (this.#position >= this.batchesPerEpoch) {
      this.#epoch++;
      this.#position = 0;
      this.#order = undefined;
    }
    this.#order ??= this.epochOrder(this.#epoch);
    const indices = this.#order[this.#position++];
    return collate(
      indices.map((i) => this.examples[i]),
      { padId: this.options.padId, padToMultipleOf: this.options.padToMultipleOf },
    );
  }

  /** The remaining batches of the current epoch. */
  *restOfEpoch(): Generator<Batch> {
    while (this.#position < this.batchesPerEpoch) yield this.next();
  }
}

/** Seeds are integers that fit a double exactly (both 32-bit halves feed the shuffle). */
function checkSeed(where: string, seed: unknown): void {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new RangeError(`${where}: seed must be a safe integer, got ${String(seed)}`);
  }
}

/**
 * Batches for evaluation: examples in order, no shuffling, the last batch kept (the paper
 * evaluates with batch size 1).
 */
export function* evalBatches(
  examples: readonly LmExample[],
  batchSize = 1,
  padId = 0,
): Generator<Batch> {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`evalBatches: batchSize must be a positive integer, got ${batchSize}`);
  }
  for (let i = 0; i < examples.length; i += batchSize) {
    yield collate(examples.slice(i, i + batchSize), { padId });
  }
}
