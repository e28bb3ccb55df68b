/**
 * @statetune/mamba/node: opening checkpoints from disk and loading a model in one call (Node
 * only).
 *
 * @packageDocumentation
 */

import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Tensor } from '@statetune/tensor';
import { saveSafetensors } from '@statetune/tensor/node';
import { openCheckpoint } from './checkpoint/node.js';
import { toHfConfigJson } from './config.js';
import { type FromCheckpointOptions, MambaForCausalLM } from './model/causal-lm.js';

export * from './checkpoint/node.js';

/**
 * Loads a model directory (`config.json` plus safetensors or `pytorch_model.bin`, Hugging
 * Face or state-spaces layout) onto the current backend: opens the checkpoint, validates it,
 * copies it tensor by tensor into a new {@link MambaForCausalLM} and closes it.
 *
 * @example
 * ```ts
 * import { generate } from '@statetune/mamba';
 * import { loadMamba } from '@statetune/mamba/node';
 *
 * const model = await loadMamba('models/mamba-130m');
 * const { sequences } = await generate(model, [[510, 3158, 8516]], { maxNewTokens: 20 });
 * ```
 */
export async function loadMamba(
  dir: string,
  options: FromCheckpointOptions = {},
): Promise<MambaForCausalLM> {
  const ckpt = await openCheckpoint(dir);
  try {
    return await MambaForCausalLM.fromCheckpoint(ckpt, options);
  } finally {
    await ckpt.close();
  }
}

/** Options of {@link saveMamba}. */
export interface SaveMambaOptions {
  /** Extra string metadata for the safetensors header (`format: pt` is always written). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * Writes a model as a Hugging Face checkpoint directory: `config.json` (the
 * `MambaForCausalLM` layout) and `model.safetensors` with Hugging Face tensor names, float32.
 * A tied `lm_head.weight` is not written (it is the embedding), as transformers does. Both
 * files are written under temporary names and renamed, so a reader never sees half a
 * checkpoint file; `loadMamba(dir)` reads it back.
 */
export async function saveMamba(
  model: MambaForCausalLM,
  dir: string,
  options: SaveMambaOptions = {},
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tensors = new Map<string, Tensor>();
  for (const [name, t] of model.stateDict()) {
    if (model.config.tieEmbeddings && name === 'lm_head.weight') continue;
    tensors.set(name, t);
  }
  await saveSafetensors(join(dir, 'model.safetensors'), tensors, {
    metadata: { format: 'pt', ...options.metadata },
  });
  const configPath = join(dir, 'config.json');
  const tmp = `${configPath}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(toHfConfigJson(model.config), null, 2)}\n`);
  await rename(tmp, configPath);
}
