import { TensorError } from '../errors.js';
import { isShared, poolStats, poolUsable, runParallel, sharedArena } from './pool.js';
import { createScanKernel, type ScanEngine, type ScanJob } from './scan-kernel.js';
import { buildScanWasm, SCAN_ABI } from './scan-wasm.js';

/**
 * CPU selective-scan kernels (forward and backward) as pure functions on row-major typed
 * arrays. The semantics are those of `fixtures/README.md` (section `scan/`); the op layer
 * validates user input and wires these into autograd.
 *
 * The work runs in `scan-kernel.ts`: WebAssembly SIMD kernels (`scan-wasm.ts`; four channels
 * per vector, float32 state, long sums in float64) where the runtime has them, else a JS
 * kernel with float64 state and sums; outputs are float32 either way. Large scans are split
 * over the CPU worker pool (`pool.ts`) by batch entry and block of channels; sums over the
 * batch and over channels go through per-task partial buffers that this file reduces in a
 * fixed order, so results do not depend on the thread count. The backward keeps only the
 * chunk-boundary states saved by the forward and recomputes the states of one chunk at a
 * time, as the CUDA kernel of state-spaces/mamba does, so its memory does not grow with
 * `batch * dim * seqlen * dstate`.
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
const NO_F64 = new Float64Array(0);

/**
 * Chunk length for checkpointing a scan of `seqlen` steps: 64, or `seqlen` when shorter.
 *
 * Recomputation costs one extra forward whatever the chunk length, so the length only
 * trades checkpoint memory (`ceil(seqlen / chunk)` states per channel, kept from forward to
 * backward) against the backward's scratch (the chunk's states and decay factors, reused for
 * every channel). At 64 the scratch for dstate 16 is 16 KiB (JS kernel: float64, one
 * channel) or 32 KiB (WebAssembly: float32, four channels) and stays in L1 while the reverse
 * scan walks it, and checkpoints cost 1/64 of storing every state.
 */
export function scanChunkSize(seqlen: number): number {
  return Math.max(1, Math.min(64, seqlen));
}

/**
 * Channel blocks per batch entry, at most: the tasks threads share. Each task keeps its own
 * dB and dC sums (seqlen x dstate x 2 float64), so more blocks cost memory and reduction
 * time; 16 per batch entry keep 16 threads busy even at batch 1.
 */
const MAX_BLOCKS = 16;
/**
 * Fewer blocks when their dB/dC sums would take more than this (long sequences), but never
 * fewer than 2, so that two threads still share a batch entry.
 */
const MAX_PARTIAL_BYTES = 256 * 2 ** 20;
/**
 * From this many state updates (batch * dim * seqlen * dstate; ~0.5 ms of one thread) a scan
 * is split over threads: below it, staging the arrays in shared memory and waking the
 * workers cost more than they save.
 */
const PARALLEL_MIN_STATES = 1 << 18;

const kernel = createScanKernel(SCAN_ABI);
let wasm: Uint8Array | undefined;
let simdEngine: ScanEngine | undefined;
let jsEngine: ScanEngine | undefined;
let options = { simd: true, parallelMinStates: PARALLEL_MIN_STATES };
let lastRun = { tasks: 0, workerTasks: 0 };

function wasmBytes(): Uint8Array {
  wasm ??= buildScanWasm();
  return wasm;
}

/** This thread's engine: WebAssembly SIMD when allowed and available, else the JS kernel. */
function engine(): ScanEngine {
  if (options.simd) {
    simdEngine ??= kernel.createEngine(wasmBytes());
    if (simdEngine.simd) return simdEngine;
  }
  return fallbackEngine();
}

function fallbackEngine(): ScanEngine {
  jsEngine ??= kernel.createEngine(null);
  return jsEngine;
}

/**
 * For tests and benchmarks: `simd: false` forces the JS kernel (as where WebAssembly SIMD
 * is missing); `parallelMinStates` sets the size from which scans use the worker pool
 * (thread count: `setCpuThreads` in `pool.ts`). Omitted fields are reset to their defaults.
 * Returns whether the WebAssembly SIMD kernel is in use.
 *
 * @internal
 */
export function configureScanKernel(config: {
  simd?: boolean;
  parallelMinStates?: number;
}): boolean {
  options = {
    simd: config.simd ?? true,
    parallelMinStates: config.parallelMinStates ?? PARALLEL_MIN_STATES,
  };
  return engine().simd;
}

/**
 * For tests: the pool's size and workers up, and how the last scan call shared its tasks
 * between the calling thread and the workers (`workerTasks` is 0 when it did not use them).
 *
 * @internal
 */
export function scanWorkerStats(): ReturnType<typeof poolStats> {
  return { ...poolStats(), ...lastRun };
}

/**
 * How a scan is cut into tasks: one batch entry and one block of channels each. It depends
 * on the shape alone, never on the thread count, which is what makes results independent of
 * the thread count.
 */
