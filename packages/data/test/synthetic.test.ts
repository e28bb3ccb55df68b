import { describe, expect, it } from 'vitest';
import {
  ByteTokenizer,
  copyExamples,
  countingExamples,
  IGNORE_INDEX,
  keyValueRecallExamples,
  prepareSplit,
  syntheticTask,
} from '../src/index.js';

describe('synthetic tasks', () => {
  it('copy: the target repeats the input; same seed, same data', () => {
    const a = copyExamples({ count: 50, seed: 1 });
    expect(copyExamples({ count: 50, seed: 1 })).toEqual(a);
    expect(copyExamples({ count: 50, seed: 2 })).not.toEqual(a);
    for (const e of a) {
      expect(e.target).toBe(e.input);
      expect(e.input.length).toBeGreaterThanOrEqual(3);
      expect(e.input.length).toBeLessThanOrEqual(12);
      expect(e.input).toMatch(/^[a-h]+$/);
    }
  });

  it('counting: the target is the number of occurrences of the first symbol', () => {
    for (const e of countingExamples({ count: 100, seed: 3 })) {
      const [sym, s] = e.input.split(':');
      expect(sym).toHaveLength(1);
      expect(Number(e.target)).toBe([...s].filter((c) => c === sym).length);
    }
  });

  it('key-value recall: the answer is the queried key’s value, keys distinct', () => {
    const all = keyValueRecallExamples({ count: 100, seed: 4, pairs: [3, 5] });
    for (const e of all) {
      const m = /^(.*) \?(\w)$/.exec(e.input)!;
      const pairs = m[1].split(' ').map((p) => p.split('='));
      expect(pairs.length).toBeGreaterThanOrEqual(3);
      expect(pairs.length).toBeLessThanOrEqual(5);
      expect(new Set(pairs.map((p) => p[0])).size).toBe(pairs.length);
      expect(pairs.find((p) => p[0] === m[2])![1]).toBe(e.target);
    }
    // The queried position varies, so recall is needed (not just the last pair).
    const positions = new Set(
      all.map((e) => {
        const m = /^(.*) \?(\w)$/.exec(e.input)!;
        return m[1].split(' ').findIndex((p) => p.startsWith(`${m[2]}=`));
      }),
    );
    expect(positions.size).toBeGreaterThan(2);
    expect(() => keyValueRecallExamples({ count: 1, seed: 0, pairs: [2, 30] })).toThrow(
      /30 pairs need as many distinct keys/,
    );
    expect(() => copyExamples({ count: -1, seed: 0 })).toThrow(/count/);
  });

  it('formats and tokenizes with the byte tokenizer: input###, target + EOS', () => {
    const tok = new ByteTokenizer();
    const raw = keyValueRecallExamples({ count: 4, seed: 5 });
    const task = syntheticTask('kv');
    const [f] = task.format(raw[0], 'train');
    expect(f.input).toBe(`${raw[0].input}###`);
    expect(f.label).toBe(`${raw[0].target}<|endoftext|>`);
    const { lm, gen } = prepareSplit(task, raw, tok, { role: 'eval' });
    const labels = Array.from(lm[0].labels).filter((l) => l !== IGNORE_INDEX);
    expect(labels).toEqual([...tok.encode(raw[0].target), 0]);
    expect(tok.decode(gen[0].promptIds)).toBe(f.input);
    expect(gen[0].references).toEqual([raw[0].target]);
  });

  it('ends labels with the tokenizer’s own EOS id, whatever its EOS token is called', () => {
    const tok = new ByteTokenizer({ specialTokens: ['<pad>', '<eos>'], eosToken: '<eos>' });
    const { lm, gen } = prepareSplit(
      syntheticTask('copy'),
      [{ id: 'c', input: 'ab', target: 'ab' }],
      tok,
      { role: 'eval' },
    );
    // 'a' and 'b' are bytes 97 and 98 after two special tokens; then EOS (id 1).
    expect(Array.from(gen[0].labelIds)).toEqual([99, 100, 1]);
    expect(Array.from(lm[0].labels).filter((l) => l !== IGNORE_INDEX)).toEqual([99, 100, 1]);
    expect(gen[0].references).toEqual(['ab']);
  });
});
