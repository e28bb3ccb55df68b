import { describe, expect, it } from 'vitest';
import {
  bleuSignature,
  bleuStatistics,
  computeBleuFromStats,
  corpusBleu,
  MetricError,
  SACREBLEU_VERSION,
  type SacreTokenizerName,
  type SmoothMethod,
  sentenceBleu,
  tokenize13a,
} from '../src/index.js';
import { pyFixed } from '../src/text/python.js';
import { decimalsTolerance, HAVE_METRIC_TESTS, readJson } from './helpers.js';

interface StatsCase {
  correct: number[];
  total: number[];
  sys_len: number;
  ref_len: number;
  smooth_value?: number;
  expected: number;
}
interface SentenceGroup {
  tolerance: number;
  hypothesis: string;
  reference: string;
  cases: {
    smooth_method: SmoothMethod;
    smooth_value: number | null;
    lowercase?: boolean;
    tokenize: SacreTokenizerName;
    expected: number;
  }[];
}
interface SacreVectors {
  corpus_bleu: {
    tolerance: number;
    hypotheses: string[];
    references: string[][];
    cases: {
      kwargs: { tokenize?: SacreTokenizerName; smooth_method?: SmoothMethod };
      hypotheses_override?: string[];
      expected: number;
    }[];
  };
  corpus_bleu_max_ngram_order: {
    hypotheses: string[];
    references: string[][];
    cases: { max_ngram_order: number; expected: string }[];
  };
  raw_corpus_bleu: {
    tolerance: number;
    cases: {
      hypotheses: string[];
      references: string[][];
      smooth_value: number;
      expected: number;
    }[];
  };
  ngram_statistics: {
    hypotheses: string[];
    references: string[][];
    tokenize: SacreTokenizerName;
    expected_counts: number[];
    expected_totals: number[];
  };
  compute_bleu_from_stats: { cases: StatsCase[] };
  compute_bleu_degenerate: { cases: StatsCase[] };
  sentence_bleu: SentenceGroup;
  sentence_bleu_zero: SentenceGroup;
}
const V = HAVE_METRIC_TESTS
  ? readJson<SacreVectors>('sacrebleu', 'sacrebleu_test_vectors.json')
  : undefined;

function near(got: number, expected: number, tol: number): void {
  expect(Math.abs(got - expected), `got ${got}, expected ${expected} ± ${tol}`).toBeLessThanOrEqual(
    tol,
  );
}

describe.skipIf(!V)('sacreBLEU test vectors (mjpost/sacrebleu test suite)', () => {
  const v = V!;
  it('corpus_bleu cases', () => {
    const c = v.corpus_bleu;
    expect(c.cases.length).toBeGreaterThan(0);
    for (const k of c.cases) {
      const hyps = k.hypotheses_override ?? c.hypotheses;
      const s = corpusBleu(hyps, c.references, {
        tokenize: k.kwargs.tokenize,
        smoothMethod: k.kwargs.smooth_method,
      });
      near(s.score, k.expected, decimalsTolerance(k.expected, c.tolerance));
    }
  });

  it('corpus_bleu with max n-gram order 1..6 (two decimals)', () => {
    const c = v.corpus_bleu_max_ngram_order;
    expect(c.cases.length).toBeGreaterThan(0);
    for (const k of c.cases) {
      const s = corpusBleu(c.hypotheses, c.references, { maxNgramOrder: k.max_ngram_order });
      expect(s.score.toFixed(2)).toBe(k.expected);
    }
  });

  it('raw_corpus_bleu (tokenize none, floor smoothing, effective order)', () => {
    const c = v.raw_corpus_bleu;
    expect(c.cases.length).toBeGreaterThan(0);
    for (const k of c.cases) {
      const s = corpusBleu(k.hypotheses, k.references, {
        tokenize: 'none',
        smoothMethod: 'floor',
        smoothValue: k.smooth_value,
        effectiveOrder: true,
      });
      near(s.score / 100, k.expected, decimalsTolerance(k.expected, c.tolerance));
    }
  });

  it('n-gram statistics', () => {
    const c = v.ngram_statistics;
    const st = bleuStatistics(c.hypotheses, c.references, { tokenize: c.tokenize });
    expect(c.expected_counts.length).toBeGreaterThan(0);
    expect(st.correct).toEqual(c.expected_counts);
    expect(st.total).toEqual(c.expected_totals);
  });

  it('compute_bleu from statistics (exp smoothing)', () => {
    expect(v.compute_bleu_from_stats.cases.length).toBeGreaterThan(0);
    for (const k of v.compute_bleu_from_stats.cases) {
      const s = computeBleuFromStats(
        { correct: k.correct, total: k.total, sysLen: k.sys_len, refLen: k.ref_len },
        { smoothMethod: 'exp' },
      );
      near(s.score / 100, k.expected, decimalsTolerance(k.expected));
    }
  });

  it('degenerate statistics give exactly 0', () => {
    expect(v.compute_bleu_degenerate.cases.length).toBeGreaterThan(0);
    for (const k of v.compute_bleu_degenerate.cases) {
      const s = computeBleuFromStats(
        { correct: k.correct, total: k.total, sysLen: k.sys_len, refLen: k.ref_len },
        { smoothMethod: 'floor', smoothValue: k.smooth_value },
      );
      expect(s.score / 100).toBe(k.expected);
    }
  });

  it('sentence BLEU with every smoothing method and tokenizer', () => {
    for (const group of [v.sentence_bleu, v.sentence_bleu_zero]) {
      expect(group.cases.length).toBeGreaterThan(0);
      for (const k of group.cases) {
        const s = sentenceBleu(group.hypothesis, [group.reference], {
          smoothMethod: k.smooth_method,
          ...(k.smooth_value === null ? {} : { smoothValue: k.smooth_value }),
          lowercase: k.lowercase ?? false,
          tokenize: k.tokenize,
        });
        near(s.score, k.expected, decimalsTolerance(k.expected, group.tolerance));
      }
    }
  });
});

