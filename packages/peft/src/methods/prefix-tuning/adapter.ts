import type { MambaForCausalLM, MambaMixer } from '@statetune/mamba';
import {
  concat,
  Embedding,
  keep,
  Linear,
  Module,
  noGrad,
  randn,
  selectiveScan,
  type Tensor,
  zeros,
} from '@statetune/tensor';
import { Adapter, type CreateOptions, checkTensors, type ForwardExtras } from '../../adapter.js';
import { PeftError } from '../../errors.js';
import type { PrefixTuningConfig } from './config.js';

/** The state a prefix of inputs leaves in one layer. */
export interface PrefixState {
  /** (dInner, dConv - 1): the last conv inputs of the prefix, oldest first, zero-padded. */
  readonly conv: Tensor;
  /** (dInner, dState): the scan state after the prefix. */
  readonly ssm: Tensor;
}

/**
 * The state that virtual conv inputs `x` (dInner, p) leave in a mixer, from a zero state:
 * the conv history is the last dConv - 1 columns of `x` (zero-padded on the left when p is
 * shorter), and the scan state is the last state of conv1d -> silu -> x_proj -> dt_proj ->
 * selective scan (softplus on dt) over `x` alone, with the layer's own conv1d, x_proj,
 * dt_proj, A_log. Differentiable in `x` (and in the layer's weights).
 */
export function prefixState(mixer: MambaMixer, x: Tensor): PrefixState {
  const { dInner, dState, dConv, dtRank } = mixer.config;
  if (x.rank !== 2 || x.shape[0] !== dInner) {
    throw new PeftError(
      `prefix inputs of layer ${mixer.layerIdx} must be (${dInner}, p), got [${x.shape}]`,
    );
  }
  const p = x.shape[1];
  const keep = dConv - 1;
  const conv =
    p >= keep
      ? x.slice(1, p - keep)
      : concat([zeros([dInner, keep - p], { backend: x.backend }), x], 1);
  const xc = mixer.conv1d.forward(x.unsqueeze(0)).silu(); // (1, dInner, p)
  const [dtIn, b, c] = mixer.x_proj.forward(xc.transpose(1, 2)).split([dtRank, dState, dState], -1);
  // A projection's forward gives its full output, a plain dt_proj's bias included.
  const delta = mixer.dt_proj.forward(dtIn).transpose(1, 2);
  const scan = selectiveScan({
    u: xc,
    delta,
    A: mixer.A_log.exp().neg(),
    B: b.transpose(1, 2),
    C: c.transpose(1, 2),
    deltaSoftplus: true,
  });
  return { conv, ssm: scan.lastState.squeeze(0) };
}

/** PEFT's prefix encoder with projection: embedding -> Linear -> tanh -> Linear. */
export class PrefixEncoder extends Module {
  /** `prompt_encoder.embedding`: (num_virtual_tokens, dInner). */
  readonly embedding: Embedding;
  /** `prompt_encoder.transform.0`: dInner -> encoder_hidden_size. */
  readonly first: Linear;
  /** `prompt_encoder.transform.2`: encoder_hidden_size -> nLayer * dInner. */
  readonly second: Linear;

  /**
   * @param tokens - num_virtual_tokens.
   * @param dInner - the width of one layer's virtual input.
   * @param hidden - encoder_hidden_size.
   * @param out - nLayer * dInner.
   * @param options - the random stream (PyTorch's default init of each layer).
   */
  constructor(tokens: number, dInner: number, hidden: number, out: number, options: CreateOptions) {
    super();
    const g = options.generator;
    this.embedding = this.registerModule(
      'embedding',
      new Embedding(tokens, dInner, { generator: g }),
    );
    const transform = this.registerModule('transform', new Transform());
    this.first = transform.add('0', new Linear(dInner, hidden, { generator: g }));
    this.second = transform.add('2', new Linear(hidden, out, { generator: g }));
  }

  /** The virtual inputs of every layer, (num_virtual_tokens, nLayer * dInner). */
  forward(): Tensor {
    return this.second.forward(this.first.forward(this.embedding.weight).tanh());
  }
}

/** `transform.0` and `transform.2` (index 1 is the parameterless tanh, as in PEFT). */
class Transform extends Module {
  add(name: string, m: Linear): Linear {
    return this.registerModule(name, m);
  }
}

