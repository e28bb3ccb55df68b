import { concat, type Linear, Module, type Tensor, zeros } from '@statetune/tensor';
import type { MambaForCausalLM } from '../src/index.js';

/** Test-only LoRA: W x + scale * B A x around a Linear. */
export class LoraLinear extends Module {
  constructor(
    readonly base: Linear,
    readonly A: Tensor,
    readonly B: Tensor,
    readonly scale: number,
    /** Output rows the delta lands on, [start, end); all rows by default. */
    readonly rowRange: readonly [number, number] | null = null,
  ) {
    super();
    this.registerModule('base_layer', base);
  }

  forward(x: Tensor): Tensor {
    const y = this.base.forward(x);
    let delta = x.matmul(this.A.transpose(0, 1)).matmul(this.B.transpose(0, 1)).mul(this.scale);
    if (this.rowRange) {
      const [s, e] = this.rowRange;
      const out = this.base.outFeatures;
      const lead = delta.shape.slice(0, -1);
      delta = concat(
        [zeros([...lead, s]), delta, zeros([...lead, out - e])].filter(
          (t) => t.shape[t.rank - 1] > 0,
        ),
        -1,
      );
    }
    return y.add(delta);
  }
}

/**
 * Puts the adapter tensors of a fixture case (names without the `adapter.` prefix) into the
 * model's entry points; returns the model's forward extras (prefixEmbeds).
 */
export function attachAdapter(
  model: MambaForCausalLM,
  adapter: Map<string, Tensor>,
  options: { loraScale?: number } = {},
): { prefixEmbeds: Tensor | null } {
  let prefixEmbeds: Tensor | null = null;
  const lora = new Map<string, { A?: Tensor; B?: Tensor }>();
  const extra = new Map<number, { A_log?: Tensor; B?: Tensor; C?: Tensor }>();
  for (const [name, t] of adapter) {
    if (name === 'prompt_embeddings') {
      prefixEmbeds = t;
      continue;
    }
    const m = /^backbone\.layers\.(\d+)\.mixer\.(.+)$/.exec(name);
    if (!m) throw new Error(`unknown adapter tensor ${name}`);
    const layer = Number(m[1]);
    const mixer = model.mixers[layer];
    const rest = m[2];
    const loraMatch = /^(\w+)\.lora_([AB])$/.exec(rest);
    if (rest === 'state_offset') mixer.stateOffset = t;
    else if (rest === 'output_offset') mixer.outputOffset = t;
    else if (rest === 'initial_state') mixer.initialState = t;
    else if (rest.startsWith('extra_')) {
      const e = extra.get(layer) ?? {};
      if (rest === 'extra_A_log') e.A_log = t;
      else if (rest === 'extra_B') e.B = t;
      else if (rest === 'extra_C') e.C = t;
      extra.set(layer, e);
    } else if (loraMatch) {
      const key = `backbone.layers.${layer}.mixer.${loraMatch[1]}`;
      const e = lora.get(key) ?? {};
      e[loraMatch[2] as 'A' | 'B'] = t;
      lora.set(key, e);
    } else throw new Error(`unknown adapter tensor ${name}`);
  }
  for (const [layer, e] of extra) {
    model.mixers[layer].extraStates = {
      A_log: e.A_log as Tensor,
      B: e.B as Tensor,
      C: e.C as Tensor,
    };
  }
  for (const [path, e] of lora) {
    const base = model.getSubmodule(path) as Linear;
    model.setSubmodule(
      path,
      new LoraLinear(base, e.A as Tensor, e.B as Tensor, options.loraScale ?? 2),
    );
  }
  return { prefixEmbeds };
}
