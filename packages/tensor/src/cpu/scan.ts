import { TensorError } from '../errors.js';

/**
 * CPU selective-scan kernels (forward and backward) as pure functions on row-major typed
 * arrays. The semantics are those of `fixtures/README.md` (section `scan/`); the op layer
 * validates user input and wires these into autograd.
 *
 * State and every sum are kept in float64; outputs are written as float32. The backward
 * keeps only the chunk-boundary states saved by the forward and recomputes the states of
 * one chunk at a time, as the CUDA kernel of state-spaces/mamba does, so its memory does not
 * grow with `batch * dim * seqlen * dstate`.
 */

/** Sizes of a selective scan. */
export interface ScanShape {
  batch: number;
  dim: number;
  seqlen: number;
  dstate: number;
}

/**
 * Inputs of a selective scan, row-major: `u, delta, z` (batch, dim, seqlen); `A` (dim, dstate);
 * `B, C` (batch, dstate, seqlen); `D, deltaBias` (dim); `h0` and `stateOffset` either
 * (dim, dstate), shared by the batch, or (batch, dim, dstate) when the matching `...PerBatch`
 * flag is set. Optional inputs are `null` when absent.
 */
export interface ScanInputs {
  shape: ScanShape;
  u: Float32Array;
  delta: Float32Array;
  A: Float32Array;
  B: Float32Array;
  C: Float32Array;
  D: Float32Array | null;
  z: Float32Array | null;
  deltaBias: Float32Array | null;
  /** Apply softplus (PyTorch's, threshold 20) to `delta + deltaBias`. */
  deltaSoftplus: boolean;
  /** Initial state `h_{-1}`; zero when `null`. */
  h0: Float32Array | null;
  /** `h0` is (batch, dim, dstate) rather than (dim, dstate). */
  h0PerBatch: boolean;
  /** Added to the state when it is read out (`y = C (h + offset)`); never enters the recurrence. */
  stateOffset: Float32Array | null;
  /** `stateOffset` is (batch, dim, dstate) rather than (dim, dstate). */
  offsetPerBatch: boolean;
}

/** What {@link selectiveScanForward} returns. */
export interface ScanForwardResult {
  /** Output (batch, dim, seqlen), gated by `silu(z)` when `z` is given. */
  y: Float32Array;
  /** State after the last step, without the offset: (batch, dim, dstate). */
  lastState: Float32Array;
  /**
   * The state entering each chunk, (batch, dim, nChunks, dstate) with
   * `nChunks = ceil(seqlen / chunkSize)`; chunk 0 holds `h0` (or zeros). Empty unless the
   * forward ran with `saveCheckpoints`.
   */
  checkpoints: Float32Array;
  /** Chunk length the checkpoints were taken at. */
  chunkSize: number;
}

/**
 * Gradients of `sum(out * dout) + sum(lastState * dLastState)` with respect to every input,
 * each in its input's layout; `null` where the input is `null`. `dh0` and `dStateOffset` are
 * summed over the batch when the input is shared by it.
 */
export interface ScanGrads {
  du: Float32Array;
  ddelta: Float32Array;
  dA: Float32Array;
  dB: Float32Array;
  dC: Float32Array;
  dD: Float32Array | null;
  dz: Float32Array | null;
  ddeltaBias: Float32Array | null;
  dh0: Float32Array | null;
  dStateOffset: Float32Array | null;
}

const NO_VALUES = new Float32Array(0);

/**
 * Chunk length for checkpointing a scan of `seqlen` steps: 64, or `seqlen` when shorter.
 *
 * Recomputation costs one extra forward whatever the chunk length, so the length only
 * trades checkpoint memory (`ceil(seqlen / chunk)` states per channel, kept from forward to
 * backward) against the backward's scratch (`2 * chunk * dstate` float64 states and decay
 * factors, reused for every channel). At 64 the scratch for dstate 16 is 16 KiB and stays in
 * L1 while the reverse scan walks it, and checkpoints cost 1/64 of storing every state.
 */
