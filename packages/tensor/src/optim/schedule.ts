import { TensorError } from '../errors.js';
import type { Optimizer } from './optimizer.js';

/** A learning-rate multiplier as a function of the completed step count. */
export type LrLambda = (step: number) => number;

function checkSteps(name: string, warmupSteps: number, totalSteps: number): void {
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) {
    throw new TensorError(name, `warmupSteps must be a non-negative integer, got ${warmupSteps}`);
  }
  if (!Number.isInteger(totalSteps) || totalSteps <= 0) {
    throw new TensorError(name, `totalSteps must be a positive integer, got ${totalSteps}`);
  }
}

/** Linear warmup from 0, then linear decay to 0 at totalSteps (transformers' get_linear_schedule_with_warmup). */
export function linearSchedule(warmupSteps: number, totalSteps: number): LrLambda {
  checkSteps('linearSchedule', warmupSteps, totalSteps);
  return (step) => {
    if (step < warmupSteps) return step / Math.max(1, warmupSteps);
    return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
  };
}

/**
 * Linear warmup, then a cosine from 1 down to `minRatio` over `cycles` half-waves
 * (transformers' get_cosine_schedule_with_warmup for minRatio 0 and cycles 0.5).
 */
export function cosineSchedule(
  warmupSteps: number,
  totalSteps: number,
  options: { cycles?: number; minRatio?: number } = {},
): LrLambda {
  checkSteps('cosineSchedule', warmupSteps, totalSteps);
  const cycles = options.cycles ?? 0.5;
  const minRatio = options.minRatio ?? 0;
  return (step) => {
    if (step < warmupSteps) return step / Math.max(1, warmupSteps);
    const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
    const cos = Math.max(0, 0.5 * (1 + Math.cos(Math.PI * cycles * 2 * progress)));
    return minRatio + (1 - minRatio) * cos;
  };
}

/** Constant learning rate after a linear warmup. */
export function constantSchedule(warmupSteps = 0): LrLambda {
  return (step) => (step < warmupSteps ? step / Math.max(1, warmupSteps) : 1);
}

/**
 * Sets each group's lr to its initial lr times `lambda(step)`, as torch's LambdaLR: the
 * optimizer's first step uses lambda(0); call `step()` after each optimizer step.
 */
export class LrScheduler {
  private count = 0;

  constructor(
    private readonly optimizer: Optimizer<{ lr: number }>,
    private readonly lambda: LrLambda,
  ) {
    this.apply();
  }

  private apply(): void {
    const f = this.lambda(this.count);
    if (!Number.isFinite(f) || f < 0) {
      throw new TensorError(
        'LrScheduler',
        `the schedule gave ${f} at step ${this.count}; it must be a finite number >= 0`,
      );
    }
    for (const g of this.optimizer.groups) g.hyper.lr = g.initialLr * f;
  }

  /** Advances one step and sets the new learning rates. */
  step(): void {
    this.count++;
    this.apply();
  }

  /** The learning rate of each group now. */
  get lastLr(): number[] {
    return this.optimizer.groups.map((g) => g.hyper.lr);
  }

  /** Steps taken, for saving. */
  stateDict(): { step: number } {
    return { step: this.count };
  }

  /** Restores the step count and the learning rates that go with it. */
  loadStateDict(state: { step: number }): void {
    if (!Number.isInteger(state.step) || state.step < 0) {
      throw new TensorError(
        'LrScheduler',
        `saved step must be a non-negative integer, got ${state.step}`,
      );
    }
    this.count = state.step;
    this.apply();
  }
}
