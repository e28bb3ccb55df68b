import type { PeftConfigBase, PeftMethod, PeftType } from './adapter.js';
import { PeftError } from './errors.js';
import type { AdditionalScanConfig } from './methods/additional-scan/config.js';
import type { BitFitConfig } from './methods/bitfit/config.js';
import type { FullFinetuningConfig } from './methods/full/config.js';
import type { InitialStateTuningConfig } from './methods/initial-state/config.js';
import type { LoraConfig } from './methods/lora/config.js';
import type { PrefixTuningConfig } from './methods/prefix-tuning/config.js';
import type { PromptTuningConfig } from './methods/prompt-tuning/config.js';
import { METHODS } from './methods/registry.js';
import type { StateOffsetTuningConfig } from './methods/state-offset/config.js';
import { nearest, parseWithSchema } from './schema.js';

/** A validated config of any method (every key present, defaults filled). */
export type PeftConfig =
  | StateOffsetTuningConfig
  | InitialStateTuningConfig
  | PromptTuningConfig
  | PrefixTuningConfig
  | LoraConfig
  | BitFitConfig
  | AdditionalScanConfig
  | FullFinetuningConfig;

/** A config as a user writes it: `peft_type` plus any of the method's keys. */
export type PeftConfigInput = {
  [T in PeftConfig as T['peft_type']]: Partial<T> & { readonly peft_type: T['peft_type'] };
}[PeftType];

/** Every `peft_type` this package implements. */
export const PEFT_TYPES: readonly PeftType[] = Object.keys(METHODS) as PeftType[];

/** The method behind a `peft_type`. */
export function peftMethod(type: PeftType): PeftMethod<PeftConfigBase> {
  return METHODS[type] as unknown as PeftMethod<PeftConfigBase>;
}

/**
 * Validates a config from code or from an `adapter_config.json` (`source` names it in
 * messages): `peft_type` must be known; unknown keys are errors with the nearest valid key;
 * defaults are filled.
 *
 * @example
 * ```ts
 * parsePeftConfig({ peft_type: 'STATE_OFFSET_TUNING', variant: 'h' });
 * ```
 */
export function parsePeftConfig(
  raw: PeftConfigInput | Readonly<Record<string, unknown>>,
  source = 'PEFT config',
): PeftConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new PeftError(`${source}: a PEFT config must be an object, got ${JSON.stringify(raw)}`);
  }
  const type = (raw as Record<string, unknown>).peft_type;
  if (typeof type !== 'string' || !Object.hasOwn(METHODS, type)) {
    const near = typeof type === 'string' ? nearest(type, PEFT_TYPES) : null;
    throw new PeftError(
      `${source}: "peft_type" must be one of ${PEFT_TYPES.join(', ')}, got ${JSON.stringify(type)}${near ? ` (did you mean "${near}"?)` : ''}`,
    );
  }
  const method = peftMethod(type as PeftType);
  const common = raw as Partial<PeftConfigBase>;
  const commonProblems = [
    checkCommon(common.task_type, 'task_type', 'a string or null'),
    checkCommon(common.base_model_name_or_path, 'base_model_name_or_path', 'a string or null'),
    common.inference_mode === undefined || typeof common.inference_mode === 'boolean'
      ? null
      : `"inference_mode" must be true or false, got ${JSON.stringify(common.inference_mode)}`,
  ].filter((p): p is string => p !== null);
  if (commonProblems.length > 0) throw new PeftError(`${source}: ${commonProblems.join('; ')}`);
  const own = parseWithSchema(
    raw as Record<string, unknown>,
    method.schema,
    source,
    method.tolerated,
  );
  const config = {
    peft_type: type,
    task_type: common.task_type ?? 'CAUSAL_LM',
    base_model_name_or_path: common.base_model_name_or_path ?? null,
    inference_mode: common.inference_mode ?? false,
    ...own,
  } as PeftConfig;
  const problems = method.check?.(config) ?? [];
  if (problems.length > 0) throw new PeftError(`${source}: ${problems.join('; ')}`);
  return config;
}

function checkCommon(value: unknown, key: string, what: string): string | null {
  return value === undefined || value === null || typeof value === 'string'
    ? null
    : `"${key}" must be ${what}, got ${JSON.stringify(value)}`;
}

/** The JSON object written as `adapter_config.json` (PEFT's keys; `inference_mode` true). */
export function adapterConfigJson(
  config: PeftConfig,
  baseModelNameOrPath: string | null,
): Record<string, unknown> {
  return {
    ...config,
    base_model_name_or_path: baseModelNameOrPath ?? config.base_model_name_or_path ?? null,
    inference_mode: true,
    revision: null,
  };
}
