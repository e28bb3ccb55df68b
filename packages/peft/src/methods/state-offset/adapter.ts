import type { MambaForCausalLM } from '@statetune/mamba';
import { randn, type Tensor, zeros } from '@statetune/tensor';
import {
  Adapter,
  type CreateOptions,
  type ForwardExtras,
  type MixerEntries,
} from '../../adapter.js';
import { kaimingUniform, mixerKey, selectedLayers } from '../../init.js';
import type { StateOffsetTuningConfig } from './config.js';

/** The trained tensors of one layer: a full offset, or its low-rank factors. */
interface LayerOffset {
  readonly layer: number;
  readonly full: Tensor | null;
  /** (r, dState) */
  readonly A: Tensor | null;
  /** (dInner, r) */
  readonly B: Tensor | null;
}

/**
 * State-offset Tuning on a model. Variant `h` sets each covered mixer's `stateOffset`
 * (dInner, dState), or `B A` when low-rank; variant `y` sets `outputOffset` (dInner). Saved
 * keys: `backbone.layers.{i}.mixer.state_offset` / `.output_offset`, and for low rank
 * `.state_offset.lora_A` (r, dState) and `.state_offset.lora_B` (dInner, r).
 */
export class StateOffsetAdapter extends Adapter<StateOffsetTuningConfig> {
  private readonly offsets: LayerOffset[] = [];

  constructor(
    model: MambaForCausalLM,
    name: string,
    config: StateOffsetTuningConfig,
    options: CreateOptions,
  ) {
    super(model, name, config);
    const { dInner, dState } = model.config;
    const g = options.generator;
    const random = config.init === 'random';
    for (const layer of selectedLayers(model, config.layers_to_transform, name)) {
      const key = mixerKey(layer);
      if (config.variant === 'y') {
        const t = random ? randn([dInner], { std: 0.1, generator: g }) : zeros([dInner]);
        this.offsets.push({
          layer,
          full: this.registerAt(`${key}.output_offset`, t),
          A: null,
          B: null,
        });
      } else if (config.r === null) {
        const t = random
          ? randn([dInner, dState], { std: 0.1, generator: g })
          : zeros([dInner, dState]);
        this.offsets.push({
          layer,
          full: this.registerAt(`${key}.state_offset`, t),
          A: null,
          B: null,
        });
      } else {
        // As the paper's code: A kaiming-uniform, B zero, so h' = B A starts at zero; `random`
        // draws B too.
        const r = config.r;
        const A = this.registerAt(
          `${key}.state_offset.lora_A`,
          kaimingUniform([r, dState], dState, g),
        );
        const B = this.registerAt(
          `${key}.state_offset.lora_B`,
          random ? randn([dInner, r], { std: 0.1, generator: g }) : zeros([dInner, r]),
        );
        this.offsets.push({ layer, full: null, A, B });
      }
    }
  }

  override activate(): ForwardExtras {
    const mixers = this.model.mixers;
    const entries = this.mixerEntries();
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (!e) continue;
      if (e.stateOffset) mixers[i].stateOffset = e.stateOffset;
      if (e.outputOffset) mixers[i].outputOffset = e.outputOffset;
    }
    return {};
  }

  override mixerEntries(): (MixerEntries | null)[] {
    const out: (MixerEntries | null)[] = this.model.mixers.map(() => null);
    for (const o of this.offsets) {
      const t = o.full ?? (o.B as Tensor).matmul(o.A as Tensor);
      out[o.layer] = this.config.variant === 'y' ? { outputOffset: t } : { stateOffset: t };
    }
    return out;
  }
}