export function scanChunkSize(seqlen: number): number {
  return Math.max(1, Math.min(64, seqlen));
}

/**
 * Forward selective scan.
 *
 * @param options.saveCheckpoints Keep the chunk-boundary states that
 *   {@link selectiveScanBackward} needs (default `false`: inference).
 * @param options.chunkSize Checkpoint chunk length (default {@link scanChunkSize}).
 * @throws Error when an array's length does not match `inputs.shape`.
 */
export function selectiveScanForward(
  inputs: ScanInputs,
  options?: { saveCheckpoints?: boolean; chunkSize?: number },
): ScanForwardResult {
  const op = 'selectiveScanForward';
  checkInputs(op, inputs);
  const { batch, dim, seqlen: L, dstate: N } = inputs.shape;
  const save = options?.saveCheckpoints ?? false;
  const chunk = checkChunkSize(op, options?.chunkSize ?? scanChunkSize(L));
  const nChunks = Math.ceil(L / chunk);

  const { u, delta, A, h0PerBatch, offsetPerBatch, deltaSoftplus } = inputs;
  const D = inputs.D ?? NO_VALUES;
  const z = inputs.z ?? NO_VALUES;
  const bias = inputs.deltaBias ?? NO_VALUES;
  const h0 = inputs.h0 ?? NO_VALUES;
  const offset = inputs.stateOffset ?? NO_VALUES;
  const hasD = inputs.D !== null;
  const hasZ = inputs.z !== null;
  const hasBias = inputs.deltaBias !== null;
  const hasH0 = inputs.h0 !== null;
  const hasOffset = inputs.stateOffset !== null;

  const Bt = transposeLastTwo(inputs.B, batch, N, L);
  const Ct = transposeLastTwo(inputs.C, batch, N, L);
  const y = new Float32Array(batch * dim * L);
  const lastState = new Float32Array(batch * dim * N);
  const checkpoints = new Float32Array(save ? batch * dim * nChunks * N : 0);
  const h = new Float64Array(N);
  const aRow = new Float64Array(N);
  const offRow = new Float64Array(N);

  for (let b = 0; b < batch; b++) {
    const btBase = b * L * N;
    for (let d = 0; d < dim; d++) {
      const bd = b * dim + d;
      const row = bd * L;
      const dSkip = hasD ? D[d] : 0;
      const dtBias = hasBias ? bias[d] : 0;
      for (let n = 0; n < N; n++) aRow[n] = A[d * N + n];
      const h0Base = (h0PerBatch ? bd : d) * N;
      for (let n = 0; n < N; n++) h[n] = hasH0 ? h0[h0Base + n] : 0;
      const offBase = (offsetPerBatch ? bd : d) * N;
      for (let n = 0; n < N; n++) offRow[n] = hasOffset ? offset[offBase + n] : 0;

      for (let c = 0; c < nChunks; c++) {
        if (save) {
          const cp = (bd * nChunks + c) * N;
          for (let n = 0; n < N; n++) checkpoints[cp + n] = h[n];
        }
        const tEnd = Math.min(L, (c + 1) * chunk);
        for (let t = c * chunk; t < tEnd; t++) {
          const dt = deltaToDt(delta[row + t] + dtBias, deltaSoftplus);
          const ut = u[row + t];
          const dtu = dt * ut;
          const bc = btBase + t * N;
          let acc = 0;
          for (let n = 0; n < N; n++) {
            const hn = Math.exp(dt * aRow[n]) * h[n] + dtu * Bt[bc + n];
            h[n] = hn;
            acc += Ct[bc + n] * (hn + offRow[n]);
          }
          let yt = acc + dSkip * ut;
          if (hasZ) {
            const zt = z[row + t];
            yt *= zt / (1 + Math.exp(-zt));
          }
          y[row + t] = yt;
        }
      }
      for (let n = 0; n < N; n++) lastState[bd * N + n] = h[n];
    }
  }
  return { y, lastState, checkpoints, chunkSize: chunk };
}

