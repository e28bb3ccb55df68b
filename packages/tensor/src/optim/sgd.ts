import { TensorError } from '../errors.js';
import { zerosLike } from '../ops/creation.js';
import type { Tensor } from '../tensor.js';
import { Optimizer, type ParamGroup } from './optimizer.js';

/** Hyperparameters of {@link SGD}. */
export interface SgdOptions {
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  /** L2 penalty added to the gradient (as torch.optim.SGD). */
  weightDecay: number;
}

const DEFAULTS: SgdOptions = {
  lr: 1e-2,
  momentum: 0,
  dampening: 0,
  nesterov: false,
  weightDecay: 0,
};

/** Stochastic gradient descent with optional momentum and Nesterov, as torch.optim.SGD. */
export class SGD extends Optimizer<SgdOptions> {
  constructor(
    params: readonly Tensor[] | readonly ParamGroup<SgdOptions>[],
    options: Partial<SgdOptions> = {},
  ) {
    super('SGD', params, { ...DEFAULTS, ...options });
  }

  protected slotNames(h: SgdOptions): readonly string[] {
    return h.momentum > 0 ? ['momentum_buffer'] : [];
  }

  protected validate(h: SgdOptions, group: number): void {
    if (!(h.lr >= 0)) throw new TensorError('SGD', `group ${group}: lr must be >= 0, got ${h.lr}`);
    if (!(h.momentum >= 0))
      throw new TensorError('SGD', `group ${group}: momentum must be >= 0, got ${h.momentum}`);
    if (!(h.weightDecay >= 0))
      throw new TensorError(
        'SGD',
        `group ${group}: weightDecay must be >= 0, got ${h.weightDecay}`,
      );
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)) {
      throw new TensorError(
        'SGD',
        `group ${group}: Nesterov momentum needs momentum > 0 and dampening 0`,
      );
    }
  }

  protected update(param: Tensor, grad: Tensor, h: SgdOptions): void {
    const firstStep = h.momentum > 0 && !this.slots.has(param);
    const buf =
      h.momentum > 0
        ? this.slot(param, ['momentum_buffer'], (p) => zerosLike(p)).momentum_buffer
        : null;
    param.backend.sgdStep(param.kernelView(), grad.kernelView(), buf?.kernelView() ?? null, {
      lr: h.lr,
      momentum: h.momentum,
      dampening: h.dampening,
      nesterov: h.nesterov,
      weightDecay: h.weightDecay,
      firstStep,
    });
  }
}
