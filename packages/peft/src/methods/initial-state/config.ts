import type { PeftConfigBase } from '../../adapter.js';
import { layerList, oneOf, type Schema } from '../../schema.js';

/**
 * Initial State Tuning: a trained h_0 (dInner, dState) per layer; the scan (and generation)
 * starts from it instead of zeros.
 */
export interface InitialStateTuningConfig extends PeftConfigBase {
  readonly peft_type: 'INITIAL_STATE_TUNING';
  /** `zero` (the paper's configs) or `random` (kaiming-uniform, a = sqrt(5)). */
  readonly init: 'zero' | 'random';
  /** Layers that get an initial state; null for all. */
  readonly layers_to_transform: readonly number[] | null;
}

export const initialStateSchema: Schema<Omit<InitialStateTuningConfig, keyof PeftConfigBase>> = {
  init: { default: 'zero', parse: oneOf('zero', 'random'), doc: '"zero" or "random"' },
  layers_to_transform: { default: null, parse: layerList, doc: 'layer indices, null for all' },
};
