import type { ExtraStates, MambaForCausalLM } from '@statetune/mamba';
import { full, type Tensor, tensor, zeros } from '@statetune/tensor';
import { Adapter, type CreateOptions, type ForwardExtras } from '../../adapter.js';
import { kaimingUniform, mixerKey, selectedLayers } from '../../init.js';
import type { AdditionalScanConfig } from './config.js';

/** The value of every new A_log entry under `a_log_init: 'paper'` (the paper's code). */
export const PAPER_EXTRA_A_LOG = 16;

/**
 * Additional-scan on a model: each covered layer's scan runs with `d_state` (k) extra state
 * columns, with their own `A = -exp(extra_A_log)` (dInner, k) and input-dependent
 * `B_t = x'_t extra_B^T`, `C_t = x'_t extra_C^T` from the conv output x' (the mixer's
 * `extraStates` entry point). Saved keys: `backbone.layers.{i}.mixer.extra_A_log`
 * (dInner, k), `.extra_B` (k, dInner), `.extra_C` (k, dInner).
 *
 * Initialisation (PAPER.md 2.7): `extra_A_log` is 16.0 everywhere (`a_log_init: 'paper'`)
 * or log(N + 1), ..., log(N + k) in every row (`'log'`, N = dState); `extra_B` is
 * kaiming-uniform with fan-in dInner; `extra_C` is zero, so the new states are never read
 * at first and the model starts as the base model.
 */
export class AdditionalScanAdapter extends Adapter<AdditionalScanConfig> {
  private readonly extras: { readonly layer: number; readonly states: ExtraStates }[] = [];

  constructor(
    model: MambaForCausalLM,
    name: string,
    config: AdditionalScanConfig,
    options: CreateOptions,
  ) {
    super(model, name, config);
    const { dInner, dState } = model.config;
    const k = config.d_state;
    for (const layer of selectedLayers(model, config.layers_to_transform, name)) {
      const key = mixerKey(layer);
      const A_log = this.registerAt(`${key}.extra_A_log`, initialALog(config, dInner, dState));
      const B = this.registerAt(
        `${key}.extra_B`,
        kaimingUniform([k, dInner], dInner, options.generator),
      );
      const C = this.registerAt(`${key}.extra_C`, zeros([k, dInner]));
      this.extras.push({ layer, states: { A_log, B, C } });
    }
  }

  override activate(): ForwardExtras {
    const mixers = this.model.mixers;
    for (const e of this.extras) mixers[e.layer].extraStates = e.states;
    return {};
  }

  protected override whyNoMerge(): string {
    return 'its extra states widen the scan; no base weight can hold them';
  }
}

/** extra_A_log (dInner, k) per `a_log_init`. */
function initialALog(config: AdditionalScanConfig, dInner: number, dState: number): Tensor {
  const k = config.d_state;
  if (config.a_log_init === 'paper') return full([dInner, k], PAPER_EXTRA_A_LOG);
  const data = new Float32Array(dInner * k);
  for (let d = 0; d < dInner; d++) {
    for (let j = 0; j < k; j++) data[d * k + j] = Math.log(dState + j + 1);
  }
  return tensor(data, { shape: [dInner, k] });
}
