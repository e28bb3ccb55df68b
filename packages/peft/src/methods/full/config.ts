import type { PeftConfigBase } from '../../adapter.js';
import type { Schema } from '../../schema.js';

/** Full fine-tuning: every base weight trains (no adapter; saved as a full state dict). */
export interface FullFinetuningConfig extends PeftConfigBase {
  readonly peft_type: 'FULL_FINETUNING';
}

export const fullSchema: Schema<Omit<FullFinetuningConfig, keyof PeftConfigBase>> = {};
