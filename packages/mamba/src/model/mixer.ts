import {
  Conv1d,
  concat,
  type Generator,
  Linear,
  linear,
  Module,
  noGrad,
  selectiveScan,
  type Tensor,
  zeros,
} from '@statetune/tensor';
import type { MambaConfig } from '../config.js';
import { MambaModelError } from './errors.js';
import { initMixer } from './init.js';

/**
 * A layer that maps (..., in) to (..., out) as a `Linear` does. Every projection of the
 * mixer is typed this way, so an adapter (LoRA) can replace it with
 * `model.setSubmodule('backbone.layers.0.mixer.x_proj', wrapper)` and the mixer keeps
 * calling `forward`.
 */
export interface Projection extends Module {
  forward(x: Tensor): Tensor;
}

/**
 * Extra state columns appended to the state axis (Additional-scan): the scan runs with
 * `dState + k` states, where the new ones have `A = -exp(A_log)` and input-dependent
 * `B_t = x'_t B^T`, `C_t = x'_t C^T` computed from the conv output x'.
 */
export interface ExtraStates {
  /** (dInner, k): log of -A for the new states. */
  readonly A_log: Tensor;
  /** (k, dInner): projects x' to the new rows of B. */
  readonly B: Tensor;
  /** (k, dInner): projects x' to the new rows of C. */
  readonly C: Tensor;
}

/**
 * The recurrent state of one layer between calls: the last `dConv` inputs of the conv
 * (before it, as Hugging Face's cache keeps them; the oldest column is dropped by the next
 * token) and the SSM state after the last token.
 */
export interface LayerState {
  /** (batch, dInner, dConv) */
  readonly conv: Tensor;
  /** (batch, dInner, stateSize) where stateSize is dState plus any extra states. */
  readonly ssm: Tensor;
}

/** Options of {@link MambaMixer.forward}. */
export interface MixerForwardOptions {
  /** Continue from this state (a cache) instead of from the start of a sequence. */
  readonly state?: LayerState | null;
  /** Return the state after the last position (for a cache). */
  readonly returnState?: boolean;
  /**
   * int32 (batch): row i of the input uses row `adapterRows[i]` of every batched entry-point
   * tensor (a (n, ...) `initialState`, `stateOffset` or `outputOffset`). Without it row i
   * uses row i.
   */
  readonly adapterRows?: Tensor | null;
}

/** Rows of the fused projections, so an adapter can target one piece of a weight. */
export interface ProjectionRows {
  /** Rows of `in_proj.weight`: `x` feeds the conv, `z` the gate. */
  readonly in_proj: {
    readonly x: readonly [number, number];
    readonly z: readonly [number, number];
  };
  /** Rows of `x_proj.weight`: the input of `dt_proj`, then B, then C. */
  readonly x_proj: {
    readonly dt: readonly [number, number];
    readonly B: readonly [number, number];
    readonly C: readonly [number, number];
  };
}

/**
 * The row ranges `[start, end)` of each piece of `in_proj` and `x_proj`. The mixer runs
 * each fused projection once and splits its output by these rows, so an adapter that
 * targets one piece (LoRA on `x_proj_B` in the paper's code) wraps the whole projection and
 * adds its delta to these output rows only.
 */
export function projectionRows(config: MambaConfig): ProjectionRows {
  const { dInner: e, dtRank: r, dState: n } = config;
  return {
    in_proj: { x: [0, e], z: [e, 2 * e] },
    x_proj: { dt: [0, r], B: [r, r + n], C: [r + n, r + 2 * n] },
  };
}

