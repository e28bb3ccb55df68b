import type { PeftMethod } from '../../adapter.js';
import { PromptTuningAdapter } from './adapter.js';
import { type PromptTuningConfig, promptTuningSchema } from './config.js';

export { PromptTuningAdapter, textInitTokenIds } from './adapter.js';
export type { PromptTuningConfig } from './config.js';

/** Prompt tuning: trained virtual-token embeddings put before the input embeddings. */
export const promptTuningMethod: PeftMethod<PromptTuningConfig> = {
  peftType: 'PROMPT_TUNING',
  description: 'trained virtual-token embeddings put before the input embeddings',
  schema: promptTuningSchema,
  check: (c) =>
    c.prompt_tuning_init === 'TEXT' && !c.prompt_tuning_init_text
      ? ['prompt_tuning_init "TEXT" needs a non-empty "prompt_tuning_init_text"']
      : [],
  create: (model, name, config, options) => new PromptTuningAdapter(model, name, config, options),
  countParameters: (m, c) => c.num_virtual_tokens * m.dModel,
};
