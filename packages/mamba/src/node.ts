/**
 * @statetune/mamba/node: opening checkpoints from disk and loading a model in one call (Node
 * only).
 *
 * @packageDocumentation
 */

import { openCheckpoint } from './checkpoint/node.js';
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
