import type { PeftConfigBase } from '../../adapter.js';
import { layerList, type Schema, stringList } from '../../schema.js';

/** Mixer modules whose bias BitFit can train. */
export const BITFIT_TARGETS = ['conv1d', 'dt_proj', 'in_proj', 'out_proj'] as const;

/** BitFit: trains copies of existing biases (the base weights stay as they are). */
export interface BitFitConfig extends PeftConfigBase {
  readonly peft_type: 'BITFIT';
  /** Modules whose bias is trained (default conv1d and dt_proj, as the companion code). */
  readonly target_modules: readonly string[];
  /** Layers to adapt; null for all. */
  readonly layers_to_transform: readonly number[] | null;
}

export const bitFitSchema: Schema<Omit<BitFitConfig, keyof PeftConfigBase>> = {
  target_modules: {
    default: ['conv1d', 'dt_proj'],
    parse: stringList,
    doc: `modules whose bias is trained: ${BITFIT_TARGETS.join(', ')}`,
  },
  layers_to_transform: { default: null, parse: layerList, doc: 'layer indices, null for all' },
};
