import {
  type Backend,
  concat,
  crossEntropy,
  Embedding,
  Generator,
  Linear,
  linear,
  Module,
  ModuleList,
  noGrad,
  RMSNorm,
  type Tensor,
  tensor,
} from '@statetune/tensor';
import { type Checkpoint, validateCheckpoint } from '../checkpoint/index.js';
import type { MambaConfig } from '../config.js';
import { MambaCache } from './cache.js';
import { MambaModelError } from './errors.js';
import { type LayerState, MambaMixer, type MixerForwardOptions } from './mixer.js';

/** Token ids: an int32 tensor (batch, seqlen) or nested arrays of integers. */
export type TokenIds = Tensor | readonly (readonly number[])[];

/** Options of the {@link MambaForCausalLM} constructor. */
export interface MambaModelOptions {
  /** Random stream of the initialisation (default: a fresh `Generator(0)`). */
  readonly generator?: Generator;
  /**
   * `random` (default): Mamba's initialisation. `none`: skip what can be skipped (the
   * embedding starts at zeros), for weights that are about to be overwritten.
   */
  readonly init?: 'random' | 'none';
}

/** Inputs of {@link MambaForCausalLM.forward}. */
export interface CausalLMInput {
  /** int32 (batch, seqlen) token ids. */
  readonly inputIds: TokenIds;
  /**
   * int32 (batch, seqlen) targets, -100 where ignored. The loss is the mean next-token
   * cross-entropy: `logits[:, t]` predicts `labels[:, t + 1]`.
   */
  readonly labels?: TokenIds | null;
  /**
   * Embeddings put before the tokens' (prompt tuning): (p, dModel) shared by the batch, or
   * (batch, p, dModel). Logits and labels cover the real tokens only.
   */
  readonly prefixEmbeds?: Tensor | null;
  /** Continue from this cache and advance it in place (prefill in chunks, decoding). */
  readonly cache?: MambaCache | null;
  /** Return a new cache holding the state after the last position (prefill). */
  readonly returnCache?: boolean;
  /**
   * int32 (batch) or numbers: the row of every batched PEFT entry-point tensor each sequence
   * uses (multi-adapter batches); default row i for sequence i. A cache keeps its own.
   */
  readonly adapterRows?: Tensor | readonly number[] | null;
  /**
   * Run the final norm and the head on the last position only: logits are (batch, 1,
   * vocabSize). What a generation prefill needs, at a fraction of the head's cost. Not with
   * labels.
   */
  readonly lastLogitsOnly?: boolean;
}

/** Options of {@link MambaForCausalLM.fromCheckpoint}. */
export interface FromCheckpointOptions {
  /** Called after each tensor is loaded (progress for large models). */
  readonly onTensor?: (name: string, index: number, total: number) => void;
}

/** Outputs of {@link MambaForCausalLM.forward}. */
export interface CausalLMOutput {
  /** (batch, seqlen, vocabSize) */
  readonly logits: Tensor;
  /** Scalar mean cross-entropy, when labels were given. */
  readonly loss: Tensor | null;
  /** The cache: the one passed in (advanced) or a new one with `returnCache`. */
  readonly cache: MambaCache | null;
}

/** A pre-norm residual block: `residual += hidden; hidden = mixer(norm(residual))`. */
export class MambaBlock extends Module {
  /** The pre-norm. */
  readonly norm: RMSNorm;
  /** The mixer, where the PEFT entry points are. */
  readonly mixer: MambaMixer;

  /** @param layerIdx - the index of the block (for messages). */
  constructor(config: MambaConfig, layerIdx: number, options: MambaModelOptions = {}) {
    super();
    this.norm = this.registerModule('norm', new RMSNorm(config.dModel, { eps: config.rmsNormEps }));
    this.mixer = this.registerModule('mixer', new MambaMixer(config, layerIdx, options));
  }