/**
 * Backward selective scan: the gradients of `sum(out * dout) + sum(lastState * dLastState)`.
 *
 * Walks the chunks of each channel in reverse: recomputes the chunk's states from its
 * checkpoint into a scratch buffer, then runs the adjoint scan through it, recomputing the
 * pre-gate output on the way (the forward stores neither).
 *
 * @param forward The `checkpoints` and `chunkSize` of a forward run with `saveCheckpoints`.
 * @param dout Gradient of the output, (batch, dim, seqlen).
 * @param dLastState Gradient of `lastState`, (batch, dim, dstate), or `null` for zero.
 * @throws Error when an array's length does not match `inputs.shape`.
 */
export function selectiveScanBackward(
  inputs: ScanInputs,
  forward: { checkpoints: Float32Array; chunkSize: number },
  dout: Float32Array,
  dLastState: Float32Array | null,
): ScanGrads {
  const op = 'selectiveScanBackward';
  checkInputs(op, inputs);
  const { batch, dim, seqlen: L, dstate: N } = inputs.shape;
  const chunk = checkChunkSize(op, forward.chunkSize);
  const nChunks = Math.ceil(L / chunk);
  const { checkpoints } = forward;
  if (checkpoints.length !== batch * dim * nChunks * N) {
    throw new TensorError(
      op,
      `checkpoints has length ${checkpoints.length}, expected ${batch * dim * nChunks * N} ` +
        `(batch*dim*ceil(seqlen/chunkSize)*dstate); run selectiveScanForward with saveCheckpoints`,
    );
  }
  checkLength(op, 'dout', dout, batch * dim * L, 'batch*dim*seqlen');
  if (dLastState !== null) {
    checkLength(op, 'dLastState', dLastState, batch * dim * N, 'batch*dim*dstate');
  }

  const { u, delta, A, h0PerBatch, offsetPerBatch, deltaSoftplus } = inputs;
  const D = inputs.D ?? NO_VALUES;
  const z = inputs.z ?? NO_VALUES;
  const bias = inputs.deltaBias ?? NO_VALUES;
  const offset = inputs.stateOffset ?? NO_VALUES;
  const dLast = dLastState ?? NO_VALUES;
  const hasD = inputs.D !== null;
  const hasZ = inputs.z !== null;
  const hasBias = inputs.deltaBias !== null;
  const hasOffset = inputs.stateOffset !== null;
  const hasDLast = dLastState !== null;

  const Bt = transposeLastTwo(inputs.B, batch, N, L);
  const Ct = transposeLastTwo(inputs.C, batch, N, L);

  // Written once per element.
  const du = new Float32Array(batch * dim * L);
  const ddelta = new Float32Array(batch * dim * L);
  const dz = hasZ ? new Float32Array(batch * dim * L) : NO_VALUES;
  // Summed over channels or the batch, so accumulated in float64; dB and dC as (batch, seqlen, dstate).
  const dBt = new Float64Array(batch * L * N);
  const dCt = new Float64Array(batch * L * N);
  const dAacc = new Float64Array(dim * N);
  const dDacc = new Float64Array(dim);
  const dBiasAcc = new Float64Array(dim);
  const dh0Acc = inputs.h0 !== null ? new Float64Array(inputs.h0.length) : null;
  const dOffAcc = hasOffset ? new Float64Array(offset.length) : null;

  // Per-channel scratch, reused for every channel. hs[k] is the state entering step k of the
  // chunk, so it holds chunk + 1 states.
  const span = Math.min(chunk, L);
  const hs = new Float64Array((span + 1) * N);
  const decay = new Float64Array(span * N);
  const dtBuf = new Float64Array(span);
  const dtGrad = new Float64Array(span);
  const g = new Float64Array(N);
  const aRow = new Float64Array(N);
  const offRow = new Float64Array(N);
  const dOffRow = new Float64Array(N);

  for (let b = 0; b < batch; b++) {
    const btBase = b * L * N;
    for (let d = 0; d < dim; d++) {
      const bd = b * dim + d;
      const row = bd * L;
      const dSkip = hasD ? D[d] : 0;
      const dtBias = hasBias ? bias[d] : 0;
      const aBase = d * N;
      for (let n = 0; n < N; n++) aRow[n] = A[aBase + n];
      const offBase = (offsetPerBatch ? bd : d) * N;
      for (let n = 0; n < N; n++) offRow[n] = hasOffset ? offset[offBase + n] : 0;
      dOffRow.fill(0);
      // g carries dL/dh of the step after the current one; it starts as dL/d(lastState).
      for (let n = 0; n < N; n++) g[n] = hasDLast ? dLast[bd * N + n] : 0;
      let dDSum = 0;
      let dBiasSum = 0;

      for (let c = nChunks - 1; c >= 0; c--) {
        const t0 = c * chunk;
        const len = Math.min(L, t0 + chunk) - t0;

        const cp = (bd * nChunks + c) * N;
        for (let n = 0; n < N; n++) hs[n] = checkpoints[cp + n];
        for (let k = 0; k < len; k++) {
          const t = t0 + k;
          const v = delta[row + t] + dtBias;
          const dt = deltaToDt(v, deltaSoftplus);
          dtBuf[k] = dt;
          dtGrad[k] = deltaSoftplus ? (v > 20 ? 1 : 1 / (1 + Math.exp(-v))) : 1;
          const dtu = dt * u[row + t];
          const bc = btBase + t * N;
          const prev = k * N;
          const next = prev + N;
          for (let n = 0; n < N; n++) {
            const a = Math.exp(dt * aRow[n]);
            decay[prev + n] = a;
            hs[next + n] = a * hs[prev + n] + dtu * Bt[bc + n];
          }
        }

        for (let k = len - 1; k >= 0; k--) {
          const t = t0 + k;
          const ut = u[row + t];
          const dt = dtBuf[k];
          const bc = btBase + t * N;
          const prev = k * N;
          const next = prev + N;

          let dy = dout[row + t];
          if (hasZ) {
            let yPre = dSkip * ut;
            for (let n = 0; n < N; n++) yPre += Ct[bc + n] * (hs[next + n] + offRow[n]);
            const zt = z[row + t];
            const sig = 1 / (1 + Math.exp(-zt));
            dz[row + t] = dy * yPre * sig * (1 + zt * (1 - sig));
            dy *= zt * sig;
          }
          dDSum += dy * ut;

          let dtSum = 0;
          let dBu = 0;
          const dtu = dt * ut;
          for (let n = 0; n < N; n++) {
            const cn = Ct[bc + n];
            const bn = Bt[bc + n];
            const a = decay[prev + n];
            const gn = g[n] + dy * cn;
            dCt[bc + n] += dy * (hs[next + n] + offRow[n]);
            dOffRow[n] += dy * cn;
            dBt[bc + n] += gn * dtu;
            dBu += gn * bn;
            const gha = gn * hs[prev + n] * a;
            dtSum += gha * aRow[n];
            dAacc[aBase + n] += gha * dt;
            g[n] = gn * a;
          }
          dtSum += dBu * ut;
          du[row + t] = dy * dSkip + dBu * dt;
          const dv = dtSum * dtGrad[k];
          ddelta[row + t] = dv;
          dBiasSum += dv;
        }
      }

      dDacc[d] += dDSum;
      dBiasAcc[d] += dBiasSum;
      if (dh0Acc !== null) {
        const base = (h0PerBatch ? bd : d) * N;
        for (let n = 0; n < N; n++) dh0Acc[base + n] += g[n];
      }
      if (dOffAcc !== null) {
        for (let n = 0; n < N; n++) dOffAcc[offBase + n] += dOffRow[n];
      }
    }
  }

  return {
    du,
    ddelta,
    dA: Float32Array.from(dAacc),
    dB: transposeToFloat32(dBt, batch, L, N),
    dC: transposeToFloat32(dCt, batch, L, N),
    dD: hasD ? Float32Array.from(dDacc) : null,
    dz: hasZ ? dz : null,
    ddeltaBias: hasBias ? Float32Array.from(dBiasAcc) : null,
    dh0: dh0Acc !== null ? Float32Array.from(dh0Acc) : null,
    dStateOffset: dOffAcc !== null ? Float32Array.from(dOffAcc) : null,
  };
}

