/**
 * @statetune/peft: parameter-efficient fine-tuning for Mamba, with Hugging Face PEFT's names
 * and adapter folders: State-offset Tuning (h and y), Initial State Tuning, prompt tuning,
 * prefix tuning, LoRA, BitFit, Additional-scan and full fine-tuning.
 *
 * @packageDocumentation
 */

export {
  Adapter,
  type CreateOptions,
  checkTensors,
  type ForwardExtras,
  type MixerEntries,
  type PeftConfigBase,
  type PeftMethod,
  type PeftType,
} from './adapter.js';
export {
  adapterConfigJson,
  PEFT_TYPES,
  type PeftConfig,
  type PeftConfigInput,
  parsePeftConfig,
  peftMethod,
} from './config.js';
export { countAdapterParameters, countBaseParameters } from './count.js';
export { PeftError } from './errors.js';
export * from './methods/additional-scan/index.js';
export * from './methods/bitfit/index.js';
export * from './methods/full/index.js';
export * from './methods/initial-state/index.js';
export * from './methods/lora/index.js';
export * from './methods/prefix-tuning/index.js';
export * from './methods/prompt-tuning/index.js';
export * from './methods/state-offset/index.js';
export {
  type AddAdapterOptions,
  formatTrainableParameters,
  getPeftModel,
  type ParameterCounts,
  type PeftForwardInput,
  type PeftGenerateOptions,
  PeftModel,
} from './peft-model.js';
export { type FieldSpec, nearest, type Schema } from './schema.js';
export {
  type AdapterFiles,
  type AdapterToFilesOptions,
  adapterToFiles,
  type LoadAdapterOptions,
  loadAdapterFromFiles,
  peftModelFromFiles,
} from './serialize.js';
export { type ForwardModule, LayerWrapper, WrapperAdapter } from './wrapper.js';