  /**
   * One block. The residual stream is carried separately (it starts as the embeddings) and
   * kept in float32, as `residual_in_fp32` does.
   */
  forward(
    hidden: Tensor,
    residual: Tensor | null,
    options: MixerForwardOptions = {},
  ): { hidden: Tensor; residual: Tensor; state: LayerState | null } {
    const res = residual ? hidden.add(residual) : hidden;
    const { out, state } = this.mixer.forward(this.norm.forward(res), options);
    return { hidden: out, residual: res, state };
  }
}

/** The backbone: embeddings, the blocks and the final norm (Hugging Face `MambaModel`). */
export class MambaModel extends Module {
  /** Token embedding (vocabSize, dModel). */
  readonly embeddings: Embedding;
  /** The blocks, `layers.{i}`. */
  readonly layers: ModuleList<MambaBlock>;
  /** The final RMSNorm. */
  readonly norm_f: RMSNorm;

  constructor(config: MambaConfig, options: MambaModelOptions = {}) {
    super();
    this.embeddings = this.registerModule(
      'embeddings',
      // N(0, 0.02^2) as Mamba initialises it, drawn once at that scale.
      new Embedding(config.vocabSize, config.dModel, {
        std: 0.02,
        generator: options.generator,
        init: options.init === 'none' ? 'zeros' : 'default',
      }),
    );
    this.layers = this.registerModule(
      'layers',
      new ModuleList(
        Array.from({ length: config.nLayer }, (_, i) => new MambaBlock(config, i, options)),
      ),
    );
    this.norm_f = this.registerModule(
      'norm_f',
      new RMSNorm(config.dModel, { eps: config.rmsNormEps }),
    );
  }
}

/** The LM head when it is the embedding matrix: `logits = hidden E^T`. */
class TiedHead extends Module {
  readonly weight: Tensor;

  constructor(weight: Tensor) {
    super();
    // The same tensor object as the embedding: one parameter, two names in stateDict().
    this.weight = this.registerParameter('weight', weight);
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight);
  }
}

/**
 * Mamba-1 language model with the parameter names of Hugging Face `MambaForCausalLM`
 * (`backbone.embeddings.weight`, `backbone.layers.{i}.mixer.in_proj.weight`, ...,
 * `backbone.norm_f.weight`, `lm_head.weight`), so `stateDict()` and checkpoints line up.
 * A tied `lm_head.weight` is the embedding tensor itself.
 *
 * `forward` is the parallel path (training, scoring, prefill); `step` feeds one token per
 * sequence through a {@link MambaCache}. Both run the same mixer code, so every PEFT entry
 * point (see {@link MambaMixer}) acts the same way in both.
 */
export class MambaForCausalLM extends Module {
  /** The configuration the model was built from. */
  readonly config: MambaConfig;
  /** Embedding, blocks and final norm. */
  readonly backbone: MambaModel;
  /** The LM head: the embedding matrix when tied, else its own `Linear`. */
  readonly lm_head: Module & { forward(x: Tensor): Tensor };

  /**
   * A randomly initialised model on the current backend, initialised as Mamba does: the
   * layers' PyTorch defaults, then `dt_proj` (weight and inverse-softplus bias), `A_log` =
   * log(1..dState), `D` = 1, zero projection biases, `out_proj` scaled by 1/sqrt(nLayer)
   * and the embedding N(0, 0.02^2).
   */
  constructor(config: MambaConfig, options: MambaModelOptions = {}) {
    super();
    this.config = config;
    const generator = options.generator ?? new Generator(0);
    this.backbone = this.registerModule(
      'backbone',
      new MambaModel(config, { ...options, generator }),
    );
    this.lm_head = this.registerModule(
      'lm_head',
      config.tieEmbeddings
        ? new TiedHead(this.backbone.embeddings.weight)
        : new Linear(config.dModel, config.vocabSize, {
            bias: false,
            generator,
            init: options.init === 'none' ? 'zeros' : 'default',
          }),
    );
  }