/** PyTorch's softplus (threshold 20) when `softplus`, else the identity. */
function deltaToDt(v: number, softplus: boolean): number {
  return softplus && v <= 20 ? Math.log1p(Math.exp(v)) : v;
}

/** (batch, rows, cols) float32 to (batch, cols, rows) float64. */
function transposeLastTwo(
  src: Float32Array,
  batch: number,
  rows: number,
  cols: number,
): Float64Array {
  const out = new Float64Array(batch * rows * cols);
  for (let b = 0; b < batch; b++) {
    const base = b * rows * cols;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) out[base + c * rows + r] = src[base + r * cols + c];
    }
  }
  return out;
}

/** (batch, rows, cols) float64 to (batch, cols, rows) float32. */
function transposeToFloat32(
  src: Float64Array,
  batch: number,
  rows: number,
  cols: number,
): Float32Array {
  const out = new Float32Array(batch * rows * cols);
  for (let b = 0; b < batch; b++) {
    const base = b * rows * cols;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) out[base + c * rows + r] = src[base + r * cols + c];
    }
  }
  return out;
}

function checkChunkSize(op: string, chunkSize: number): number {
  if (!Number.isInteger(chunkSize) || chunkSize < 1) {
    throw new TensorError(op, `chunkSize must be a positive integer, got ${chunkSize}`);
  }
  return chunkSize;
}