/**
 * Prefix tuning for a state space model. Transformers' prefix tuning prepends trained keys
 * and values to every attention layer; a Mamba layer has no attention, so here the trained
 * prefix is `num_virtual_tokens` virtual inputs P_l (num_virtual_tokens, dInner) prepended
 * to every layer l's conv/scan input x (the x half of in_proj's output, before the conv),
 * with the gate input z zero at those positions so silu(z) = 0 removes their own outputs
 * (nothing of the prefix reaches the residual stream directly). Because the conv and the
 * scan are causal, this is exactly the same as starting the real tokens from the state the
 * prefix leaves behind: the conv history (the last dConv - 1 prefix columns, zero-padded on
 * the left when fewer) goes to `mixer.convState` and the scan's last state over the prefix
 * alone (from zero, with the layer's own conv1d, x_proj, dt_proj and A_log) to
 * `mixer.initialState`. Both are recomputed from P in every {@link activate}, so gradients
 * reach P, and generation simply starts from that state.
 *
 * Parameters: without projection, `prompt_embeddings` (num_virtual_tokens,
 * nLayer * dInner), layer l using columns [l dInner, (l + 1) dInner), saved top-level as
 * PEFT does. With `prefix_projection` (and `inference_mode` false) PEFT's reparametrisation
 * is trained instead: `prompt_encoder.embedding.weight` (num_virtual_tokens, dInner) ->
 * `prompt_encoder.transform.0` Linear(dInner, encoder_hidden_size) -> tanh ->
 * `prompt_encoder.transform.2` Linear(encoder_hidden_size, nLayer * dInner); the saved
 * adapter is the MLP's output folded into `prompt_embeddings`, so every saved prefix loads
 * as a plain one. A config with `inference_mode: true` (as saved files have) creates the
 * plain form directly; a projection-form adapter also accepts a folded `prompt_embeddings`,
 * which it then uses as it is (frozen, the MLP unused).
 */
export class PrefixTuningAdapter extends Adapter<PrefixTuningConfig> {
  override readonly keyPrefix: string = '';
  /** The plain prefix (no projection), (num_virtual_tokens, nLayer * dInner). */
  readonly promptEmbeddings: Tensor | null = null;
  /** The MLP (projection form), else null. */
  readonly encoder: PrefixEncoder | null = null;
  private folded: Tensor | null = null;

  constructor(
    model: MambaForCausalLM,
    name: string,
    config: PrefixTuningConfig,
    options: CreateOptions,
  ) {
    super(model, name, config);
    const { dInner, nLayer } = model.config;
    const n = config.num_virtual_tokens;
    if (usesProjection(config)) {
      this.encoder = this.registerModule(
        'prompt_encoder',
        new PrefixEncoder(n, dInner, config.encoder_hidden_size, nLayer * dInner, options),
      );
    } else {
      this.promptEmbeddings = this.registerAt(
        'prompt_embeddings',
        randn([n, nLayer * dInner], { generator: options.generator }),
      );
    }
  }

  /** Every layer's virtual inputs, (num_virtual_tokens, nLayer * dInner). */
  prefixInputs(): Tensor {
    if (this.promptEmbeddings) return this.promptEmbeddings;
    if (this.folded) return this.folded;
    return (this.encoder as PrefixEncoder).forward();
  }

  override activate(): ForwardExtras {
    const { dInner, dConv } = this.model.config;
    const all = this.prefixInputs();
    this.model.mixers.forEach((mixer, l) => {
      const x = all.slice(1, l * dInner, (l + 1) * dInner).transpose(0, 1);
      const s = prefixState(mixer, x);
      if (dConv > 1) mixer.convState = s.conv;
      mixer.initialState = s.ssm;
    });
    return {};
  }

  override adapterStateDict(): Map<string, Tensor> {
    if (this.promptEmbeddings) return super.adapterStateDict();
    return new Map([['prompt_embeddings', noGrad(() => this.prefixInputs().contiguous())]]);
  }

  /**
   * Loads `prompt_embeddings` (saved adapters; in the projection form it is then used
   * instead of the MLP), or, in the projection form, the MLP's own `prompt_encoder.*`
   * tensors.
   */
  override loadAdapterStateDict(tensors: ReadonlyMap<string, Tensor>, source: string): void {
    if (!this.encoder || [...tensors.keys()].every((k) => !k.startsWith('prompt_encoder.'))) {
      if (this.encoder) {
        checkTensors(this.adapterStateDict(), tensors, source, this.config.peft_type);
        // Kept out of any tidy() scope around the load: the adapter holds it from now on.
        const folded = keep(noGrad(() => (tensors.get('prompt_embeddings') as Tensor).clone()));
        this.folded?.dispose();
        this.folded = folded;
      } else super.loadAdapterStateDict(tensors, source);
      return;
    }
    checkTensors(new Map(this.namedParameters()), tensors, source, this.config.peft_type);
    this.loadStateDict(new Map(tensors), { strict: true });
    this.folded?.dispose();
    this.folded = null;
  }

  protected override whyNoMerge(): string {
    return 'its prefix is extra input to every layer, not a change to a weight';
  }
}

/** Whether a config trains through the MLP (PEFT builds it only outside inference mode). */
export function usesProjection(config: PrefixTuningConfig): boolean {
  return config.prefix_projection && config.inference_mode !== true;
}
