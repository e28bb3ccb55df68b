import type { MambaForCausalLM } from '@statetune/mamba';
import { Adapter, type ForwardExtras } from '../../adapter.js';
import type { FullFinetuningConfig } from './config.js';

/**
 * Full fine-tuning as an adapter: its parameters are the model's own weights (the same
 * tensors, under the model's names, each once: a tied LM head is the embedding), so making it
 * trainable unfreezes the whole model and its saved state is the full state dict
 * (`base_model.model.backbone.embeddings.weight`, ...). Loading writes into the model's
 * weights, after every name and shape is checked.
 */
export class FullFinetuningAdapter extends Adapter<FullFinetuningConfig> {
  constructor(model: MambaForCausalLM, name: string, config: FullFinetuningConfig) {
    super(model, name, config);
    for (const [key, weight] of model.namedParameters()) {
      const was = weight.requiresGrad;
      this.registerAt(key, weight);
      // The PeftModel decides what trains; registering alone changes nothing.
      weight.requiresGrad = was;
    }
  }

  /** Nothing to switch on: the weights are the model's. */
  override activate(): ForwardExtras {
    return {};
  }

  protected override whyNoMerge(): string {
    return 'it trains the base weights themselves, so there is nothing to merge';
  }
}
