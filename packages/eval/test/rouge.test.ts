import { describe, expect, it } from 'vitest';
import {
  bootstrapAggregate,
  isRougeType,
  MetricError,
  type RougeScore,
  RougeScorer,
  rouge,
  rougeTokenize,
  summaryLevelLcs,
  unionLcs,
} from '../src/index.js';
import { lcsIndices, lcsTable } from '../src/metrics/rouge.js';
import { HAVE_METRIC_TESTS, readJson, readText } from './helpers.js';

type Expected = Partial<RougeScore>;
interface RougeVectors {
  simple_cases: {
    types: string[];
    target: string;
    prediction: string;
    expected: Record<string, Expected>;
    places?: number;
  }[];
  invalid_rouge_types: string[];
  valid_rouge_types: string[];
  against_rouge155: {
    files: { target: string; prediction: string };
    places: number;
    cases: (Expected & { type: string; stemmer: boolean; line: number })[];
  };
  rougeLsum_multi_against_rouge155: Expected & {
    files: { target: string; prediction: string };
    stemmer: boolean;
    places: number;
  };
  lcs_helpers: {
    lcs_table: { ref: number[]; can: number[]; lcs_len: number; lcs_ref_indices: number[] };
    union_lcs: { ref: number[]; cands: number[][]; expected: number[] };
    summary_level_lcs: Expected & { refs: number[][]; cands: number[][] };
  };
}
const V = HAVE_METRIC_TESTS
  ? readJson<RougeVectors>('rouge', 'rouge_test_vectors.json')
  : undefined;

