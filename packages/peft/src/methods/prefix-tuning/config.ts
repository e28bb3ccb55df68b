import type { PeftConfigBase } from '../../adapter.js';
import { bool, positiveInt, type Schema } from '../../schema.js';

/**
 * Prefix tuning for SSMs: trained virtual inputs prepended to every layer's scan input (the
 * conv input x of the mixer), their own outputs gated out. Since every layer is causal, the
 * prefix only leaves a conv history and a scan state behind, which is how it is run.
 */
export interface PrefixTuningConfig extends PeftConfigBase {
  readonly peft_type: 'PREFIX_TUNING';
  /** Number of virtual inputs per layer. */
  readonly num_virtual_tokens: number;
  /** Reparametrise through an MLP (embedding -> Linear -> tanh -> Linear) while training. */
  readonly prefix_projection: boolean;
  /** Hidden width of that MLP. */
  readonly encoder_hidden_size: number;
}

export const prefixTuningSchema: Schema<Omit<PrefixTuningConfig, keyof PeftConfigBase>> = {
  num_virtual_tokens: { default: 20, parse: positiveInt, doc: 'number of virtual inputs' },
  prefix_projection: { default: false, parse: bool, doc: 'train through an MLP' },
  encoder_hidden_size: { default: 512, parse: positiveInt, doc: 'hidden width of the MLP' },
};
