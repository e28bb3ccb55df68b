import { getBackend } from '../engine.js';
import type { Tensor } from '../tensor.js';
import { readSafetensorsFile, writeSafetensorsFile } from './safetensors-file.js';
import {
  type LoadTensorsOptions,
  type SaveTensorsOptions,
  safetensorsInputs,
  uploadParsed,
} from './tensors.js';

/** Loads every tensor of a safetensors file (Node). Errors name the file and the problem. */
export async function loadSafetensors(
  path: string,
  options: LoadTensorsOptions = {},
): Promise<{ tensors: Map<string, Tensor>; metadata: Record<string, string> }> {
  return uploadParsed(await readSafetensorsFile(path), options.backend ?? getBackend());
}

/** Writes tensors to a safetensors file atomically (temporary name, then rename) (Node). */
export async function saveSafetensors(
  path: string,
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  options: SaveTensorsOptions = {},
): Promise<void> {
  await writeSafetensorsFile(
    path,
    await safetensorsInputs(tensors, options.storeAs, path),
    options.metadata,
  );
}