function plan(shape: ScanShape): { blocks: number; blockDim: number; tasks: number } {
  const { batch, dim, seqlen, dstate } = shape;
  const groups = Math.ceil(dim / 4);
  if (groups === 0 || batch === 0) return { blocks: 0, blockDim: 4, tasks: 0 };
  const partialBytes = batch * seqlen * dstate * 16;
  const byMemory = Math.max(2, Math.floor(MAX_PARTIAL_BYTES / Math.max(1, partialBytes)));
  const blockDim = 4 * Math.ceil(groups / Math.min(MAX_BLOCKS, byMemory, groups));
  const blocks = Math.ceil(dim / blockDim);
  return { blocks, blockDim, tasks: batch * blocks };
}

/**
 * Arrays of a job: inputs as they are (or copied into shared memory), outputs fresh (or in
 * shared memory), so that the same job runs on one thread or on the pool.
 */
class JobArrays {
  private readonly area: SharedArrayBuffer | null;
  private at = 0;

  /**
   * @param shared Carve every array from the pool's shared arena.
   * @param inputs Inputs the job reads (copied unless already shared).
   * @param out32 Lengths of the float32 arrays it writes; `out64`, of the float64 ones.
   */
  constructor(shared: boolean, inputs: (Float32Array | null)[], out32: number[], out64: number[]) {
    if (!shared) {
      this.area = null;
      return;
    }
    const size = (bytes: number) => Math.ceil(bytes / 16) * 16;
    let bytes = 0;
    for (const x of inputs) if (x !== null && !isShared(x)) bytes += size(x.byteLength);
    for (const n of out32) bytes += size(n * 4);
    for (const n of out64) bytes += size(n * 8);
    this.area = sharedArena(bytes);
  }

  private take(bytes: number): number {
    const at = this.at;
    this.at += Math.ceil(bytes / 16) * 16;
    return at;
  }

  input(x: Float32Array | null): Float32Array {
    if (x === null) return NO_VALUES;
    if (this.area === null || isShared(x)) return x;
    const copy = new Float32Array(this.area, this.take(x.byteLength), x.length);
    copy.set(x);
    return copy;
  }

  f32(length: number): Float32Array {
    if (this.area === null) return new Float32Array(length);
    return new Float32Array(this.area, this.take(length * 4), length);
  }

  f64(length: number): Float64Array {
    if (this.area === null) return new Float64Array(length);
    return new Float64Array(this.area, this.take(length * 8), length);
  }
}

/**
 * Runs `job` on the pool when `parallel`, else (or when a thread failed) on this thread. A
 * task writes all of its outputs, so a rerun overwrites whatever a failed run left.
 */
function run(job: ScanJob, parallel: boolean): void {
  const eng = job.simd ? engine() : fallbackEngine();
  lastRun = { tasks: job.tasks, workerTasks: 0 };
  if (parallel) {
    const ok = runParallel('scan', job.simd ? wasmBytes() : null, job, () =>
      kernel.runTasks(eng, job),
    );
    if (ok) {
      lastRun = { tasks: job.tasks, workerTasks: poolStats().workerTasks };
      return;
    }
  }
  try {
    kernel.runAll(eng, job);
  } catch (err) {
    if (!job.simd) throw err;
    // The WebAssembly memory could not grow to this scan's scratch (a very long sequence);
    // the JS kernel allocates its scratch per task from the JS heap.
    kernel.runAll(fallbackEngine(), { ...job, simd: false });
  }
}

/** Whether a scan of `shape` goes to the pool, and whether it runs the SIMD kernel. */
function strategy(shape: ScanShape, tasks: number): { parallel: boolean; simd: boolean } {
  const { batch, dim, seqlen, dstate } = shape;
  const simd = engine().simd && seqlen > 0 && dstate > 0;
  const states = batch * dim * seqlen * dstate;
  const parallel = tasks > 1 && states >= options.parallelMinStates && poolUsable();
  return { parallel, simd };
}

/** The arrays of `inputs`, in the order {@link baseJob} stages them. */
function inputArrays(inputs: ScanInputs): (Float32Array | null)[] {
  const { u, delta, z, A, B, C, D, deltaBias, h0, stateOffset } = inputs;
  return [u, delta, z, A, B, C, D, deltaBias, h0, stateOffset];
}

/** The part of a job both directions share. */
function baseJob(
  inputs: ScanInputs,
  arrays: JobArrays,
  chunk: number,
  simd: boolean,
  tasks: number,
  parallel: boolean,
) {
  const { batch, dim, seqlen, dstate } = inputs.shape;
  const { blocks, blockDim } = plan(inputs.shape);
  return {
    sync: new Int32Array(parallel ? new SharedArrayBuffer(3 * 4) : new ArrayBuffer(3 * 4)),
    tasks,
    simd,
    batch,
    dim,
    seqlen,
    dstate,
    chunk,
    nChunks: Math.ceil(seqlen / chunk),
    blocks,
    blockDim,
    softplus: inputs.deltaSoftplus,
    hasD: inputs.D !== null,
    hasZ: inputs.z !== null,
    hasBias: inputs.deltaBias !== null,
    hasH0: inputs.h0 !== null,
    hasOffset: inputs.stateOffset !== null,
    h0PerBatch: inputs.h0PerBatch,
    offsetPerBatch: inputs.offsetPerBatch,
    u: arrays.input(inputs.u),
    delta: arrays.input(inputs.delta),
    z: arrays.input(inputs.z),
    A: arrays.input(inputs.A),
    B: arrays.input(inputs.B),
    C: arrays.input(inputs.C),
    D: arrays.input(inputs.D),
    bias: arrays.input(inputs.deltaBias),
    h0: arrays.input(inputs.h0),
    offset: arrays.input(inputs.stateOffset),
  };
}

