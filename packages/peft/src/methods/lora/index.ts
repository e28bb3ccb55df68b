import type { PeftMethod } from '../../adapter.js';
import { countLoraParameters, LoraAdapter, loraTargetProblems } from './adapter.js';
import { type LoraConfig, loraSchema, PEFT_LORA_TOLERATED } from './config.js';

export {
  countLoraParameters,
  LoraAdapter,
  type LoraModule,
  type LoraTargetSpec,
  loraTargetProblems,
  loraTargetSpec,
} from './adapter.js';
export { LORA_TARGETS, type LoraConfig, type LoraTarget } from './config.js';
export { LoraLayer, type LoraPiece } from './layer.js';

/** LoRA (Hu et al., 2021) on the mixer projections and the pieces of the fused ones. */
export const loraMethod: PeftMethod<LoraConfig> = {
  peftType: 'LORA',
  description: 'low-rank deltas (lora_alpha / r) B A on the mixer projections or their pieces',
  schema: loraSchema,
  tolerated: PEFT_LORA_TOLERATED,
  check: (c) => loraTargetProblems(c.target_modules),
  create: (model, name, config, options) => new LoraAdapter(model, name, config, options),
  countParameters: countLoraParameters,
};
