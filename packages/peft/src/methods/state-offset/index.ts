import type { PeftMethod } from '../../adapter.js';
import { layerCount } from '../../init.js';
import { StateOffsetAdapter } from './adapter.js';
import { type StateOffsetTuningConfig, stateOffsetSchema } from './config.js';

export { StateOffsetAdapter } from './adapter.js';
export type { StateOffsetTuningConfig } from './config.js';

/** State-offset Tuning, variants `h` and `y`. */
export const stateOffsetTuningMethod: PeftMethod<StateOffsetTuningConfig> = {
  peftType: 'STATE_OFFSET_TUNING',
  description:
    "a trained offset added to the state (h) or the scan output (y) at every step's readout",
  schema: stateOffsetSchema,
  check: (c) =>
    c.variant === 'y' && c.r !== null ? ['"r" (low rank) applies to variant "h" only'] : [],
  create: (model, name, config, options) => new StateOffsetAdapter(model, name, config, options),
  countParameters: (m, c) => {
    const layers = layerCount(m.nLayer, c.layers_to_transform);
    if (c.variant === 'y') return layers * m.dInner;
    return layers * (c.r === null ? m.dInner * m.dState : c.r * (m.dInner + m.dState));
  },
};
