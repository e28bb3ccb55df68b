import type { MambaForCausalLM } from '@statetune/mamba';
import { type Tensor, zeros } from '@statetune/tensor';
import {
  Adapter,
  type CreateOptions,
  type ForwardExtras,
  type MixerEntries,
} from '../../adapter.js';
import { kaimingUniform, mixerKey, selectedLayers } from '../../init.js';
import type { InitialStateTuningConfig } from './config.js';

/**
 * Initial State Tuning on a model: each covered layer gets a trained h0 (dInner, dState)
 * that its scan starts from instead of zeros, in training and in generation (the mixer's
 * `initialState` entry point). Saved key: `backbone.layers.{i}.mixer.initial_state`.
 *
 * `init: 'zero'` starts as the base model exactly; `init: 'random'` draws each h0
 * kaiming-uniform (a = sqrt(5), fan-in dState), U(-1/sqrt(dState), 1/sqrt(dState)).
 * Adapters of this method can be mixed per sequence in one batch.
 */
export class InitialStateAdapter extends Adapter<InitialStateTuningConfig> {
  private readonly states: { readonly layer: number; readonly h0: Tensor }[] = [];

  constructor(
    model: MambaForCausalLM,
    name: string,
    config: InitialStateTuningConfig,
    options: CreateOptions,
  ) {
    super(model, name, config);
    const { dInner, dState } = model.config;
    for (const layer of selectedLayers(model, config.layers_to_transform, name)) {
      const t =
        config.init === 'random'
          ? kaimingUniform([dInner, dState], dState, options.generator)
          : zeros([dInner, dState]);
      this.states.push({ layer, h0: this.registerAt(`${mixerKey(layer)}.initial_state`, t) });
    }
  }

  override activate(): ForwardExtras {
    const mixers = this.model.mixers;
    for (const s of this.states) mixers[s.layer].initialState = s.h0;
    return {};
  }

  override mixerEntries(): (MixerEntries | null)[] {
    const out: (MixerEntries | null)[] = this.model.mixers.map(() => null);
    for (const s of this.states) out[s.layer] = { initialState: s.h0 };
    return out;
  }
}
