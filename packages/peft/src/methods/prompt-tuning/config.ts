import type { PeftConfigBase } from '../../adapter.js';
import { oneOf, positiveInt, type Schema, stringOrNull } from '../../schema.js';

/** Prompt tuning: trained virtual-token embeddings put before the input embeddings. */
export interface PromptTuningConfig extends PeftConfigBase {
  readonly peft_type: 'PROMPT_TUNING';
  /** Number of virtual tokens. */
  readonly num_virtual_tokens: number;
  /** `RANDOM` (N(0, 1) like a fresh embedding row) or `TEXT` (embeddings of a text's tokens). */
  readonly prompt_tuning_init: 'RANDOM' | 'TEXT';
  /** The text for `TEXT`: its tokens are repeated or cut to num_virtual_tokens. */
  readonly prompt_tuning_init_text: string | null;
}

export const promptTuningSchema: Schema<Omit<PromptTuningConfig, keyof PeftConfigBase>> = {
  num_virtual_tokens: { default: 20, parse: positiveInt, doc: 'number of virtual tokens' },
  prompt_tuning_init: {
    default: 'RANDOM',
    parse: oneOf('RANDOM', 'TEXT'),
    doc: '"RANDOM" or "TEXT" (from prompt_tuning_init_text)',
  },
  prompt_tuning_init_text: { default: null, parse: stringOrNull, doc: 'text for TEXT init' },
};
