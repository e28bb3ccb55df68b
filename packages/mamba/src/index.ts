/**
 * @statetune/mamba: Mamba language models from Hugging Face and state-spaces checkpoints:
 * training forward, recurrent generation, beam search and sampling.
 *
 * @packageDocumentation
 */

export * from './checkpoint/index.js';
export * from './config.js';
export type { EarlyStopping } from './generation/beam-scorer.js';
export { type GenerateOptions, type GenerateOutput, generate } from './generation/generate.js';
export {
  argmax,
  logSoftmax,
  sampleIndex,
  softmax,
  type WarpOptions,
  warp,
} from './generation/logits.js';
export { DecodeSession, type SessionStart } from './generation/session.js';
export { MambaCache } from './model/cache.js';
export {
  type CausalLMInput,
  type CausalLMOutput,
  causalLoss,
  type FromCheckpointOptions,
  MambaBlock,
  MambaForCausalLM,
  MambaModel,
  type MambaModelOptions,
  type TokenIds,
} from './model/causal-lm.js';
export { MambaModelError } from './model/errors.js';
export {
  type ExtraStates,
  type LayerState,
  MambaMixer,
  type MixerForwardOptions,
  type Projection,
  type ProjectionRows,
  projectionRows,
} from './model/mixer.js';
