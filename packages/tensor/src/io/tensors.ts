import type { Backend } from '../backend.js';
import { dtypeOfArray } from '../dtype.js';
import { getBackend } from '../engine.js';
import { Tensor } from '../tensor.js';
import {
  readSafetensors,
  type SafetensorsDType,
  SafetensorsError,
  type SafetensorsInput,
  serializeSafetensors,
} from './safetensors.js';

/** Options for turning safetensors data into tensors. */
export interface LoadTensorsOptions {
  /** Backend to upload to (default: the current one). */
  readonly backend?: Backend;
}

/** Options for writing tensors as safetensors. */
export interface SaveTensorsOptions {
  /** Free-form string metadata (`__metadata__`). */
  readonly metadata?: Record<string, string>;
  /** Storage dtype per tensor name, or for all (F16/BF16 halve the file; I64 for PyTorch token ids). */
  readonly storeAs?: SafetensorsDType | Readonly<Record<string, SafetensorsDType>>;
}

/** Decodes a safetensors buffer into tensors (F16 and BF16 become float32; integers int32). */
export function tensorsFromSafetensors(
  bytes: Uint8Array,
  options: LoadTensorsOptions & { readonly source?: string } = {},
): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  return uploadParsed(readSafetensors(bytes, options.source), options.backend ?? getBackend());
}

/** @internal uploads decoded safetensors values as named tensors. */
export function uploadParsed(
  parsed: ReturnType<typeof readSafetensors>,
  backend: Backend,
): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const tensors = new Map<string, Tensor>();
  for (const [name, t] of parsed.tensors) {
    const tensor = Tensor.fromData(
      backend.upload(t.values),
      t.shape,
      dtypeOfArray(t.values),
      backend,
    );
    tensor.name = name;
    tensors.set(name, tensor);
  }
  return { tensors, metadata: parsed.metadata };
}

/** Reads tensors back from their backend and lays them out for safetensors writing. */
export async function safetensorsInputs(
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  storeAs?: SaveTensorsOptions['storeAs'],
  source = '<buffer>',
): Promise<Record<string, SafetensorsInput>> {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  if (storeAs !== undefined && typeof storeAs !== 'string') {
    // A misspelt name would otherwise silently store that tensor at full precision.
    const names = new Set(entries.map(([name]) => name));
    const stray = Object.keys(storeAs).filter((name) => !names.has(name));
    if (stray.length > 0) {
      throw new SafetensorsError(
        source,
        `storeAs names ${stray.map((n) => `"${n}"`).join(', ')}, which ${stray.length === 1 ? 'is' : 'are'} not among the tensors being saved`,
      );
    }
  }
  const out: Record<string, SafetensorsInput> = {};
  for (const [name, t] of entries) {
    const as = typeof storeAs === 'string' ? storeAs : storeAs?.[name];
    out[name] = {
      dtype: t.dtype,
      shape: t.shape,
      values: await t.data(),
      ...(as ? { storeAs: as } : {}),
    };
  }
  return out;
}

/** Encodes tensors as a safetensors buffer (names sorted as the reference writer does). */
export async function tensorsToSafetensors(
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  options: SaveTensorsOptions = {},
): Promise<Uint8Array> {
  return serializeSafetensors(await safetensorsInputs(tensors, options.storeAs), options.metadata);
}
