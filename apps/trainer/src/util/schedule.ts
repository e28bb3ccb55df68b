import { constantSchedule, cosineSchedule, type LrLambda, linearSchedule } from '@statetune/tensor';

/** The learning-rate schedules a run or a pretraining can ask for. */
export type ScheduleKind = 'linear' | 'cosine' | 'constant';

/**
 * The multiplier of the learning rate at each step: warmup then linear decay to 0 (the
 * paper's), cosine decay (to `minRatio` of the peak), or constant.
 */
export function scheduleFor(
  kind: ScheduleKind,
  warmupSteps: number,
  totalSteps: number,
  minRatio?: number,
): LrLambda {
  if (kind === 'constant') return constantSchedule(warmupSteps);
  if (kind === 'cosine') return cosineSchedule(warmupSteps, totalSteps, { minRatio });
  return linearSchedule(warmupSteps, totalSteps);
}
