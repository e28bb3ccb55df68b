import type { MambaConfig } from '@statetune/mamba';
import { type PeftConfig, type PeftConfigInput, parsePeftConfig, peftMethod } from './config.js';

/**
 * The number of parameters a method trains on a model of this config, from the config alone
 * (no weights are read): what `statetune inspect` prints for a checkpoint before anything is
 * loaded.
 */
export function countAdapterParameters(
  model: MambaConfig,
  config: PeftConfigInput | PeftConfig,
): number {
  const parsed = parsePeftConfig(config);
  return peftMethod(parsed.peft_type).countParameters(model, parsed);
}

/**
 * The number of weights of a Mamba model of this config (a tied LM head counted once, as
 * PyTorch's `parameters()` does).
 */
export function countBaseParameters(model: MambaConfig): number {
  const { dModel: d, nLayer, vocabSize: v, dInner: e, dState: n, dConv: k, dtRank: r } = model;
  const bias = (on: boolean, size: number) => (on ? size : 0);
  const layer =
    d + // norm
    d * 2 * e +
    bias(model.useBias, 2 * e) + // in_proj
    e * k +
    bias(model.convBias, e) + // conv1d
    e * (r + 2 * n) + // x_proj
    r * e +
    e + // dt_proj
    e * n + // A_log
    e + // D
    e * d +
    bias(model.useBias, d); // out_proj
  return v * d + nLayer * layer + d + (model.tieEmbeddings ? 0 : v * d);
}