  /**
   * A model with the weights of an opened checkpoint (see `openCheckpoint` in
   * `@statetune/mamba/node`, or `openCheckpointFromFiles`), on the current backend. The
   * checkpoint is validated first; then the tensors are read one at a time and copied into
   * the parameters, so at most one tensor exists twice. The checkpoint stays open.
   *
   * @throws `CheckpointValidationError` listing missing, unexpected and misshapen tensors.
   */
  static async fromCheckpoint(
    ckpt: Checkpoint,
    options: FromCheckpointOptions = {},
  ): Promise<MambaForCausalLM> {
    validateCheckpoint(ckpt);
    const model = new MambaForCausalLM(ckpt.config, { init: 'none' });
    const own = model.stateDict();
    const list = ckpt.tensors();
    let i = 0;
    for (const t of list) {
      // validateCheckpoint checked every name and shape against the configuration.
      const target = own.get(t.name);
      if (!target) throw new MambaModelError(`fromCheckpoint: the model has no tensor ${t.name}`);
      const data = await ckpt.read(t.name);
      const src = tensor(data, { shape: target.shape, backend: target.backend });
      noGrad(() => target.assign(src));
      src.dispose();
      options.onTensor?.(t.name, i++, list.length);
    }
    return model;
  }

  /** The mixers of every layer, in order (where the PEFT entry points live). */
  get mixers(): MambaMixer[] {
    return [...this.backbone.layers].map((b) => b.mixer);
  }

  /**
   * Logits (batch, seqlen, vocabSize) for token ids, and the loss when labels are given.
   * With `cache` the call continues those sequences; with `returnCache` it returns the
   * state after the last position.
   */
  forward(input: CausalLMInput): CausalLMOutput {
    const backend = this.backbone.embeddings.weight.backend;
    const ids = toIds(input.inputIds, 'inputIds', backend);
    const [batch, seqlen] = ids.shape;
    const cache = input.cache ?? null;
    if (cache && cache.batch !== batch) {
      throw new MambaModelError(
        `forward: the cache holds ${cache.batch} sequences but inputIds has ${batch}`,
      );
    }
    let hidden = this.backbone.embeddings.forward(ids);
    const prefix = input.prefixEmbeds ?? null;
    let p = 0;
    if (prefix) {
      const d = this.config.dModel;
      const ok =
        (prefix.rank === 2 && prefix.shape[1] === d) ||
        (prefix.rank === 3 && prefix.shape[0] === batch && prefix.shape[2] === d);
      if (!ok) {
        throw new MambaModelError(
          `forward: prefixEmbeds must be (p, ${d}) or (${batch}, p, ${d}), got [${prefix.shape}]`,
        );
      }
      p = prefix.shape[prefix.rank - 2];
      const pe = prefix.rank === 2 ? prefix.unsqueeze(0).expand(batch, p, d) : prefix;
      hidden = concat([pe, hidden], 1);
    }
    if (seqlen + p === 0) throw new MambaModelError('forward: the input has no positions');
    const lastOnly = input.lastLogitsOnly === true;
    if (lastOnly && input.labels) {
      throw new MambaModelError('forward: lastLogitsOnly gives no loss; pass labels without it');
    }

    const rowsIn = input.adapterRows ?? null;
    const adapterRows = cache
      ? cache.adapterRows
      : rowsIn === null || !Array.isArray(rowsIn)
        ? (rowsIn as Tensor | null)
        : tensor(Int32Array.from(rowsIn as readonly number[]), { backend });
    const wantState = cache !== null || input.returnCache === true;
    const states: LayerState[] = [];
    let residual: Tensor | null = null;
    let i = 0;
    for (const block of this.backbone.layers) {
      const r = block.forward(hidden, residual, {
        state: cache?.layers[i] ?? null,
        returnState: wantState,
        adapterRows,
      });
      hidden = r.hidden;
      residual = r.residual;
      if (r.state) states.push(r.state);
      i++;
    }
    let last = residual ? hidden.add(residual) : hidden;
    if (lastOnly) last = last.narrow(1, last.shape[1] - 1, 1);
    const normed = this.backbone.norm_f.forward(last);
    let logits = this.lm_head.forward(normed);
    if (p > 0 && !lastOnly) logits = logits.slice(1, p);

    let outCache: MambaCache | null = null;
    if (cache) {
      cache.advance(states);
      outCache = cache;
    } else if (input.returnCache) {
      // The cache owns (and eventually disposes) its rows: never the caller's tensor.
      outCache = new MambaCache(
        states,
        adapterRows === rowsIn ? noGrad(() => adapterRows?.clone() ?? null) : adapterRows,
      );
    }
    const loss = input.labels ? causalLoss(logits, toIds(input.labels, 'labels', backend)) : null;
    return { logits, loss, cache: outCache };
  }

