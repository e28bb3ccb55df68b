import { describe, expect, it } from 'vitest';
import { bleu, MetricError, tokenize13aWords } from '../src/index.js';

describe('bleu (evaluate / TensorFlow NMT compute_bleu)', () => {
  // hyp  the cat sat on the mat   ref  the cat is on the mat   (6 and 6 tokens)
  // 1-grams: the×2, cat, on, mat match -> 5/6
  // 2-grams: "the cat", "on the", "the mat" -> 3/5
  // 3-grams: "on the mat" -> 1/4
  // 4-grams: none of 3 -> 0/3, so unsmoothed BLEU is 0.
  const hyp = 'the cat sat on the mat';
  const ref = 'the cat is on the mat';

  it('unsmoothed: one zero precision makes BLEU 0', () => {
    const r = bleu([hyp], [ref]);
    expect(r.precisions).toEqual([5 / 6, 3 / 5, 1 / 4, 0]);
    expect(r.bleu).toBe(0);
    expect(r.brevity_penalty).toBe(1);
    expect(r.length_ratio).toBe(1);
    expect(r.translation_length).toBe(6);
    expect(r.reference_length).toBe(6);
  });

  it('smoothed: (m+1)/(n+1) = 6/7, 4/6, 2/5, 1/4, geometric mean (2/35)^(1/4)', () => {
    const r = bleu([hyp], [ref], { smooth: true });
    expect(r.precisions[0]).toBeCloseTo(6 / 7, 15);
    expect(r.precisions[3]).toBeCloseTo(1 / 4, 15);
    expect(r.bleu).toBeCloseTo((2 / 35) ** 0.25, 14);
  });

  it('several references: counts clip to the max over references, length is the shortest', () => {
    // hyp "the cat" (2 tokens); references of 3 and 5 tokens -> reference_length 3,
    // ratio 2/3, BP = exp(1 - 3/2) = exp(-0.5). Orders 1, 2 both precision 1.
    const r = bleu(['the cat'], [['the cat sat', 'a cat is here now']], { maxOrder: 2 });
    expect(r.precisions).toEqual([1, 1]);
    expect(r.reference_length).toBe(3);
    expect(r.length_ratio).toBeCloseTo(2 / 3, 15);
    expect(r.brevity_penalty).toBeCloseTo(Math.exp(-0.5), 15);
    expect(r.bleu).toBeCloseTo(Math.exp(-0.5), 15);
  });

  it('sums statistics over the corpus before the geometric mean', () => {
    // Example 1: "a b" vs "a b" -> 1-grams 2/2, 2-grams 1/1.
    // Example 2: "c d" vs "c e" -> 1-grams 1/2, 2-grams 0/1.
    // Corpus: p1 = 3/4, p2 = 1/2, BLEU = sqrt(3/8), lengths 4 and 4.
    const r = bleu(['a b', 'c d'], ['a b', 'c e'], { maxOrder: 2 });
    expect(r.precisions).toEqual([3 / 4, 1 / 2]);
    expect(r.bleu).toBeCloseTo(Math.sqrt(3 / 8), 15);
  });

  it('tokenizes with 13a: punctuation is its own token', () => {
    expect(tokenize13aWords('Hello, world!')).toEqual(['Hello', ',', 'world', '!']);
    expect(bleu(['Hello, world!'], ['Hello , world !'], { maxOrder: 4 }).bleu).toBe(1);
  });

  it('all-empty predictions give 0 where evaluate divides by zero', () => {
    const r = bleu(['', ''], ['a b', 'c']);
    expect(r.bleu).toBe(0);
    expect(r.brevity_penalty).toBe(0);
    expect(r.length_ratio).toBe(0);
  });

  it('rejects bad input', () => {
    expect(() => bleu([], [])).toThrow(MetricError);
    expect(() => bleu(['a'], ['a', 'b'])).toThrow(/1 predictions but 2 references/);
    expect(() => bleu(['a'], [''])).toThrow(/every reference is empty/);
    expect(() => bleu(['a'], [[]])).toThrow(/empty list/);
    expect(() => bleu([3 as unknown as string], ['a'])).toThrow(
      /predictions\[0\] must be a string/,
    );
    expect(() => bleu(['a'], ['a'], { maxOrder: 0 })).toThrow(/maxOrder/);
  });
});
