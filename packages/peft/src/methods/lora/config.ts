import type { PeftConfigBase } from '../../adapter.js';
import {
  bool,
  dropoutRate,
  finiteNumber,
  layerList,
  oneOf,
  positiveInt,
  type Schema,
  stringList,
} from '../../schema.js';

/**
 * Names LoRA can target in a mixer: whole projections, and the pieces of the fused ones as
 * the paper's code splits them (`x_proj_dt`, `x_proj_B`, `x_proj_C`; `in_proj_x`,
 * `in_proj_z`).
 */
export const LORA_TARGETS = [
  'in_proj',
  'in_proj_x',
  'in_proj_z',
  'x_proj',
  'x_proj_dt',
  'x_proj_B',
  'x_proj_C',
  'dt_proj',
  'out_proj',
] as const;

/** A LoRA target name. */
export type LoraTarget = (typeof LORA_TARGETS)[number];

/** LoRA: W x + (alpha / r) B A dropout(x) on the targeted projections. */
export interface LoraConfig extends PeftConfigBase {
  readonly peft_type: 'LORA';
  /** Rank. */
  readonly r: number;
  /** Scale numerator: the delta is scaled by lora_alpha / r. */
  readonly lora_alpha: number;
  /** Dropout on the LoRA input while training. */
  readonly lora_dropout: number;
  /** Target names (see {@link LORA_TARGETS}). */
  readonly target_modules: readonly string[];
  /** Only `none` (no bias is trained). */
  readonly bias: 'none';
  /** true: A kaiming-uniform (a = sqrt(5)), B zero; false: both random (tests). */
  readonly init_lora_weights: boolean;
  /** Layers to adapt; null for all. */
  readonly layers_to_transform: readonly number[] | null;
}

export const loraSchema: Schema<Omit<LoraConfig, keyof PeftConfigBase>> = {
  r: { default: 8, parse: positiveInt, doc: 'rank' },
  lora_alpha: { default: 8, parse: finiteNumber, doc: 'the delta is scaled by lora_alpha / r' },
  lora_dropout: { default: 0, parse: dropoutRate, doc: 'dropout on the LoRA input' },
  target_modules: {
    default: ['x_proj_dt', 'x_proj_B', 'x_proj_C', 'dt_proj'],
    parse: stringList,
    doc: `projections to adapt: ${LORA_TARGETS.join(', ')}`,
  },
  bias: { default: 'none', parse: oneOf('none'), doc: '"none"' },
  init_lora_weights: { default: true, parse: bool, doc: 'B = 0 so the model starts unchanged' },
  layers_to_transform: { default: null, parse: layerList, doc: 'layer indices, null for all' },
};

/**
 * Keys of a Hugging Face PEFT LoRA adapter_config.json for features this package does not
 * implement, at the values that switch them off, so PEFT's own LoRA files load.
 */
export const PEFT_LORA_TOLERATED: Readonly<Record<string, unknown>> = {
  fan_in_fan_out: false,
  use_rslora: false,
  use_dora: false,
  modules_to_save: null,
  layers_pattern: null,
  rank_pattern: {},
  alpha_pattern: {},
  megatron_config: null,
  megatron_core: 'megatron.core',
  loftq_config: {},
  layer_replication: null,
  lora_bias: false,
  exclude_modules: null,
  eva_config: null,
  corda_config: null,
  trainable_token_indices: null,
  use_qalora: false,
  qalora_group_size: 16,
  target_parameters: null,
};