/**
 * Mamba-1's mixer (state-spaces `mamba_simple.Mamba`), with the parameter names of Hugging
 * Face's `MambaMixer`: `in_proj`, `conv1d`, `x_proj`, `dt_proj`, `A_log`, `D`, `out_proj`.
 *
 * PEFT methods enter through these public members instead of code paths in the model:
 * - the four projections are replaceable {@link Projection}s (`setSubmodule`);
 * - {@link MambaMixer.initialState}: h0 of the scan, (dInner, dState) or batched
 *   (n, dInner, dState) (Initial State Tuning; a prefix's state);
 * - {@link MambaMixer.stateOffset}: added to the state in every readout, never carried,
 *   (dInner, dState) or (n, dInner, dState) (State-offset Tuning (h));
 * - {@link MambaMixer.outputOffset}: y' added to the scan output before the silu(z) gate,
 *   (dInner) or (n, dInner) (State-offset Tuning (y));
 * - {@link MambaMixer.extraStates}: extra state columns (Additional-scan);
 * - {@link MambaMixer.convState}: conv inputs before the first position (with
 *   `initialState`, the state a prefix leaves: prefix tuning).
 * Entry-point tensors with dState columns are zero-padded when extra states are present.
 * They may be parameters that require gradients; the mixer only reads them.
 */
export class MambaMixer extends Module {
  /** The model configuration. */
  readonly config: MambaConfig;
  /** dModel -> 2 dInner: rows [0, dInner) give x (into the conv), the rest z (the gate). */
  readonly in_proj: Projection;
  /** Depthwise causal conv over x, weight (dInner, 1, dConv). */
  readonly conv1d: Conv1d;
  /** dInner -> dtRank + 2 dState: the dt_proj input, then B, then C. */
  readonly x_proj: Projection;
  /** dtRank -> dInner, with the bias that sets the initial step size. */
  readonly dt_proj: Projection;
  /** (dInner, dState): A = -exp(A_log). */
  readonly A_log: Tensor;
  /** (dInner): skip connection D * x. */
  readonly D: Tensor;
  /** dInner -> dModel. */
  readonly out_proj: Projection;

  /** Initial state h0, (dInner, dState) or (n, dInner, dState); null for zeros. */
  initialState: Tensor | null = null;
  /** Readout offset h', (dInner, dState) or (n, dInner, dState); null for none. */
  stateOffset: Tensor | null = null;
  /** Output offset y' before the gate, (dInner) or (n, dInner); null for none. */
  outputOffset: Tensor | null = null;
  /** Extra state columns (Additional-scan); null for none. */
  extraStates: ExtraStates | null = null;
  /**
   * Conv inputs before the first position, (dInner, dConv - 1) or (n, dInner, dConv - 1),
   * oldest first; null for zeros. With {@link MambaMixer.initialState} it puts the layer in
   * the state a prefix of inputs would have left (prefix tuning).
   */
  convState: Tensor | null = null;

  /**
   * @param config - the model configuration.
   * @param layerIdx - the index of this layer (for messages).
   * @param options - `generator`: the random stream of the initialisation; `init: 'none'`
   *   skips Mamba's initialisation (weights about to be loaded).
   */
  constructor(
    config: MambaConfig,
    readonly layerIdx = 0,
    options: { generator?: Generator; init?: 'random' | 'none' } = {},
  ) {
    super();
    this.config = config;
    const { dModel, dInner, dState, dConv, dtRank, useBias, convBias } = config;
    const g = options.generator;
    // Weights about to be loaded need no random draw: the layers start zero-filled.
    const init = options.init === 'none' ? 'zeros' : 'default';
    this.in_proj = this.registerModule(
      'in_proj',
      new Linear(dModel, 2 * dInner, { bias: useBias, generator: g, init }),
    );
    this.conv1d = this.registerModule(
      'conv1d',
      new Conv1d(dInner, dConv, { bias: convBias, generator: g, init }),
    );
    this.x_proj = this.registerModule(
      'x_proj',
      new Linear(dInner, dtRank + 2 * dState, { bias: false, generator: g, init }),
    );
    this.dt_proj = this.registerModule(
      'dt_proj',
      new Linear(dtRank, dInner, { bias: true, generator: g, init }),
    );
    this.A_log = this.registerParameter('A_log', zeros([dInner, dState]));
    this.D = this.registerParameter('D', zeros([dInner]));
    this.out_proj = this.registerModule(
      'out_proj',
      new Linear(dInner, dModel, { bias: useBias, generator: g, init }),
    );
    if (options.init !== 'none') initMixer(this, g);
  }

