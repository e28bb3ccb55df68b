import type { PeftMethod } from '../../adapter.js';
import { countBaseParameters } from '../../count.js';
import { FullFinetuningAdapter } from './adapter.js';
import { type FullFinetuningConfig, fullSchema } from './config.js';

export { FullFinetuningAdapter } from './adapter.js';
export type { FullFinetuningConfig } from './config.js';

/** Full fine-tuning: every weight of the model trains (a tied LM head once). */
export const fullFinetuningMethod: PeftMethod<FullFinetuningConfig> = {
  peftType: 'FULL_FINETUNING',
  description: 'every weight of the model trains; saved as the full state dict',
  schema: fullSchema,
  create: (model, name, config) => new FullFinetuningAdapter(model, name, config),
  countParameters: (m) => countBaseParameters(m),
};