// Python's readlines(): lines keep their trailing newline.
function readlines(name: string): string[] {
  return readText('rouge', name).match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

function expectScore(got: RougeScore, want: Partial<RougeScore>, places?: number): void {
  const tol = places === undefined ? 1e-12 : 0.5 * 10 ** -places;
  let checked = 0;
  for (const k of ['precision', 'recall', 'fmeasure'] as const) {
    if (want[k] === undefined) continue;
    checked++;
    expect(Math.abs(got[k] - want[k]!), `${k}: got ${got[k]}, want ${want[k]}`).toBeLessThanOrEqual(
      tol,
    );
  }
  // A vector without any of the three values would check nothing.
  expect(checked, 'expected values in the vector').toBeGreaterThan(0);
}

describe.skipIf(!V)('rouge_score test vectors (google-research rouge_scorer_test)', () => {
  const v = V!;
  it('simple cases', () => {
    expect(v.simple_cases.length).toBeGreaterThan(0);
    for (const c of v.simple_cases) {
      const scores = new RougeScorer(c.types).score(c.target, c.prediction);
      expect(c.types.length).toBeGreaterThan(0);
      for (const t of c.types) expectScore(scores[t as 'rouge1'], c.expected[t], c.places);
    }
  });

  it('valid and invalid ROUGE types', () => {
    expect(v.valid_rouge_types.length).toBeGreaterThan(0);
    expect(v.invalid_rouge_types.length).toBeGreaterThan(0);
    for (const t of v.valid_rouge_types) expect(isRougeType(t)).toBe(true);
    for (const t of v.invalid_rouge_types) {
      expect(isRougeType(t)).toBe(false);
      expect(() => new RougeScorer([t])).toThrow(MetricError);
    }
  });

  it('agrees with ROUGE-1.5.5 on the test files, with and without stemming', () => {
    const c = v.against_rouge155;
    const targets = readlines(c.files.target);
    const predictions = readlines(c.files.prediction);
    expect(targets.length).toBe(predictions.length);
    expect(c.cases.length).toBeGreaterThan(0);
    for (const k of c.cases) {
      const s = new RougeScorer([k.type], { useStemmer: k.stemmer }).score(
        targets[k.line],
        predictions[k.line],
      );
      expectScore(s[k.type as 'rouge1'], k, c.places);
    }
  });

  it('ROUGE-Lsum over whole multi-sentence files agrees with ROUGE-1.5.5', () => {
    const c = v.rougeLsum_multi_against_rouge155;
    const s = new RougeScorer(['rougeLsum'], { useStemmer: c.stemmer }).score(
      readText('rouge', c.files.target),
      readText('rouge', c.files.prediction),
    );
    expectScore(s.rougeLsum, c, c.places);
  });

  it('LCS helpers', () => {
    const h = v.lcs_helpers;
    const t = lcsTable(h.lcs_table.ref, h.lcs_table.can);
    expect(t[h.lcs_table.ref.length][h.lcs_table.can.length]).toBe(h.lcs_table.lcs_len);
    expect(lcsIndices(h.lcs_table.ref, h.lcs_table.can)).toEqual(h.lcs_table.lcs_ref_indices);
    expect(unionLcs(h.union_lcs.ref, h.union_lcs.cands)).toEqual(h.union_lcs.expected);
    const s = h.summary_level_lcs;
    const toStr = (xs: number[][]) => xs.map((x) => x.map(String));
    expectScore(summaryLevelLcs(toStr(s.refs), toStr(s.cands)), s, 3);
  });
});

describe('rouge tokenizer', () => {
  it('lowercases, drops non-alphanumerics and stems only tokens longer than 3', () => {
    expect(rougeTokenize("The Cat's 2 hats -- running!")).toEqual([
      'the',
      'cat',
      's',
      '2',
      'hats',
      'running',
    ]);
    expect(rougeTokenize("The Cat's 2 hats -- running!", true)).toEqual([
      'the',
      'cat',
      's',
      '2',
      'hat',
      'run',
    ]);
    // 'was' and 'has' have 3 characters and are not stemmed ('wa', 'ha' otherwise).
    expect(rougeTokenize('was has', true)).toEqual(['was', 'has']);
    expect(rougeTokenize('Ünïcode café')).toEqual(['n', 'code', 'caf']);
  });
});

describe('rouge (evaluate semantics)', () => {
  const preds = ['the cat sat on the mat', 'hello there general kenobi', 'a b c'];
  const refs = ['the cat is on the mat', 'hello there', 'x y z'];

  it('mean aggregate equals the mean of per-example F-measures', () => {
    const per = rouge(preds, refs, { aggregate: 'none' });
    // rouge1 by hand: (1) overlap the×2, cat, on, mat = 5 of 6 and 6 -> F = 5/6;
    // (2) overlap 2, P = 2/4, R = 2/2 -> F = 2·0.5·1/1.5 = 2/3; (3) 0.
    expect(per.rouge1[0]).toBeCloseTo(5 / 6, 15);
    expect(per.rouge1[1]).toBeCloseTo(2 / 3, 15);
    expect(per.rouge1[2]).toBe(0);
    const mean = rouge(preds, refs, { aggregate: 'mean' });
    expect(mean.rouge1).toBeCloseTo((5 / 6 + 2 / 3) / 3, 15);
    expect(Object.keys(mean)).toEqual(['rouge1', 'rouge2', 'rougeL', 'rougeLsum']);
  });

  it('bootstrap mid is seeded, deterministic, and close to the mean', () => {
    const a = rouge(preds, refs);
    const b = rouge(preds, refs);
    expect(a).toEqual(b);
    const mean = rouge(preds, refs, { aggregate: 'mean' });
    // Resampling noise of 1000 means of 3 examples: a few hundredths at most.
    for (const k of Object.keys(mean)) expect(Math.abs(a[k] - mean[k])).toBeLessThan(0.05);
    const many = Array.from({ length: 400 }, (_, i) => ({
      precision: (i % 7) / 7,
      recall: (i % 5) / 5,
      fmeasure: (i % 11) / 11,
    }));
    const agg = bootstrapAggregate(many, { seed: 3 });
    const plain = many.reduce((s, x) => s + x.fmeasure, 0) / many.length;
    expect(Math.abs(agg.mid.fmeasure - plain)).toBeLessThan(0.01);
    expect(agg.low.fmeasure).toBeLessThan(agg.mid.fmeasure);
    expect(agg.high.fmeasure).toBeGreaterThan(agg.mid.fmeasure);
  });

  it('takes the best reference per type with several references', () => {
    const s = rouge(['the cat sat'], [['dogs bark loudly', 'the cat sat']], { aggregate: 'mean' });
    expect(s.rouge1).toBe(1);
    const sc = new RougeScorer(['rouge1']);
    expect(sc.scoreMulti(['a', 'the cat', 'the cat'], 'the cat').rouge1.fmeasure).toBe(1);
  });

  it('rejects mismatched and empty input', () => {
    expect(() => rouge(['a'], ['a', 'b'])).toThrow(/1 predictions but 2 references/);
    expect(() => rouge([], [])).toThrow(MetricError);
    expect(() => rouge(['a'], [[]])).toThrow(/empty list/);
    expect(() => rouge(['a'], ['a'], { rougeTypes: ['rougeX'] })).toThrow(/invalid ROUGE type/);
  });
});
