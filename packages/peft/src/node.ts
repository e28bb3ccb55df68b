/**
 * @statetune/peft/node: adapter folders on disk (Node only), in Hugging Face PEFT's layout.
 *
 * @packageDocumentation
 */

import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MambaForCausalLM } from '@statetune/mamba';
import { type PeftConfig, parsePeftConfig } from './config.js';
import { PeftError } from './errors.js';
import type { PeftModel } from './peft-model.js';
import {
  type AdapterFiles,
  adapterToFiles,
  type LoadAdapterOptions,
  loadAdapterFromFiles,
  peftModelFromFiles,
} from './serialize.js';

/** The config file of an adapter folder. */
export const ADAPTER_CONFIG_NAME = 'adapter_config.json';
/** The weights file of an adapter folder. */
export const ADAPTER_WEIGHTS_NAME = 'adapter_model.safetensors';

/** Options of {@link saveAdapter}. */
export interface SaveAdapterOptions {
  /** Adapters to save (default: all). */
  readonly selectedAdapters?: readonly string[];
  /** Recorded as `base_model_name_or_path` (the checkpoint folder or hub id). */
  readonly baseModelNameOrPath?: string | null;
}

/**
 * Writes adapters as PEFT does: the adapter named `default` in `dir` itself, every other in
 * `dir/<name>`, each as `adapter_config.json` + `adapter_model.safetensors`. Both files are
 * written under temporary names first and renamed only when both are complete, so an
 * interrupted save never leaves a half-written adapter.
 */
export async function saveAdapter(
  peft: PeftModel,
  dir: string,
  options: SaveAdapterOptions = {},
): Promise<void> {
  const names = options.selectedAdapters ?? peft.adapterNames;
  if (names.length === 0) throw new PeftError('saveAdapter: there is no adapter to save');
  // Every name is checked and every file encoded before anything is written.
  const all = await Promise.all(
    names.map(async (name) => ({ name, files: await adapterToFiles(peft, name, options) })),
  );
  for (const { name, files } of all) {
    await writeAdapterFiles(name === 'default' ? dir : join(dir, name), files);
  }
}

let saveCounter = 0;

/** Writes an adapter's two files atomically into `dir` (created when missing). */
export async function writeAdapterFiles(dir: string, files: AdapterFiles): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tag = `.tmp-${process.pid}-${Date.now()}-${saveCounter++}`;
  const weights = join(dir, ADAPTER_WEIGHTS_NAME);
  const config = join(dir, ADAPTER_CONFIG_NAME);
  try {
    await writeFile(weights + tag, files.weights);
    await writeFile(config + tag, `${JSON.stringify(files.config, null, 2)}\n`);
    await rename(weights + tag, weights);
    await rename(config + tag, config);
  } finally {
    await rm(weights + tag, { force: true });
    await rm(config + tag, { force: true });
  }
}

/** Reads an adapter folder's two files, with errors that name what is missing where. */
export async function readAdapterFiles(dir: string): Promise<AdapterFiles> {
  const info = await stat(dir).catch(() => null);
  if (!info) throw new PeftError(`adapter folder ${dir} does not exist`);
  if (!info.isDirectory()) {
    throw new PeftError(
      `${dir} is not a folder (an adapter folder holds ${ADAPTER_CONFIG_NAME} and ${ADAPTER_WEIGHTS_NAME})`,
    );
  }
  const configPath = join(dir, ADAPTER_CONFIG_NAME);
  const text = await readFile(configPath, 'utf8').catch(() => null);
  if (text === null) {
    throw new PeftError(
      `${dir}: no ${ADAPTER_CONFIG_NAME} (an adapter folder holds ${ADAPTER_CONFIG_NAME} and ${ADAPTER_WEIGHTS_NAME})`,
    );
  }
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(text);
  } catch (e) {
    throw new PeftError(`${configPath} is not valid JSON: ${(e as Error).message}`);
  }
  const weightsPath = join(dir, ADAPTER_WEIGHTS_NAME);
  const weights = await readFile(weightsPath).catch(() => null);
  if (weights === null) {
    const bin = await stat(join(dir, 'adapter_model.bin')).catch(() => null);
    throw new PeftError(
      bin
        ? `${dir}: has adapter_model.bin but no ${ADAPTER_WEIGHTS_NAME}; only safetensors adapters can be read (convert it with PEFT's safe_serialization=True)`
        : `${dir}: no ${ADAPTER_WEIGHTS_NAME} beside ${ADAPTER_CONFIG_NAME}`,
    );
  }
  return {
    config,
    weights: new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength),
  };
}

/** Reads and validates an adapter folder's config without loading its weights. */
export async function readAdapterConfig(dir: string): Promise<PeftConfig> {
  const path = join(dir, ADAPTER_CONFIG_NAME);
  const text = await readFile(path, 'utf8').catch(() => null);
  if (text === null) throw new PeftError(`${dir}: no ${ADAPTER_CONFIG_NAME}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new PeftError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  return parsePeftConfig(raw as Record<string, unknown>, path);
}

/**
 * Adds the adapter saved in `dir` to a PeftModel (PEFT's `load_adapter`), frozen unless
 * `isTrainable`.
 */
export async function loadAdapter(
  peft: PeftModel,
  dir: string,
  options: LoadAdapterOptions = {},
): Promise<void> {
  loadAdapterFromFiles(peft, await readAdapterFiles(dir), { source: dir, ...options });
}

/** A PeftModel around `model` with the adapter saved in `dir` (PEFT's `from_pretrained`). */
export async function loadPeftModel(
  model: MambaForCausalLM,
  dir: string,
  options: LoadAdapterOptions = {},
): Promise<PeftModel> {
  return peftModelFromFiles(model, await readAdapterFiles(dir), { source: dir, ...options });
}

/** An adapter found in a folder by {@link findAdapters}. */
export interface FoundAdapter {
  /** `default` for the folder itself, else the subfolder's name. */
  readonly name: string;
  readonly dir: string;
  /** Its config, or the problem reading it. */
  readonly config: PeftConfig | null;
  readonly problem: string | null;
}

/** The adapters saved in a folder (itself and its direct subfolders), as saveAdapter lays them out. */
export async function findAdapters(dir: string): Promise<FoundAdapter[]> {
  const out: FoundAdapter[] = [];
  const probe = async (name: string, d: string) => {
    const has = await stat(join(d, ADAPTER_CONFIG_NAME)).catch(() => null);
    if (!has) return;
    try {
      out.push({ name, dir: d, config: await readAdapterConfig(d), problem: null });
    } catch (e) {
      out.push({ name, dir: d, config: null, problem: (e as Error).message });
    }
  };
  await probe('default', dir);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) await probe(e.name, join(dir, e.name));
  return out;
}