  /** Number of state columns the scan runs with: dState plus any extra states. */
  get stateSize(): number {
    return this.config.dState + (this.extraStates?.A_log.shape[1] ?? 0);
  }

  /**
   * The parallel (training and prefill) path, or a continuation from `options.state`:
   * hidden (batch, seqlen, dModel) -> (batch, seqlen, dModel), plus the state after the last
   * position when asked. With a state and seqlen 1 this is the recurrent step.
   */
  forward(
    hidden: Tensor,
    options: MixerForwardOptions = {},
  ): { out: Tensor; state: LayerState | null } {
    const { dInner, dState, dtRank, dConv } = this.config;
    if (hidden.rank !== 3 || hidden.shape[2] !== this.config.dModel) {
      throw this.error(
        `input must be (batch, seqlen, ${this.config.dModel}), got [${hidden.shape}]`,
      );
    }
    const batch = hidden.shape[0];
    const prev = options.state ?? null;
    const rows = options.adapterRows ?? null;

    // Projections: x feeds the conv, z the gate.
    const [xBL, zBL] = this.in_proj.forward(hidden).split([dInner, dInner], -1);
    const x = xBL.transpose(1, 2); // (b, dInner, L)
    const z = zBL.transpose(1, 2);

    // Causal depthwise conv over the previous dConv - 1 inputs and this chunk, then SiLU.
    const history = prev
      ? prev.conv.slice(2, 1)
      : this.convState && this.convHistory(this.convState, batch, rows);
    const convIn = history ? concat([history, x], 2) : x;
    let xc = this.conv1d.forward(convIn);
    if (history) xc = xc.slice(2, dConv - 1);
    xc = xc.silu(); // (b, dInner, L)
    const xcBL = xc.transpose(1, 2);

    // Input-dependent dt, B, C.
    const [dtIn, bBL, cBL] = this.x_proj.forward(xcBL).split([dtRank, dState, dState], -1);
    // A plain Linear's bias goes to the scan as deltaBias, as the reference does; a
    // replaced dt_proj returns its full output, bias included.
    const plain = this.dt_proj instanceof Linear;
    const deltaBL = plain
      ? linear(dtIn, (this.dt_proj as Linear).weight)
      : this.dt_proj.forward(dtIn);
    const deltaBias = plain ? (this.dt_proj as Linear).bias : null;
    let A = this.A_log.exp().neg();
    let B = bBL.transpose(1, 2); // (b, dState, L)
    let C = cBL.transpose(1, 2);
    const extra = this.extraStates;
    if (extra) {
      A = concat([A, extra.A_log.exp().neg()], 1);
      B = concat([B, linear(xcBL, extra.B).transpose(1, 2)], 1);
      C = concat([C, linear(xcBL, extra.C).transpose(1, 2)], 1);
    }

    const h0 = prev ? prev.ssm : this.stateTensor('initialState', this.initialState, batch, rows);
    const stateOffset = this.stateTensor('stateOffset', this.stateOffset, batch, rows);
    const outputOffset = this.outputOffset
      ? this.batched('outputOffset', this.outputOffset, 1, batch, rows)
      : null;
    const scan = selectiveScan({
      u: xc,
      delta: deltaBL.transpose(1, 2),
      A,
      B,
      C,
      D: this.D,
      // The scan fuses the gate; an output offset has to enter before it, so then the scan
      // runs ungated and the gate is applied here.
      z: outputOffset ? null : z,
      deltaBias,
      deltaSoftplus: true,
      h0,
      stateOffset,
    });
    let y = scan.y;
    if (outputOffset) y = y.add(outputOffset.unsqueeze(-1)).mul(z.silu());
    const out = this.out_proj.forward(y.transpose(1, 2));

    let state: LayerState | null = null;
    if (options.returnState || prev) {
      // The last dConv inputs of the conv, zero-padded on the left for short prompts.
      const width = convIn.shape[2];
      const conv =
        width >= dConv
          ? convIn.slice(2, width - dConv).contiguous()
          : concat([zeros([batch, dInner, dConv - width], { backend: x.backend }), convIn], 2);
      state = { conv, ssm: scan.lastState };
    }
    return { out, state };
  }

