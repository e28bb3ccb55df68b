import { describe, expect, it } from 'vitest';
import {
  applyMaxLength,
  Batcher,
  type BatcherState,
  buildLmExample,
  collate,
  evalBatches,
  IGNORE_INDEX,
  type LmExample,
  mixSeed,
  SeededRandom,
} from '../src/index.js';

/** Example i has length 2 + (i * 7) % 11, inputs i*100+j, label only on the last position. */
function examples(n: number): LmExample[] {
  return Array.from({ length: n }, (_, i) => {
    const len = 2 + ((i * 7) % 11);
    const inputIds = Int32Array.from({ length: len }, (_, j) => i * 100 + j + 1);
    const labels = new Int32Array(len).fill(IGNORE_INDEX);
    labels[len - 1] = 5;
    return { id: `e${i}`, inputIds, labels };
  });
}

describe('buildLmExample', () => {
  it('shifts prefix ⊕ input ⊕ label and masks the prompt', () => {
    const ex = buildLmExample('x', { prefix: [1, 2], input: [3, 4], label: [5, 6, 0] });
    expect(Array.from(ex.inputIds)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(ex.labels)).toEqual([-100, -100, -100, 5, 6, 0]);
    expect(() => buildLmExample('y', { prefix: [], input: [1], label: [] })).toThrow(
      /example y: the label has no tokens/,
    );
    const tiny = buildLmExample('z', { prefix: [], input: [], label: [7, 8] });
    expect(Array.from(tiny.labels)).toEqual([8]);
  });
});

