import type { PeftMethod } from '../../adapter.js';
import { BitFitAdapter, bitFitTargetProblems, countBitFitParameters } from './adapter.js';
import { type BitFitConfig, bitFitSchema } from './config.js';

export {
  BitFitAdapter,
  type BitFitTarget,
  bitFitTargetProblems,
  countBitFitParameters,
} from './adapter.js';
export { BITFIT_TARGETS, type BitFitConfig } from './config.js';
export { BitFitLayer } from './layer.js';

/** BitFit (Ben Zaken et al., 2022): trains copies of the existing biases of mixer modules. */
export const bitFitMethod: PeftMethod<BitFitConfig> = {
  peftType: 'BITFIT',
  description: 'trains copies of the existing biases of conv1d and dt_proj (or other modules)',
  schema: bitFitSchema,
  check: (c) => bitFitTargetProblems(c.target_modules),
  create: (model, name, config) => new BitFitAdapter(model, name, config),
  countParameters: countBitFitParameters,
};
