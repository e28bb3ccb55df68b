import type { PeftConfigBase } from '../../adapter.js';
import { layerList, oneOf, positiveIntOrNull, type Schema } from '../../schema.js';

/**
 * State-offset Tuning (Kang et al., 2025). Variant `h`: a trained offset h' (dInner,
 * dState) per layer added to the state in the readout at every position,
 * `y_t = C_t (h_t + h') + D x_t`, never carried by the recurrence. Variant `y`: an offset
 * y' (dInner) added to the scan output before the silu(z) gate.
 */
export interface StateOffsetTuningConfig extends PeftConfigBase {
  readonly peft_type: 'STATE_OFFSET_TUNING';
  /** `h` (the paper's method) or `y`. */
  readonly variant: 'h' | 'y';
  /** Low rank r for variant `h`: h' = B A with A (r, dState), B (dInner, r); null = full. */
  readonly r: number | null;
  /** `zero` (default: the model starts as the base model) or `random` (0.1 * N(0, 1)). */
  readonly init: 'zero' | 'random';
  /** Layers that get an offset; null for all. */
  readonly layers_to_transform: readonly number[] | null;
}

export const stateOffsetSchema: Schema<Omit<StateOffsetTuningConfig, keyof PeftConfigBase>> = {
  variant: {
    default: 'h',
    parse: oneOf('h', 'y'),
    doc: '"h" (state offset) or "y" (output offset)',
  },
  r: {
    default: null,
    parse: positiveIntOrNull,
    doc: "rank of a low-rank h' = B A (variant h only); null for a full offset",
  },
  init: { default: 'zero', parse: oneOf('zero', 'random'), doc: '"zero" or "random" (0.1 N(0,1))' },
  layers_to_transform: { default: null, parse: layerList, doc: 'layer indices, null for all' },
};
