import { describe, expect, it } from 'vitest';
import {
  AdamW,
  constantSchedule,
  cosineSchedule,
  LrScheduler,
  linearSchedule,
  SGD,
  tensor,
} from '../../src/index.js';
import { values } from '../helpers.js';

// transformers/optimization.py, transcribed: the lambdas of get_linear_schedule_with_warmup,
// get_cosine_schedule_with_warmup and get_constant_schedule_with_warmup.
function hfLinear(step: number, warmup: number, total: number): number {
  if (step < warmup) return step / Math.max(1, warmup);
  return Math.max(0, (total - step) / Math.max(1, total - warmup));
}
function hfCosine(step: number, warmup: number, total: number, cycles = 0.5): number {
  if (step < warmup) return step / Math.max(1, warmup);
  const progress = (step - warmup) / Math.max(1, total - warmup);
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * cycles * 2 * progress)));
}
function hfConstant(step: number, warmup: number): number {
  return step < warmup ? step / Math.max(1, warmup) : 1;
}

const STEPS = [0, 1, 5, 9, 10, 11, 37, 55, 99, 100, 130];

describe('schedules', () => {
  it.each([
    [10, 100],
    [0, 100],
    [1, 7],
  ])('linearSchedule(%i, %i) is get_linear_schedule_with_warmup', (warmup, total) => {
    const f = linearSchedule(warmup, total);
    for (const s of STEPS) expect(f(s), `step ${s}`).toBeCloseTo(hfLinear(s, warmup, total), 15);
  });

  it('has the known shape: 0 at the start, 1 at the end of warmup, 0 at the end', () => {
    const f = linearSchedule(10, 110);
    expect(f(0)).toBe(0);
    expect(f(5)).toBe(0.5);
    expect(f(10)).toBe(1);
    expect(f(60)).toBe(0.5);
    expect(f(110)).toBe(0);
    expect(f(200)).toBe(0);
    const c = cosineSchedule(10, 110);
    expect(c(10)).toBe(1);
    expect(c(60)).toBeCloseTo(0.5, 15);
    expect(c(110)).toBeCloseTo(0, 15);
  });

  it.each([
    [10, 100, 0.5],
    [0, 50, 0.5],
    [5, 100, 2],
    [3, 40, 0.25],
  ])(
    'cosineSchedule(%i, %i, cycles %f) is get_cosine_schedule_with_warmup',
    (warmup, total, cycles) => {
      const f = cosineSchedule(warmup, total, { cycles });
      for (const s of STEPS)
        expect(f(s), `step ${s}`).toBeCloseTo(hfCosine(s, warmup, total, cycles), 15);
    },
  );

  it('cosineSchedule with minRatio decays to that fraction (get_cosine_with_min_lr_schedule_with_warmup)', () => {
    const f = cosineSchedule(10, 110, { minRatio: 0.1 });
    for (const s of STEPS) {
      const expected = s < 10 ? s / 10 : hfCosine(s, 10, 110) * 0.9 + 0.1;
      expect(f(s), `step ${s}`).toBeCloseTo(expected, 15);
    }
    expect(f(110)).toBeCloseTo(0.1, 15);
  });

  it('constantSchedule is get_constant_schedule_with_warmup', () => {
    for (const w of [0, 4]) {
      const f = constantSchedule(w);
      for (const s of STEPS) expect(f(s)).toBe(hfConstant(s, w));
    }
  });

  it('rejects bad step counts', () => {
    expect(() => linearSchedule(-1, 10)).toThrow(
      /warmupSteps must be a non-negative integer, got -1/,
    );
    expect(() => cosineSchedule(0, 0)).toThrow(/totalSteps must be a positive integer, got 0/);
    expect(() => linearSchedule(2.5, 10)).toThrow(/got 2.5/);
  });
});

describe('LrScheduler', () => {
  it('applies lambda(0) at construction and lambda(n) after n steps, per group', () => {
    const a = tensor([1], { requiresGrad: true });
    const b = tensor([1], { requiresGrad: true });
    const opt = new AdamW([{ params: [a] }, { params: [b], options: { lr: 0.5 } }], { lr: 0.1 });
    const f = linearSchedule(4, 10);
    const sched = new LrScheduler(opt, f);
    expect(sched.lastLr).toEqual([0, 0]);
    for (let n = 1; n <= 12; n++) {
      sched.step();
      expect(sched.lastLr[0]).toBeCloseTo(0.1 * f(n), 15);
      expect(sched.lastLr[1]).toBeCloseTo(0.5 * f(n), 15);
      expect(opt.groups[0].hyper.lr).toBe(sched.lastLr[0]);
    }
    expect(sched.stateDict()).toEqual({ step: 12 });
  });

  it('drives the optimizer: a step at lr 0 changes nothing, the next one moves', () => {
    const p = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const opt = new SGD([p], { lr: 0.5 });
    const sched = new LrScheduler(opt, linearSchedule(2, 10));
    p.grad = tensor([1, 1], { dtype: 'float64' });
    opt.step();
    expect(values(p)).toEqual([1, 2]);
    sched.step();
    opt.step();
    // lr = 0.5 * 1/2.
    expect(values(p)).toEqual([0.75, 1.75]);
  });

  it('restores its step and learning rates from a state dict', () => {
    const p = tensor([1], { requiresGrad: true });
    const opt = new SGD([p], { lr: 2 });
    const f = cosineSchedule(3, 20);
    const sched = new LrScheduler(opt, f);
    sched.loadStateDict({ step: 7 });
    expect(sched.lastLr[0]).toBeCloseTo(2 * f(7), 15);
    sched.step();
    expect(sched.lastLr[0]).toBeCloseTo(2 * f(8), 15);
    expect(() => sched.loadStateDict({ step: -1 })).toThrow(
      /saved step must be a non-negative integer, got -1/,
    );
  });

  it('rejects a schedule that gives a negative or non-finite multiplier', () => {
    const opt = new SGD([tensor([1], { requiresGrad: true })]);
    expect(() => new LrScheduler(opt, () => -1)).toThrow(/the schedule gave -1 at step 0/);
    const sched = new LrScheduler(opt, (s) => (s < 1 ? 1 : Number.NaN));
    expect(() => sched.step()).toThrow(/gave NaN at step 1/);
  });
});
