/**
 * Canonical tensor names (those of Hugging Face `MambaForCausalLM`) and the shapes a
 * configuration implies.
 *
 * @packageDocumentation
 */

import type { MambaConfig } from '../config.js';

/** The embedding's name in the original state-spaces layout. */
export const STATE_SPACES_EMBEDDING = 'backbone.embedding.weight';
/** The embedding's canonical (Hugging Face) name. */
export const EMBEDDING = 'backbone.embeddings.weight';
/** The LM head's name (both layouts). */
export const LM_HEAD = 'lm_head.weight';

/**
 * The canonical name of a tensor named `name` in a checkpoint: the state-spaces embedding
 * name maps to the Hugging Face one, every other name is the same in both layouts.
 */
export function canonicalTensorName(name: string): string {
  return name === STATE_SPACES_EMBEDDING ? EMBEDDING : name;
}

/**
 * Every tensor a checkpoint of this configuration must hold, by canonical name, with its
 * shape, in model order. `lm_head.weight` is listed only when the embeddings are untied.
 */
export function expectedTensors(config: MambaConfig): Map<string, readonly number[]> {
  const { dModel, dInner, dState, dConv, dtRank, vocabSize } = config;
  const out = new Map<string, readonly number[]>();
  out.set(EMBEDDING, [vocabSize, dModel]);
  for (let i = 0; i < config.nLayer; i++) {
    const p = `backbone.layers.${i}.`;
    out.set(`${p}norm.weight`, [dModel]);
    out.set(`${p}mixer.in_proj.weight`, [2 * dInner, dModel]);
    if (config.useBias) out.set(`${p}mixer.in_proj.bias`, [2 * dInner]);
    out.set(`${p}mixer.conv1d.weight`, [dInner, 1, dConv]);
    if (config.convBias) out.set(`${p}mixer.conv1d.bias`, [dInner]);
    out.set(`${p}mixer.x_proj.weight`, [dtRank + 2 * dState, dInner]);
    out.set(`${p}mixer.dt_proj.weight`, [dInner, dtRank]);
    out.set(`${p}mixer.dt_proj.bias`, [dInner]);
    out.set(`${p}mixer.A_log`, [dInner, dState]);
    out.set(`${p}mixer.D`, [dInner]);
    out.set(`${p}mixer.out_proj.weight`, [dModel, dInner]);
    if (config.useBias) out.set(`${p}mixer.out_proj.bias`, [dModel]);
  }
  out.set('backbone.norm_f.weight', [dModel]);
  if (!config.tieEmbeddings) out.set(LM_HEAD, [vocabSize, dModel]);
  return out;
}