describe('collate', () => {
  it('right-pads inputs with 0 and labels with -100', () => {
    const b = collate(examples(3));
    expect(b.shape).toEqual([3, 9]);
    expect(Array.from(b.lengths)).toEqual([2, 9, 5]);
    expect(Array.from(b.inputIds.subarray(0, 9))).toEqual([1, 2, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(b.labels.subarray(0, 9))).toEqual([-100, 5, ...Array(7).fill(-100)]);
    expect(Array.from(b.inputIds.subarray(9, 18))).toEqual([
      101, 102, 103, 104, 105, 106, 107, 108, 109,
    ]);
    expect(b.labelTokens).toBe(3);
    expect(b.ids).toEqual(['e0', 'e1', 'e2']);
    expect(collate(examples(3), { padToMultipleOf: 8, padId: 1 }).shape).toEqual([3, 16]);
    expect(collate(examples(3), { padToMultipleOf: 3 }).shape).toEqual([3, 9]);
    // padId fills the padding of the inputs; labels still pad with -100.
    const padded = collate(examples(2), { padId: 1 });
    expect(Array.from(padded.inputIds.subarray(0, 9))).toEqual([1, 2, 1, 1, 1, 1, 1, 1, 1]);
    expect(Array.from(padded.labels.subarray(0, 9))).toEqual([-100, 5, ...Array(7).fill(-100)]);
    expect(() => collate([])).toThrow(/no examples/);
  });
});

describe('Batcher', () => {
  const data = examples(23);

  function run(b: Batcher, steps: number): string[][] {
    return Array.from({ length: steps }, () => [...b.next().ids]);
  }

  it('visits every example once per epoch, reshuffling each epoch', () => {
    const b = new Batcher(data, { batchSize: 4, seed: 1 });
    expect(b.batchesPerEpoch).toBe(6);
    const e0 = run(b, 6);
    const e1 = run(b, 6);
    expect(e0.flat().sort()).toEqual(data.map((d) => d.id).sort());
    expect(e1.flat().sort()).toEqual(data.map((d) => d.id).sort());
    expect(e0.flat()).not.toEqual(e1.flat());
    expect(e0.at(-1)).toHaveLength(3);
    expect(b.state).toEqual({ seed: 1, epoch: 1, position: 6, examples: 23, batchSize: 4 });
    // The seed decides the order.
    expect(run(new Batcher(data, { batchSize: 4, seed: 1 }), 6)).toEqual(e0);
    expect(run(new Batcher(data, { batchSize: 4, seed: 2 }), 6)).not.toEqual(e0);
  });

  it('drops the last partial batch when asked (the paper trains this way)', () => {
    const b = new Batcher(data, { batchSize: 4, seed: 1, dropLast: true });
    expect(b.batchesPerEpoch).toBe(5);
    const batches = run(b, 10);
    expect(batches.every((x) => x.length === 4)).toBe(true);
    expect(new Set(batches.slice(0, 5).flat()).size).toBe(20);
    expect(() => new Batcher(examples(3), { batchSize: 4, dropLast: true })).toThrow(
      /3 examples make no batch of 4 with dropLast/,
    );
  });

  it('resumes mid-epoch from a serialised state with the same order as an unbroken run', () => {
    for (const options of [
      { batchSize: 4, seed: 42, dropLast: true },
      { batchSize: 3, seed: 7, bucketWindow: 2 },
    ]) {
      const unbroken = run(new Batcher(data, options), 17);
      for (const k of [0, 1, 5, 6, 11]) {
        const first = new Batcher(data, options);
        const before = run(first, k);
        const saved = JSON.stringify(first.state);
        const resumed = new Batcher(data, options);
        resumed.setState(JSON.parse(saved) as BatcherState);
        const after = run(resumed, 17 - k);
        expect([...before, ...after], `k=${k}`).toEqual(unbroken);
      }
    }
  });

  it('keeps order without shuffling and rejects bad states', () => {
    const b = new Batcher(data, { batchSize: 5, shuffle: false });
    expect(run(b, 2)).toEqual([
      ['e0', 'e1', 'e2', 'e3', 'e4'],
      ['e5', 'e6', 'e7', 'e8', 'e9'],
    ]);
    const at = { seed: 1, epoch: 0, position: 0, examples: 23, batchSize: 5 };
    expect(() => b.setState({ ...at, position: 99 })).toThrow(/position must be in 0..5/);
    expect(() => b.setState({ ...at, epoch: -1 })).toThrow(/epoch must be a non-negative/);
    expect(() => b.setState({ ...at, seed: 0.5 })).toThrow(/seed must be a safe integer/);
    // A state saved with other data or another batch size would silently give other batches.
    expect(() => b.setState({ ...at, examples: 24 })).toThrow(
      /saved with 24 examples in batches of 5; this batcher has 23 in batches of 5/,
    );
    expect(() => b.setState({ ...at, batchSize: 4 })).toThrow(/in batches of 4; this batcher/);
    expect(() => new Batcher(data, { batchSize: 0 })).toThrow(/batchSize/);
    expect(() => new Batcher(data, { batchSize: 2, seed: Number.NaN })).toThrow(/seed/);
    expect([...b.restOfEpoch()].map((x) => x.ids.length)).toEqual([5, 5, 3]);
    expect(b.state.epoch).toBe(0);
  });

  it('buckets by length: batches pad less, all examples still visited', () => {
    const many = examples(200);
    const padding = (b: Batcher) => {
      let pad = 0;
      for (let i = 0; i < b.batchesPerEpoch; i++) {
        const batch = b.next();
        pad += batch.shape[0] * batch.shape[1] - batch.lengths.reduce((s, x) => s + x, 0);
      }
      return pad;
    };
    const plain = padding(new Batcher(many, { batchSize: 8, seed: 3 }));
    const bucketed = padding(new Batcher(many, { batchSize: 8, seed: 3, bucketWindow: 25 }));
    expect(bucketed).toBeLessThan(plain / 4);
    const order = new Batcher(many, { batchSize: 8, seed: 3, bucketWindow: 25 }).epochOrder(0);
    expect(order.flat().sort((a, b) => a - b)).toEqual(many.map((_, i) => i));
  });

  it('gives evaluation batches in order, the last one kept', () => {
    expect([...evalBatches(examples(5), 2)].map((b) => b.ids)).toEqual([
      ['e0', 'e1'],
      ['e2', 'e3'],
      ['e4'],
    ]);
  });
});

describe('applyMaxLength', () => {
  const data = examples(11); // lengths 2, 9, 5, 12, 8, 4, 11, 7, 3, 10, 6
  it('drops, truncates or throws, and counts', () => {
    const dropped = applyMaxLength(data, { maxLength: 8 });
    expect(dropped.examples.map((e) => e.id)).toEqual(['e0', 'e2', 'e4', 'e5', 'e7', 'e8', 'e10']);
    expect(dropped.dropped).toEqual(['e1', 'e3', 'e6', 'e9']);
    expect(dropped.truncated).toEqual([]);

    const left = applyMaxLength(data, { maxLength: 8, policy: 'truncate-left' });
    expect(left.examples).toHaveLength(11);
    expect(left.truncated).toEqual(['e1', 'e3', 'e6', 'e9']);
    const e1 = left.examples[1];
    expect(Array.from(e1.inputIds)).toEqual([102, 103, 104, 105, 106, 107, 108, 109]);
    expect(e1.labels.at(-1)).toBe(5);

    // Cutting the end removes the only label token: such examples are dropped, not kept empty.
    const right = applyMaxLength(data, { maxLength: 8, policy: 'truncate-right' });
    expect(right.dropped).toEqual(['e1', 'e3', 'e6', 'e9']);
    expect(() => applyMaxLength(data, { maxLength: 8, policy: 'error' })).toThrow(
      /example e1 has 9 positions, more than maxLength 8/,
    );
    expect(() => applyMaxLength(data, { maxLength: 0 })).toThrow(/positive integer/);
  });
});

describe('SeededRandom', () => {
  it('is deterministic, restorable and unbiased enough', () => {
    const a = new SeededRandom(5);
    const b = new SeededRandom(5);
    expect(Array.from({ length: 5 }, () => a.nextUint32())).toEqual(
      Array.from({ length: 5 }, () => b.nextUint32()),
    );
    const saved = a.state;
    const x = a.int(1000);
    expect(SeededRandom.restore(saved).int(1000)).toBe(x);
    const counts = new Array(4).fill(0);
    const r = new SeededRandom(9);
    for (let i = 0; i < 4000; i++) counts[r.int(4)]++;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(120);
    expect(mixSeed(1, 2)).not.toBe(mixSeed(2, 1));
    expect(() => r.int(0)).toThrow(/n must be/);
  });
});
