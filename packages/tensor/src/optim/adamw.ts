import { TensorError } from '../errors.js';
import { zerosLike } from '../ops/creation.js';
import type { Tensor } from '../tensor.js';
import { Optimizer, type ParamGroup } from './optimizer.js';

/** Hyperparameters of {@link AdamW}. */
export interface AdamWOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled decay: p -= lr * weightDecay * p each step. */
  weightDecay: number;
}

const DEFAULTS: AdamWOptions = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

/**
 * Adam with decoupled weight decay (Loshchilov & Hutter), step for step as
 * torch.optim.AdamW: p <- p (1 - lr wd) - lr m_hat / (sqrt(v_hat) + eps). One fused kernel
 * per parameter, so a step stays on the device.
 */
export class AdamW extends Optimizer<AdamWOptions> {
  constructor(
    params: readonly Tensor[] | readonly ParamGroup<AdamWOptions>[],
    options: Partial<AdamWOptions> = {},
  ) {
    super('AdamW', params, { ...DEFAULTS, ...options });
  }

  protected slotNames(): readonly string[] {
    return ['exp_avg', 'exp_avg_sq'];
  }

  protected validate(h: AdamWOptions, group: number): void {
    const bad = (name: string, v: number, rule: string) => {
      throw new TensorError('AdamW', `group ${group}: ${name} ${rule}, got ${v}`);
    };
    if (!(h.lr >= 0)) bad('lr', h.lr, 'must be >= 0');
    if (!(h.beta1 >= 0 && h.beta1 < 1)) bad('beta1', h.beta1, 'must be in [0, 1)');
    if (!(h.beta2 >= 0 && h.beta2 < 1)) bad('beta2', h.beta2, 'must be in [0, 1)');
    if (!(h.eps >= 0)) bad('eps', h.eps, 'must be >= 0');
    if (!(h.weightDecay >= 0)) bad('weightDecay', h.weightDecay, 'must be >= 0');
  }

  protected update(param: Tensor, grad: Tensor, h: AdamWOptions, step: number): void {
    const s = this.slot(param, ['exp_avg', 'exp_avg_sq'], (p) => zerosLike(p));
    param.backend.adamwStep(
      param.kernelView(),
      grad.kernelView(),
      s.exp_avg.kernelView(),
      s.exp_avg_sq.kernelView(),
      {
        lr: h.lr,
        beta1: h.beta1,
        beta2: h.beta2,
        eps: h.eps,
        weightDecay: h.weightDecay,
        biasCorrection1: 1 - h.beta1 ** step,
        biasCorrection2: 1 - h.beta2 ** step,
      },
    );
  }
}
