import type { MambaForCausalLM } from '@statetune/mamba';
import { noGrad, randn, type Tensor, tensor } from '@statetune/tensor';
import { Adapter, type CreateOptions, type ForwardExtras } from '../../adapter.js';
import { PeftError } from '../../errors.js';
import type { PromptTuningConfig } from './config.js';

/**
 * Prompt tuning on a model: `num_virtual_tokens` trained embeddings (num_virtual_tokens,
 * dModel) put before the input embeddings of every sequence (the model's `prefixEmbeds`);
 * logits and loss cover the real tokens only, and generation feeds the virtual tokens
 * first. Saved key: `prompt_embeddings`, top level (no `base_model.model.` prefix), as PEFT
 * saves it.
 *
 * Initialisation as PEFT's: `RANDOM` draws N(0, 1), as a fresh `torch.nn.Embedding` row
 * (the `Embedding` layer's default); `TEXT` copies the model's embedding rows of
 * `options.encode(prompt_tuning_init_text)`, the token list repeated or cut to
 * num_virtual_tokens.
 */
export class PromptTuningAdapter extends Adapter<PromptTuningConfig> {
  override readonly keyPrefix: string = '';
  /** (num_virtual_tokens, dModel) */
  readonly promptEmbeddings: Tensor;

  constructor(
    model: MambaForCausalLM,
    name: string,
    config: PromptTuningConfig,
    options: CreateOptions,
  ) {
    super(model, name, config);
    const n = config.num_virtual_tokens;
    const t =
      config.prompt_tuning_init === 'TEXT'
        ? textInit(model, name, config, options)
        : randn([n, model.config.dModel], { generator: options.generator });
    this.promptEmbeddings = this.registerAt('prompt_embeddings', t);
  }

  override activate(): ForwardExtras {
    return { prefixEmbeds: this.promptEmbeddings };
  }

  protected override whyNoMerge(): string {
    return 'its virtual tokens are extra inputs, not a change to a weight';
  }
}

/** The token ids of the init text, repeated or cut to `n` (PEFT's behaviour). */
export function textInitTokenIds(ids: readonly number[], n: number): number[] {
  const out: number[] = [];
  while (out.length < n) out.push(...ids);
  return out.slice(0, n);
}

function textInit(
  model: MambaForCausalLM,
  name: string,
  config: PromptTuningConfig,
  options: CreateOptions,
): Tensor {
  const where = `PROMPT_TUNING adapter "${name}"`;
  const text = config.prompt_tuning_init_text;
  if (text === null || text === '') {
    throw new PeftError(
      `${where}: prompt_tuning_init "TEXT" needs a non-empty "prompt_tuning_init_text"`,
    );
  }
  if (!options.encode) {
    throw new PeftError(
      `${where}: prompt_tuning_init "TEXT" needs a tokenizer; pass { encode } when adding the adapter`,
    );
  }
  const ids = options.encode(text);
  if (ids.length === 0) {
    throw new PeftError(
      `${where}: prompt_tuning_init_text ${JSON.stringify(text)} encodes to no tokens`,
    );
  }
  const vocab = model.config.vocabSize;
  const bad = ids.filter((id) => !Number.isInteger(id) || id < 0 || id >= vocab);
  if (bad.length > 0) {
    throw new PeftError(
      `${where}: the tokenizer gave id(s) ${bad.slice(0, 4).join(', ')} outside the model's vocabulary (0-${vocab - 1})`,
    );
  }
  const weight = model.backbone.embeddings.weight;
  const index = tensor(Int32Array.from(textInitTokenIds(ids, config.num_virtual_tokens)), {
    backend: weight.backend,
  });
  return noGrad(() => weight.indexSelect(0, index).contiguous());
}
