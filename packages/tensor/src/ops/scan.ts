import { recordMulti, shouldRecord } from '../autograd.js';
import type { ScanArgs, View } from '../backend.js';
import { fmtShape, TensorError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { sameBackend, wrap } from './util.js';

/** Inputs of {@link selectiveScan}; shapes as in the fixtures README. */
export interface SelectiveScanInputs {
  /** (batch, dim, seqlen) */
  readonly u: Tensor;
  /** (batch, dim, seqlen), before the optional bias and softplus. */
  readonly delta: Tensor;
  /** (dim, dstate), usually -exp(A_log). */
  readonly A: Tensor;
  /** (batch, dstate, seqlen) */
  readonly B: Tensor;
  /** (batch, dstate, seqlen) */
  readonly C: Tensor;
  /** (dim): skip connection D * u. */
  readonly D?: Tensor | null;
  /** (batch, dim, seqlen): the output is multiplied by silu(z). */
  readonly z?: Tensor | null;
  /** (dim): added to delta before the softplus. */
  readonly deltaBias?: Tensor | null;
  /** Apply softplus to delta + deltaBias (default false, as selective_scan_fn). */
  readonly deltaSoftplus?: boolean;
  /** (dim, dstate) or (batch, dim, dstate): the state before the first step (Initial State Tuning, cached prefixes). */
  readonly h0?: Tensor | null;
  /** (dim, dstate) or (batch, dim, dstate): added to the state in every readout, never fed into the recurrence (State-offset Tuning). */
  readonly stateOffset?: Tensor | null;
}

/** Outputs of {@link selectiveScan}. */
export interface SelectiveScanOutputs {
  /** (batch, dim, seqlen) */
  readonly y: Tensor;
  /** (batch, dim, dstate): the state after the last step, without the offset. */
  readonly lastState: Tensor;
}

/**
 * Mamba's selective scan, one op with optional parts so that PEFT methods pass parameters
 * instead of rewriting the model:
 *
 *     dt_t = softplus(delta_t + deltaBias)          (or without softplus)
 *     h_t  = exp(dt_t A) h_{t-1} + dt_t B_t u_t,     h_{-1} = h0 (or 0)
 *     y_t  = C_t (h_t + stateOffset) + D u_t,        then y_t *= silu(z_t)
 *
 * The state is float32. Gradients flow to every tensor input, including `h0` and
 * `stateOffset`; the backward keeps only chunk-boundary states and recomputes inside each
 * chunk, so its memory does not grow with seqlen x dstate per channel.
 */
export function selectiveScan(inputs: SelectiveScanInputs): SelectiveScanOutputs {
  const { u, delta, A, B, C } = inputs;
  const D = inputs.D ?? null;
  const z = inputs.z ?? null;
  const deltaBias = inputs.deltaBias ?? null;
  const h0 = inputs.h0 ?? null;
  const stateOffset = inputs.stateOffset ?? null;
  const op = 'selectiveScan';
  const backend = sameBackend(op, u, delta, A, B, C, D, z, deltaBias, h0, stateOffset);
  const named: [string, Tensor | null][] = [
    ['u', u],
    ['delta', delta],
    ['A', A],
    ['B', B],
    ['C', C],
    ['D', D],
    ['z', z],
    ['deltaBias', deltaBias],
    ['h0', h0],
    ['stateOffset', stateOffset],
  ];
  for (const [name, t] of named) {
    if (t && t.dtype !== 'float32') {
      throw new TensorError(
        op,
        `${name} must be float32 (the scan keeps a float32 state), got ${t.dtype}`,
      );
    }
  }
  if (u.rank !== 3)
    throw new TensorError(op, `u must be (batch, dim, seqlen), got ${fmtShape(u.shape)}`);
  const [batch, dim, seqlen] = u.shape;
  if (A.rank !== 2 || A.shape[0] !== dim) {
    throw new TensorError(op, `A must be (dim=${dim}, dstate), got ${fmtShape(A.shape)}`);
  }
  const dstate = A.shape[1];
  const expect = (name: string, t: Tensor | null, shape: number[], layout: string) => {
    if (t && (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
      throw new TensorError(
        op,
        `${name} must be ${layout} = ${fmtShape(shape)}, got ${fmtShape(t.shape)}`,
      );
    }
  };
  expect('delta', delta, [batch, dim, seqlen], '(batch, dim, seqlen)');
  expect('z', z, [batch, dim, seqlen], '(batch, dim, seqlen)');
  expect('B', B, [batch, dstate, seqlen], '(batch, dstate, seqlen)');
  expect('C', C, [batch, dstate, seqlen], '(batch, dstate, seqlen)');
  expect('D', D, [dim], '(dim)');
  expect('deltaBias', deltaBias, [dim], '(dim)');
  for (const [name, t] of [
    ['h0', h0],
    ['stateOffset', stateOffset],
  ] as const) {
    if (t && t.rank === 3) expect(name, t, [batch, dim, dstate], '(batch, dim, dstate)');
    else expect(name, t, [dim, dstate], '(dim, dstate) or (batch, dim, dstate)');
  }

  const src = named.map(([, t]) => t?.contiguous() ?? null);
  const training = shouldRecord(src);
  // Views are taken again for the backward, so a tensor disposed in between is reported.
  const argsOf = (): ScanArgs => {
    const v = src.map((t) => t?.kernelView() ?? null) as (View | null)[];
    return {
      batch,
      dim,
      seqlen,
      dstate,
      u: v[0] as View,
      delta: v[1] as View,
      A: v[2] as View,
      B: v[3] as View,
      C: v[4] as View,
      D: v[5],
      z: v[6],
      deltaBias: v[7],
      deltaSoftplus: inputs.deltaSoftplus ?? false,
      h0: v[8],
      stateOffset: v[9],
      saveCheckpoints: training,
    };
  };
  const args = argsOf();
  const out = backend.selectiveScan(args);
  const y = wrap(backend, out.y, [batch, dim, seqlen], 'float32');
  const lastState = wrap(backend, out.lastState, [batch, dim, dstate], 'float32');
  if (training && out.saved) {
    const saved = wrap(backend, out.saved, [out.savedSize], 'float32');
    recordMulti(op, src, [y, lastState], (grads) => {
      const [gy, gLast] = grads;
      const dy = gy
        ? gy.contiguous()
        : wrap(backend, backend.allocate('float32', y.size), y.shape, 'float32');
      const g = backend.selectiveScanGrad(
        argsOf(),
        saved.kernelView(),
        dy.kernelView(),
        gLast ? gLast.contiguous().kernelView() : null,
      );
      const shapeOf = (i: number) => (src[i] as Tensor).shape;
      const as = (data: object | null, i: number) =>
        data && src[i] ? wrap(backend, data, shapeOf(i), 'float32') : null;
      return [
        as(g.u, 0),
        as(g.delta, 1),
        as(g.A, 2),
        as(g.B, 3),
        as(g.C, 4),
        as(g.D, 5),
        as(g.z, 6),
        as(g.deltaBias, 7),
        as(g.h0, 8),
        as(g.stateOffset, 9),
      ];
    });
  }
  return { y, lastState };
}