  /**
   * A fresh state for `batch` sequences: zero conv inputs and the initial state (zeros
   * without one).
   */
  initialLayerState(batch: number, adapterRows: Tensor | null = null): LayerState {
    const { dInner, dConv } = this.config;
    const backend = this.A_log.backend;
    return noGrad(() => {
      const history = this.convState && this.convHistory(this.convState, batch, adapterRows);
      // The cache keeps dConv inputs; the oldest is dropped by the next token.
      const conv = history
        ? concat([zeros([batch, dInner, 1], { backend }), history], 2).contiguous()
        : zeros([batch, dInner, dConv], { backend });
      const h0 = this.stateTensor('initialState', this.initialState, batch, adapterRows);
      // Always a copy: the cache owns its states and releases them as it advances.
      const ssm = h0
        ? h0.rank === 3
          ? h0.clone()
          : h0.unsqueeze(0).expand(batch, dInner, this.stateSize).contiguous()
        : zeros([batch, dInner, this.stateSize], { backend });
      return { conv, ssm };
    });
  }

  /** A (dInner, dState)-like entry tensor, batched rows picked, padded to the extra states. */
  private stateTensor(
    name: string,
    t: Tensor | null,
    batch: number,
    rows: Tensor | null,
  ): Tensor | null {
    if (!t) return null;
    let s = this.batched(name, t, 2, batch, rows);
    const { dInner, dState } = this.config;
    const cols = s.shape[s.rank - 1];
    const want = this.stateSize;
    if (s.shape[s.rank - 2] !== dInner || (cols !== dState && cols !== want)) {
      throw this.error(
        `${name} must have shape (${dInner}, ${dState}${want !== dState ? ` or ${want}` : ''}) or (n, ${dInner}, ${dState}), got [${t.shape}]`,
      );
    }
    if (cols !== want) {
      const pad = zeros([...s.shape.slice(0, -1), want - cols], { backend: s.backend });
      s = concat([s, pad], -1);
    }
    return s;
  }

  /** The conv history entry tensor as (batch, dInner, dConv - 1). */
  private convHistory(t: Tensor, batch: number, rows: Tensor | null): Tensor {
    const { dInner, dConv } = this.config;
    const s = this.batched('convState', t, 2, batch, rows);
    if (s.shape[s.rank - 2] !== dInner || s.shape[s.rank - 1] !== dConv - 1) {
      throw this.error(
        `convState must have shape (${dInner}, ${dConv - 1}) or (n, ${dInner}, ${dConv - 1}), got [${t.shape}]`,
      );
    }
    return s.rank === 3 ? s : s.unsqueeze(0).expand(batch, dInner, dConv - 1);
  }

  /** Picks rows of a batched entry tensor; checks a per-channel one. */
  private batched(
    name: string,
    t: Tensor,
    rank: number,
    batch: number,
    rows: Tensor | null,
  ): Tensor {
    if (t.rank === rank) return t;
    if (t.rank !== rank + 1) {
      throw this.error(
        `${name} must have ${rank} axes (shared) or ${rank + 1} (per sequence), got [${t.shape}]`,
      );
    }
    const picked = rows ? t.indexSelect(0, rows) : t;
    if (picked.shape[0] !== batch) {
      throw this.error(
        `${name} has ${picked.shape[0]} rows${rows ? ' after adapterRows' : ''} but the batch has ${batch} sequences; pass adapterRows to map sequences to rows`,
      );
    }
    return picked;
  }

  private error(message: string): MambaModelError {
    return new MambaModelError(`layer ${this.layerIdx} mixer: ${message}`);
  }
}
