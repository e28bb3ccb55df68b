import { describe, expect, it } from 'vitest';
import {
  accuracy,
  averageRanks,
  f1,
  type GlueTask,
  glueMetric,
  MetricError,
  matthewsCorrelation,
  pearson,
  spearman,
} from '../src/index.js';

const preds = [1, 0, 1, 1];
const refs = [1, 1, 1, 0];

describe('GLUE metrics (hand-computed)', () => {
  it('accuracy: 2 of 4 equal', () => {
    expect(accuracy(preds, refs)).toBe(0.5);
  });

  it('f1: tp=2 fp=1 fn=1 -> 2·2/(2·2+1+1) = 2/3', () => {
    expect(f1(preds, refs)).toBeCloseTo(2 / 3, 15);
    // No predicted and no true positives: scikit-learn's zero_division gives 0.
    expect(f1([0, 0], [0, 0])).toBe(0);
    expect(f1([1, 1], [1, 1])).toBe(1);
  });

  it('Matthews: (tp·tn - fp·fn)/sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)) = (0-1)/sqrt(3·3·1·1) = -1/3', () => {
    expect(matthewsCorrelation(preds, refs)).toBeCloseTo(-1 / 3, 15);
    // A constant prediction has no correlation: 0, as scikit-learn.
    expect(matthewsCorrelation([1, 1, 1], [0, 1, 0])).toBe(0);
    expect(matthewsCorrelation([0, 1, 0, 1], [0, 1, 0, 1])).toBe(1);
  });

  it('Matthews, 3 classes: cov(t,p)=3·4-5=7, cov(p,p)=16-6=10, cov(t,t)=16-6=10 -> 0.7', () => {
    expect(matthewsCorrelation([0, 1, 2, 2], [0, 1, 1, 2])).toBeCloseTo(0.7, 15);
  });

  it('Pearson: sxy=11, sxx=5, syy=26 -> 11/sqrt(130)', () => {
    expect(pearson([1, 2, 3, 4], [2, 4, 5, 9])).toBeCloseTo(11 / Math.sqrt(130), 14);
    expect(pearson([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 15);
    expect(Number.isNaN(pearson([1, 1, 1], [1, 2, 3]))).toBe(true);
  });

  it('average ranks share ties, as scipy.stats.rankdata', () => {
    expect(averageRanks([3, 1, 3, 2])).toEqual([3.5, 1, 3.5, 2]);
    expect(averageRanks([5, 5, 5])).toEqual([2, 2, 2]);
  });

  it('Spearman with ties: ranks [1,2.5,2.5,4] vs [1,3,2,4] -> 4.5/sqrt(4.5·5) = sqrt(0.9)', () => {
    expect(spearman([1, 2, 2, 3], [1, 3, 2, 4])).toBeCloseTo(Math.sqrt(0.9), 14);
    // Monotone but not linear: Spearman 1, Pearson below 1.
    expect(spearman([1, 2, 3, 4], [1, 4, 9, 100])).toBeCloseTo(1, 15);
  });

  it('glueMetric returns the keys evaluate returns per task', () => {
    // The values are the hand-computed ones above: accuracy 1/2, F1 2/3, Matthews -1/3.
    expect(glueMetric('cola', preds, refs)).toEqual({
      matthews_correlation: expect.closeTo(-1 / 3, 15),
    });
    for (const t of ['mrpc', 'qqp'] as GlueTask[]) {
      const m = glueMetric(t, preds, refs);
      expect(Object.keys(m)).toEqual(['accuracy', 'f1']);
      expect(m).toEqual({ accuracy: 0.5, f1: expect.closeTo(2 / 3, 15) });
    }
    // [1,2,3] vs [1,3,2]: sxy = 1, sxx = syy = 2 -> Pearson 1/2; no ties, so Spearman is 1/2 too.
    const stsb = glueMetric('stsb', [1, 2, 3], [1, 3, 2]);
    expect(Object.keys(stsb)).toEqual(['pearson', 'spearmanr']);
    expect(stsb).toEqual({ pearson: expect.closeTo(0.5, 14), spearmanr: expect.closeTo(0.5, 14) });
    for (const t of ['rte', 'sst2', 'qnli', 'mnli', 'wnli'] as GlueTask[]) {
      expect(glueMetric(t, preds, refs)).toEqual({ accuracy: 0.5 });
    }
    expect(() => glueMetric('squad' as GlueTask, preds, refs)).toThrow(/unknown GLUE task "squad"/);
  });

  it('rejects empty, mismatched and non-numeric input with clear errors', () => {
    expect(() => accuracy([], [])).toThrow(MetricError);
    expect(() => accuracy([1], [1, 0])).toThrow(/1 predictions but 2 references/);
    expect(() => accuracy([Number.NaN], [1])).toThrow(/predictions\[0\] must be a finite integer/);
    expect(() => f1([2], [1])).toThrow(/labels 0 and 1/);
    expect(() => pearson([1], [1])).toThrow(/at least 2 pairs/);
    expect(() => pearson([1, Number.POSITIVE_INFINITY], [1, 2])).toThrow(/finite number/);
  });
});
