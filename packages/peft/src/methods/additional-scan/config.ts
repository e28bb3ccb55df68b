import type { PeftConfigBase } from '../../adapter.js';
import { layerList, oneOf, positiveInt, type Schema } from '../../schema.js';

/**
 * Additional-scan: extra state columns per layer with their own A_log (dInner, k) and
 * input-dependent B and C rows (k, dInner each), appended to the state axis.
 */
export interface AdditionalScanConfig extends PeftConfigBase {
  readonly peft_type: 'ADDITIONAL_SCAN';
  /** Number of extra states k. */
  readonly d_state: number;
  /**
   * `paper` (default): every new A_log entry is 16.0, as the paper's code initialises it
   * (the new states are then nearly memoryless); `log`: log(N + 1), ..., log(N + k), the
   * S4D-real continuation the code's comments suggest.
   */
  readonly a_log_init: 'paper' | 'log';
  /** Layers to adapt; null for all. */
  readonly layers_to_transform: readonly number[] | null;
}

export const additionalScanSchema: Schema<Omit<AdditionalScanConfig, keyof PeftConfigBase>> = {
  d_state: { default: 8, parse: positiveInt, doc: 'number of extra states' },
  a_log_init: { default: 'paper', parse: oneOf('paper', 'log'), doc: '"paper" (16.0) or "log"' },
  layers_to_transform: { default: null, parse: layerList, doc: 'layer indices, null for all' },
};