describe('sacreBLEU details', () => {
  it('signature with the defaults names the claimed version', () => {
    // Four tokens: with three, the 4-gram precision is 0 and corpus BLEU (no effective
    // order) is 0, as in sacreBLEU.
    expect(corpusBleu(['a b c'], [['a b c']]).score).toBe(0);
    const s = corpusBleu(['a b c d'], [['a b c d']]);
    expect(s.signature).toBe(
      `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:${SACREBLEU_VERSION}`,
    );
    expect(SACREBLEU_VERSION).toBe('2.4.3');
    expect(s.score).toBeCloseTo(100, 12);
  });

  it('signature variants: var refs, lowercase, floor value, effective order', () => {
    const st = bleuStatistics(
      ['a', 'b'],
      [
        ['a', 'b'],
        ['x', ''],
      ],
    );
    expect(st.nrefs).toBe('var');
    expect(
      bleuSignature(2, {
        lowercase: true,
        smoothMethod: 'floor',
        tokenize: 'intl',
        effectiveOrder: true,
        version: '2.0.0',
      }),
    ).toBe('nrefs:2|case:lc|eff:yes|tok:intl|smooth:floor[0.10]|version:2.0.0');
    expect(bleuSignature(1, { smoothMethod: 'add-k', smoothValue: 2 })).toContain(
      'smooth:add-k[2.00]',
    );
    expect(sentenceBleu('a b', ['a b']).signature).toContain('eff:yes');
    // Python's format rounds the exact tie 0.125 to even.
    expect(bleuSignature(1, { smoothMethod: 'add-k', smoothValue: 0.125 })).toContain(
      'smooth:add-k[0.12]',
    );
  });

  it("formats numbers as Python's format(x, '.Nf'): exact ties to even", () => {
    // [x, digits, what Python 3 prints]
    const cases: [number, number, string][] = [
      [6.25, 1, '6.2'],
      [6.75, 1, '6.8'],
      [-6.25, 1, '-6.2'],
      [0.125, 2, '0.12'],
      [2.5, 0, '2'],
      [3.5, 0, '4'],
      [1.5, 0, '2'],
      [12.35, 1, '12.3'], // not a tie: 12.35 is stored as 12.3499...
      [0.15, 1, '0.1'],
      [48.53, 2, '48.53'],
      [100, 1, '100.0'],
    ];
    for (const [x, d, want] of cases) expect(pyFixed(x, d), `${x} .${d}f`).toBe(want);
  });

  it('13a tokenizer splits punctuation but keeps decimals, apostrophes and inner dashes', () => {
    expect(tokenize13a("It wasn't 3.5 km-long, (really)!")).toBe(
      "It wasn't 3.5 km-long , ( really ) !",
    );
    expect(tokenize13a('a&amp;b &lt;x&gt; 1-2')).toBe('a & b < x > 1 - 2');
    expect(tokenize13a('end.')).toBe('end .');
  });

  it('closest reference length breaks ties toward the shorter reference', () => {
    // hypothesis of 3 tokens, references of 2 and 4 tokens: both 1 away -> 2.
    const st = bleuStatistics(['a b c'], [['a b'], ['a b c d']]);
    expect(st.refLen).toBe(2);
  });

  it('rejects bad input with messages that say what is wrong', () => {
    expect(() => corpusBleu([], [[]])).toThrow(MetricError);
    expect(() => corpusBleu(['a', 'b'], [['a']])).toThrow(
      /reference stream 0 has 1 entries but there are 2/,
    );
    expect(() => corpusBleu(['a'], [['']])).toThrow(/only empty references/);
    expect(() => corpusBleu(['a'], [['a']], { smoothMethod: 'bogus' as SmoothMethod })).toThrow(
      /unknown smoothMethod/,
    );
  });
});