function checkLength(
  op: string,
  name: string,
  array: Float32Array,
  expected: number,
  formula: string,
): void {
  if (array.length !== expected) {
    throw new TensorError(
      op,
      `${name} has length ${array.length}, expected ${expected} (${formula})`,
    );
  }
}

function checkInputs(op: string, inputs: ScanInputs): void {
  const { batch, dim, seqlen, dstate } = inputs.shape;
  const bdl = batch * dim * seqlen;
  const bnl = batch * dstate * seqlen;
  checkLength(op, 'u', inputs.u, bdl, 'batch*dim*seqlen');
  checkLength(op, 'delta', inputs.delta, bdl, 'batch*dim*seqlen');
  checkLength(op, 'A', inputs.A, dim * dstate, 'dim*dstate');
  checkLength(op, 'B', inputs.B, bnl, 'batch*dstate*seqlen');
  checkLength(op, 'C', inputs.C, bnl, 'batch*dstate*seqlen');
  if (inputs.D !== null) checkLength(op, 'D', inputs.D, dim, 'dim');
  if (inputs.z !== null) checkLength(op, 'z', inputs.z, bdl, 'batch*dim*seqlen');
  if (inputs.deltaBias !== null) checkLength(op, 'deltaBias', inputs.deltaBias, dim, 'dim');
  if (inputs.h0 !== null) {
    const [expected, formula] = inputs.h0PerBatch
      ? [batch * dim * dstate, 'batch*dim*dstate']
      : [dim * dstate, 'dim*dstate'];
    checkLength(op, 'h0', inputs.h0, expected, formula);
  }
  if (inputs.stateOffset !== null) {
    const [expected, formula] = inputs.offsetPerBatch
      ? [batch * dim * dstate, 'batch*dim*dstate']
      : [dim * dstate, 'dim*dstate'];
    checkLength(op, 'stateOffset', inputs.stateOffset, expected, formula);
  }
}
