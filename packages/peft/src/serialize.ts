import type { MambaForCausalLM } from '@statetune/mamba';
import { type Tensor, tensorsFromSafetensors, tensorsToSafetensors } from '@statetune/tensor';
import { adapterConfigJson, type PeftConfig, parsePeftConfig } from './config.js';
import { PeftError } from './errors.js';
import { PeftModel } from './peft-model.js';

/** The two files of an adapter folder, in memory (browsers; Node writes them with saveAdapter). */
export interface AdapterFiles {
  /** `adapter_config.json` */
  readonly config: Record<string, unknown>;
  /** `adapter_model.safetensors` */
  readonly weights: Uint8Array;
}

/** Options of {@link adapterToFiles}. */
export interface AdapterToFilesOptions {
  /** Recorded as `base_model_name_or_path` (default: the value in the adapter's config). */
  readonly baseModelNameOrPath?: string | null;
}

/**
 * An adapter as PEFT's two files: its config with `inference_mode: true`, and its tensors
 * under PEFT keys (`base_model.model.backbone.layers.0.mixer.state_offset`,
 * `base_model.model.backbone.layers.0.mixer.x_proj_B.lora_A.weight`, `prompt_embeddings`).
 */
export async function adapterToFiles(
  peft: PeftModel,
  adapterName: string = peft.activeAdapter,
  options: AdapterToFilesOptions = {},
): Promise<AdapterFiles> {
  const adapter = peft.adapter(adapterName);
  const tensors = new Map<string, Tensor>();
  for (const [k, t] of adapter.adapterStateDict()) tensors.set(adapter.keyPrefix + k, t);
  const config = adapterConfigJson(
    adapter.config as PeftConfig,
    options.baseModelNameOrPath ?? null,
  );
  const weights = await tensorsToSafetensors(tensors, {
    metadata: { format: 'pt', peft_type: adapter.config.peft_type },
  });
  return { config, weights };
}

/** Options of {@link loadAdapterFromFiles}. */
export interface LoadAdapterOptions {
  /** Name of the new adapter (default `default`). */
  readonly adapterName?: string;
  /** Keep its parameters trainable (default false: an adapter loaded for inference). */
  readonly isTrainable?: boolean;
  /** Names the folder or URL in messages. */
  readonly source?: string;
}

/**
 * Adds an adapter from its two files to a PeftModel: the config is validated, the tensors'
 * names and shapes are checked against what the config creates on this model (an adapter
 * made for another model is an error naming the tensor and both shapes), then loaded.
 * Nothing stays added when a check fails.
 */
export function loadAdapterFromFiles(
  peft: PeftModel,
  files: AdapterFiles,
  options: LoadAdapterOptions = {},
): void {
  const source = options.source ?? 'adapter';
  const name = options.adapterName ?? 'default';
  const config = loadedConfig(files, source, options);
  const tensors = readTensors(peft.baseModel, files, source);
  peft.addAdapter(config, { adapterName: name, isTrainable: options.isTrainable ?? false });
  fill(peft, name, tensors, source);
}

/**
 * A new PeftModel around `model` with the adapter of these files (PEFT's
 * `PeftModel.from_pretrained`).
 */
export function peftModelFromFiles(
  model: MambaForCausalLM,
  files: AdapterFiles,
  options: LoadAdapterOptions = {},
): PeftModel {
  const source = options.source ?? 'adapter';
  const name = options.adapterName ?? 'default';
  const config = loadedConfig(files, source, options);
  const tensors = readTensors(model, files, source);
  const before = model.parameters().map((p) => p.requiresGrad);
  const peft = new PeftModel(model, config, {
    adapterName: name,
    isTrainable: options.isTrainable ?? false,
  });
  try {
    fill(peft, name, tensors, source);
  } catch (e) {
    // The model goes back to how it was given: no adapter, its own trainable flags.
    model.parameters().forEach((p, i) => {
      p.requiresGrad = before[i];
    });
    throw e;
  }
  return peft;
}

/** The file's config, validated; `inference_mode` says whether it was loaded to train (as PEFT). */
function loadedConfig(
  files: AdapterFiles,
  source: string,
  options: LoadAdapterOptions,
): PeftConfig {
  const config = parsePeftConfig(files.config, `${source}/adapter_config.json`);
  return { ...config, inference_mode: !(options.isTrainable ?? false) };
}

function readTensors(model: MambaForCausalLM, files: AdapterFiles, source: string) {
  const where = `${source}/adapter_model.safetensors`;
  if (!(files.weights instanceof Uint8Array)) {
    throw new PeftError(`${where}: expected the file's bytes (a Uint8Array)`);
  }
  try {
    return tensorsFromSafetensors(files.weights, {
      source: where,
      backend: model.backbone.embeddings.weight.backend,
    }).tensors;
  } catch (e) {
    if (e instanceof PeftError) throw e;
    const message = (e as Error).message;
    throw new PeftError(
      message.includes(where) ? message : `${where} is not a readable safetensors file: ${message}`,
    );
  }
}

/** Loads the file's tensors into a just-added adapter; removes it again when they do not fit. */
function fill(peft: PeftModel, name: string, tensors: Map<string, Tensor>, source: string): void {
  const adapter = peft.adapter(name);
  const where = `${source}/adapter_model.safetensors`;
  try {
    const own = new Map<string, Tensor>();
    for (const [k, t] of tensors) {
      if (!k.startsWith(adapter.keyPrefix)) {
        throw new PeftError(
          `${where}: tensor "${k}" does not start with "${adapter.keyPrefix}" as ${adapter.config.peft_type} keys do`,
        );
      }
      own.set(k.slice(adapter.keyPrefix.length), t);
    }
    adapter.loadAdapterStateDict(own, where);
  } catch (e) {
    if (peft.adapterNames.length === 1) peft.unload();
    else peft.deleteAdapter(name);
    throw e;
  }
}
