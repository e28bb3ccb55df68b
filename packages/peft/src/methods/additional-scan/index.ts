import type { PeftMethod } from '../../adapter.js';
import { layerCount } from '../../init.js';
import { AdditionalScanAdapter } from './adapter.js';
import { type AdditionalScanConfig, additionalScanSchema } from './config.js';

export { AdditionalScanAdapter, PAPER_EXTRA_A_LOG } from './adapter.js';
export type { AdditionalScanConfig } from './config.js';

/** Additional-scan: extra trained state columns appended to every covered layer's scan. */
export const additionalScanMethod: PeftMethod<AdditionalScanConfig> = {
  peftType: 'ADDITIONAL_SCAN',
  description: 'extra trained state columns (their own A, B and C) appended to the scan',
  schema: additionalScanSchema,
  create: (model, name, config, options) => new AdditionalScanAdapter(model, name, config, options),
  countParameters: (m, c) => layerCount(m.nLayer, c.layers_to_transform) * 3 * c.d_state * m.dInner,
};