/** A copy in ordinary memory of an array that may sit in the shared arena. */
const own = (x: Float32Array): Float32Array => (isShared(x) ? x.slice() : x);

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
  const { tasks } = plan(inputs.shape);
  const { parallel, simd } = strategy(inputs.shape, tasks);

  const bdl = batch * dim * L;
  const arrays = new JobArrays(
    parallel,
    inputArrays(inputs),
    [bdl, batch * dim * N, save ? batch * dim * nChunks * N : 0],
    [],
  );
  const job: ScanJob = {
    ...baseJob(inputs, arrays, chunk, simd, tasks, parallel),
    backward: false,
    save,
    hasDLast: false,
    y: arrays.f32(bdl),
    lastState: arrays.f32(batch * dim * N),
    checkpoints: arrays.f32(save ? batch * dim * nChunks * N : 0),
    dout: NO_VALUES,
    dLast: NO_VALUES,
    du: NO_VALUES,
    ddelta: NO_VALUES,
    dz: NO_VALUES,
    dA: NO_F64,
    dD: NO_F64,
    dBias: NO_F64,
    dh0: NO_F64,
    dOff: NO_F64,
    dBC: NO_F64,
  };
  run(job, parallel);
  return {
    y: own(job.y),
    lastState: own(job.lastState),
    checkpoints: own(job.checkpoints),
    chunkSize: chunk,
  };
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
  const { blocks, tasks } = plan(inputs.shape);
  const { parallel, simd } = strategy(inputs.shape, tasks);
  const hasZ = inputs.z !== null;
  const hasH0 = inputs.h0 !== null;
  const hasOffset = inputs.stateOffset !== null;

  const bdl = batch * dim * L;
  const bdn = batch * dim * N;
  const partialBC = batch * blocks * L * N * 2;
  const arrays = new JobArrays(
    parallel,
    [...inputArrays(inputs), checkpoints, dout, dLastState],
    [bdl, bdl, hasZ ? bdl : 0],
    [bdn, batch * dim, batch * dim, hasH0 ? bdn : 0, hasOffset ? bdn : 0, partialBC],
  );
  const job: ScanJob = {
    ...baseJob(inputs, arrays, chunk, simd, tasks, parallel),
    backward: true,
    save: false,
    hasDLast: dLastState !== null,
    y: NO_VALUES,
    lastState: NO_VALUES,
    checkpoints: arrays.input(checkpoints),
    dout: arrays.input(dout),
    dLast: arrays.input(dLastState),
    du: arrays.f32(bdl),
    ddelta: arrays.f32(bdl),
    dz: arrays.f32(hasZ ? bdl : 0),
    dA: arrays.f64(bdn),
    dD: arrays.f64(batch * dim),
    dBias: arrays.f64(batch * dim),
    dh0: arrays.f64(hasH0 ? bdn : 0),
    dOff: arrays.f64(hasOffset ? bdn : 0),
    dBC: arrays.f64(partialBC),
  };
  run(job, parallel);

  // Reductions in a fixed order: over the batch (b ascending) and over channel blocks.
  const sumBatch = (perBatch: Float64Array, length: number): Float32Array => {
    const out = new Float32Array(length);
    for (let i = 0; i < length; i++) {
      let s = 0;
      for (let b = 0; b < batch; b++) s += perBatch[b * length + i];
      out[i] = s;
    }
    return out;
  };
  const sumBlocks = (which: 0 | 1): Float32Array => {
    const out = new Float32Array(batch * N * L);
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < L; t++) {
        for (let n = 0; n < N; n++) {
          let s = 0;
          for (let k = 0; k < blocks; k++)
            s += job.dBC[(((b * blocks + k) * L + t) * N + n) * 2 + which];
          out[(b * N + n) * L + t] = s;
        }
      }
    }
    return out;
  };
  const stateGrad = (perBatch: Float64Array, present: boolean, byBatch: boolean) => {
    if (!present) return null;
    return byBatch ? Float32Array.from(perBatch) : sumBatch(perBatch, dim * N);
  };
  return {
    du: own(job.du),
    ddelta: own(job.ddelta),
    dA: sumBatch(job.dA, dim * N),
    dB: sumBlocks(0),
    dC: sumBlocks(1),
    dD: inputs.D !== null ? sumBatch(job.dD, dim) : null,
    dz: hasZ ? own(job.dz) : null,
    ddeltaBias: inputs.deltaBias !== null ? sumBatch(job.dBias, dim) : null,
    dh0: stateGrad(job.dh0, hasH0, inputs.h0PerBatch),
    dStateOffset: stateGrad(job.dOff, hasOffset, inputs.offsetPerBatch),
  };
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
