import type { PeftMethod } from '../../adapter.js';
import { layerCount } from '../../init.js';
import { InitialStateAdapter } from './adapter.js';
import { type InitialStateTuningConfig, initialStateSchema } from './config.js';

export { InitialStateAdapter } from './adapter.js';
export type { InitialStateTuningConfig } from './config.js';

/** Initial State Tuning: a trained h0 per layer that every scan and generation starts from. */
export const initialStateTuningMethod: PeftMethod<InitialStateTuningConfig> = {
  peftType: 'INITIAL_STATE_TUNING',
  description: 'a trained initial state h0 per layer that the scan starts from',
  schema: initialStateSchema,
  create: (model, name, config, options) => new InitialStateAdapter(model, name, config, options),
  countParameters: (m, c) => layerCount(m.nLayer, c.layers_to_transform) * m.dInner * m.dState,
};
