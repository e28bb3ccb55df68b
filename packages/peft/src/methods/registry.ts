import type { PeftConfigBase, PeftMethod, PeftType } from '../adapter.js';
import { additionalScanMethod } from './additional-scan/index.js';
import { bitFitMethod } from './bitfit/index.js';
import { fullFinetuningMethod } from './full/index.js';
import { initialStateTuningMethod } from './initial-state/index.js';
import { loraMethod } from './lora/index.js';
import { prefixTuningMethod } from './prefix-tuning/index.js';
import { promptTuningMethod } from './prompt-tuning/index.js';
import { stateOffsetTuningMethod } from './state-offset/index.js';

/** Every method by its `peft_type`. Adding a method means adding its folder and a line here. */
export const METHODS: Readonly<Record<PeftType, PeftMethod<PeftConfigBase>>> = {
  STATE_OFFSET_TUNING: stateOffsetTuningMethod,
  INITIAL_STATE_TUNING: initialStateTuningMethod,
  PROMPT_TUNING: promptTuningMethod,
  PREFIX_TUNING: prefixTuningMethod,
  LORA: loraMethod,
  BITFIT: bitFitMethod,
  ADDITIONAL_SCAN: additionalScanMethod,
  FULL_FINETUNING: fullFinetuningMethod,
} as unknown as Readonly<Record<PeftType, PeftMethod<PeftConfigBase>>>;
