import type { PeftMethod } from '../../adapter.js';
import { PrefixTuningAdapter, usesProjection } from './adapter.js';
import { type PrefixTuningConfig, prefixTuningSchema } from './config.js';

export {
  PrefixEncoder,
  type PrefixState,
  PrefixTuningAdapter,
  prefixState,
} from './adapter.js';
export type { PrefixTuningConfig } from './config.js';

/**
 * Prefix tuning for SSMs: trained virtual inputs before every layer's conv/scan input,
 * run as the conv history and scan state they leave (see {@link PrefixTuningAdapter}).
 */
export const prefixTuningMethod: PeftMethod<PrefixTuningConfig> = {
  peftType: 'PREFIX_TUNING',
  description:
    "trained virtual inputs before every layer's scan input, run as the state they leave",
  schema: prefixTuningSchema,
  create: (model, name, config, options) => new PrefixTuningAdapter(model, name, config, options),
  countParameters: (m, c) => {
    const out = m.nLayer * m.dInner;
    const n = c.num_virtual_tokens;
    if (!usesProjection(c)) return n * out;
    const h = c.encoder_hidden_size;
    return n * m.dInner + (m.dInner * h + h) + (h * out + out);
  },
};