  /**
   * A cache for `batch` new sequences: zero conv inputs and each layer's initial state (the
   * `initialState` entry point, zeros without one).
   */
  newCache(batch: number, options: { adapterRows?: readonly number[] | null } = {}): MambaCache {
    const backend = this.backbone.embeddings.weight.backend;
    const rows = options.adapterRows
      ? tensor(Int32Array.from(options.adapterRows), { backend })
      : null;
    return new MambaCache(
      this.mixers.map((m) => m.initialLayerState(batch, rows)),
      rows,
    );
  }

  /**
   * One token per sequence through the cache (advanced in place): logits (batch, vocabSize).
   * Equals the parallel forward of the whole sequence at that position.
   */
  step(tokens: Tensor | readonly number[], cache: MambaCache): Tensor {
    const backend = this.backbone.embeddings.weight.backend;
    const ids =
      Array.isArray(tokens) || !('shape' in tokens)
        ? tensor(Int32Array.from(tokens as readonly number[]), { backend })
        : (tokens as Tensor);
    if (ids.rank !== 1) {
      throw new MambaModelError(`step: tokens must be (batch), got [${ids.shape}]`);
    }
    const { logits } = this.forward({ inputIds: ids.reshape(ids.shape[0], 1), cache });
    return logits.reshape(ids.shape[0], this.config.vocabSize);
  }
}

/** Mean next-token cross-entropy: logits[:, t] predicts labels[:, t + 1]; -100 is ignored. */
export function causalLoss(logits: Tensor, labels: Tensor): Tensor {
  const [b, l, v] = logits.shape;
  if (labels.rank !== 2 || labels.shape[0] !== b || labels.shape[1] !== l) {
    throw new MambaModelError(
      `labels must be (${b}, ${l}) like the logits without the vocabulary axis, got [${labels.shape}]`,
    );
  }
  if (l < 2) throw new MambaModelError('the loss needs at least two positions');
  return crossEntropy(
    logits.slice(1, 0, l - 1).reshape(b * (l - 1), v),
    labels.slice(1, 1).reshape(b * (l - 1)),
  );
}

function toIds(ids: TokenIds, name: string, backend: Backend): Tensor {
  if (!Array.isArray(ids)) {
    const t = ids as Tensor;
    if (t.rank !== 2)
      throw new MambaModelError(`${name} must be (batch, seqlen), got [${t.shape}]`);
    return t.dtype === 'int32' ? t : t.cast('int32');
  }
  const rows = ids as readonly (readonly number[])[];
  const len = rows[0]?.length ?? 0;
  if (rows.length === 0 || rows.some((r) => r.length !== len)) {
    throw new MambaModelError(
      `${name}: every sequence of a batch must have the same length (got lengths ${rows.map((r) => r.length).join(', ')}); generation handles prompts of different lengths`,
    );
  }
  return tensor(Int32Array.from(rows.flat()), { shape: [rows.length, len], backend });
}
