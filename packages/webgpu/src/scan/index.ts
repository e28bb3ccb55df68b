import { TensorError } from '@statetune/tensor';
import { type ScanShaderPart, scanShader } from './shaders.js';

/**
 * The WebGPU selective scan (forward and backward) of Mamba, with the semantics of the
 * fixtures README: fused softplus, delta bias, D skip and silu(z) gate, an optional initial
 * state `h0` and an optional state offset (State-offset Tuning), float32 state.
 *
 * Layout of the work: a workgroup holds CH channels of one batch entry with one invocation per
 * state element, so the sums over the state axis (the output, and two sums of the backward)
 * are reductions within a channel's invocations: subgroup shuffles when enabled, else
 * workgroup memory. The time axis is cut into chunks of {@link SCAN_CHUNK} steps; the forward
 * saves the state entering each chunk, and the backward walks chunks in reverse, recomputing
 * a chunk's states from its checkpoint before running the adjoint recurrence through them,
 * so its memory is the checkpoints, not every state. When batch x channel groups give too few
 * workgroups to fill a GPU, the sequence is also cut into segments of whole chunks that run in
 * parallel: a first pass scans each segment from zero and keeps (product of decays, end
 * value), from which every segment gets its true entering state (forward) or incoming
 * gradient (backward). Sums across channels (dB, dC) and across the batch and time (dA, dD,
 * ddeltaBias, dh0 and dstateOffset when shared by the batch) go through per-group partials and
 * a reduction pass in a fixed order, never float atomics, so results are deterministic.
 *
 * Every kernel binds at most eight storage buffers (the WebGPU default limit): the small
 * inputs are packed into one work buffer, and the backward works in place in its own outputs.
 */

/** Time steps between two saved states; mirrors `CHUNK` in `common.wgsl`. */
export const SCAN_CHUNK = 32;

/** The largest `dstate` the kernels take (one channel's states must fit in one workgroup). */
export const SCAN_MAX_DSTATE = 256;

/**
 * Below this many workgroups (batch x channel groups, or x channel slots in the backward)
 * the sequence is cut into segments that run in parallel; above it, segments would only add
 * the cost of their first pass.
 */
const TARGET_WORKGROUPS = 1024;

/**
 * Bounds on the backward's dB/dC partial sums, (batch, slots, seqlen, dstate, 2) floats: at
 * most the size of one (batch, dim, seqlen) gradient, but never less than MIN (small problems
 * keep a slot per channel group), and never more than MAX.
 */
const MIN_PARTIAL_BYTES = 4 * 2 ** 20;
const MAX_PARTIAL_BYTES = 256 * 2 ** 20;

/** Uniform buffers kept for reuse (same shapes and flags give the same parameters). */
const MAX_CACHED_UNIFORMS = 256;

/** The kernels that take their state element from cell.wgsl (one time segment per workgroup). */
const CELL_KERNELS: ReadonlySet<ScanShaderPart> = new Set([
  'forward',
  'forward-carry',
  'backward-carry',
]);

// GPUBufferUsage, numerically, so that Node needs no globals.
const USAGE_STORAGE = 0x80;
const USAGE_UNIFORM = 0x40;

/** Hands out storage buffers (usage STORAGE at least), possibly larger than asked, and takes them back. */
export interface ScanAllocator {
  /** A buffer of at least `bytes` bytes, contents undefined. */
  alloc(bytes: number): GPUBuffer;
  /** Takes back a buffer from {@link ScanAllocator.alloc}; work recorded before still may use it. */
  release(buffer: GPUBuffer): void;
}

/**
 * Inputs of a scan: contiguous float32 from byte 0, laid out as `ScanArgs` of
 * @statetune/tensor: `u, delta, z` (batch, dim, seqlen); `A` (dim, dstate); `B, C`
 * (batch, dstate, seqlen); `D, deltaBias` (dim); `h0` and `stateOffset` (dim, dstate), or
 * (batch, dim, dstate) when the matching `...Batched` flag is set. Absent inputs are `null`.
 */
export interface ScanGpuInputs {
  batch: number;
  dim: number;
  seqlen: number;
  dstate: number;
  u: GPUBuffer;
  delta: GPUBuffer;
  A: GPUBuffer;
  B: GPUBuffer;
  C: GPUBuffer;
  D: GPUBuffer | null;
  z: GPUBuffer | null;
  deltaBias: GPUBuffer | null;
  h0: GPUBuffer | null;
  h0Batched: boolean;
  stateOffset: GPUBuffer | null;
  stateOffsetBatched: boolean;
  /** Apply softplus (PyTorch's, threshold 20) to `delta + deltaBias`. */
  deltaSoftplus: boolean;
  /** Keep what the backward needs (the chunk-boundary states) in `saved`. */
  saveCheckpoints: boolean;
}

/** Outputs of {@link WebGpuScan.forward}, owned by the caller. */
export interface ScanGpuForward {
  /** (batch, dim, seqlen) */
  y: GPUBuffer;
  /** (batch, dim, dstate): the state after the last step, without the offset. */
  lastState: GPUBuffer;
  /**
   * The float32 states entering each chunk of {@link SCAN_CHUNK} steps plus the last state,
   * (ceil(seqlen / SCAN_CHUNK) + 1, batch, dim, dstate); `null` without `saveCheckpoints`.
   */
  saved: GPUBuffer | null;
  /** Elements of `saved` (0 when it is `null`). */
  savedSize: number;
}

/** Gradients of {@link WebGpuScan.backward}, each in its input's shape, owned by the caller; `null` for absent inputs. */
export interface ScanGpuGrads {
  u: GPUBuffer;
  delta: GPUBuffer;
  A: GPUBuffer;
  B: GPUBuffer;
  C: GPUBuffer;
  D: GPUBuffer | null;
  z: GPUBuffer | null;
  deltaBias: GPUBuffer | null;
  /** In `h0`'s own shape: summed over the batch unless `h0Batched`. */
  h0: GPUBuffer | null;
  /** In `stateOffset`'s own shape: summed over the batch unless `stateOffsetBatched`. */
  stateOffset: GPUBuffer | null;
}

/** Options of {@link WebGpuScan}. */
export interface WebGpuScanOptions {
  /**
   * Sum over the state axis with subgroup operations; used only when the device has the
   * `subgroups` feature enabled, else (and when false) through workgroup memory.
   */
  subgroups: boolean;
  /**
   * Chunks per time segment, overriding the choice made from the shape (mainly for tests:
   * 1 cuts the sequence into as many segments as chunks, a large value into one).
   */
  segmentChunks?: number;
  /**
   * Workgroups that share the channel groups of a batch entry in the backward, overriding the
   * choice made from the shape and the partial-sum memory bound (mainly for tests).
   */
  channelSlots?: number;
}

/** How one call is cut up; everything the kernels' uniforms hold but the work offsets. */
interface Plan {
  batch: number;
  dim: number;
  seqlen: number;
  dstate: number;
  /** dstate rounded up to a power of two: invocations per channel. */
  npad: number;
  /** Channels per workgroup. */
  ch: number;
  /** Channel groups: ceil(dim / ch). */
  groups: number;
  nChunks: number;
  segChunks: number;
  nSeg: number;
  /** Backward: workgroups per batch entry sharing the channel groups. */
  slots: number;
  flags: number;
}

/** Offsets (in floats) of the regions of the work buffer; 0 for absent ones. */
interface Work {
  A: number;
  D: number;
  bias: number;
  h0: number;
  off: number;
  dLast: number;
  sum: number;
  pA: number;
  pOff: number;
  pD: number;
  pBias: number;
  pH0: number;
  pBC: number;
  /** Total floats. */
  size: number;
}

// Bits of `Scan.flags` in common.wgsl.
const F_SOFTPLUS = 1;
const F_D = 2;
const F_Z = 4;
const F_BIAS = 8;
const F_H0 = 16;
const F_OFF = 32;
const F_H0_BATCHED = 64;
const F_OFF_BATCHED = 128;
const F_SAVE = 256;
const F_DLAST = 512;

const nextPow2 = (x: number) => 2 ** Math.ceil(Math.log2(x));

/** Workgroups for `n` invocations of a 64-wide elementwise kernel (see `flat_index`). */
function flatGrid(n: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / 64));
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x), 1];
}

/** A growing layout of float regions. */
class Layout {
  size = 0;
  take(floats: number): number {
    const at = this.size;
    this.size += floats;
    return at;
  }
}

/**
 * The selective-scan kernels for one device: compiles pipelines per specialisation on first
 * use and records forward and backward passes into a caller's command encoder.
 */
export class WebGpuScan {
  /** Whether the state-axis sums use subgroup operations (requested and enabled on the device). */
  readonly subgroups: boolean;
  private readonly device: GPUDevice;
  private readonly subgroupMin: number;
  private readonly segmentChunks: number | undefined;
  private readonly channelSlots: number | undefined;
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly uniforms = new Map<string, GPUBuffer>();
  private dummyRead: GPUBuffer | null = null;
  private readonly dummyWrites: GPUBuffer[] = [];

  /**
   * @param device The device the buffers live on.
   * @param options `subgroups`: use subgroup reductions when the device has the feature;
   *   `segmentChunks` and `channelSlots` override how work is cut (tests and tuning).
   */
  constructor(device: GPUDevice, options: WebGpuScanOptions) {
    this.device = device;
    this.subgroups = options.subgroups && device.features.has('subgroups');
    const info = (device as { adapterInfo?: { subgroupMinSize?: number } }).adapterInfo;
    // 4 is the smallest subgroup size WebGPU allows; use it when the device does not say.
    this.subgroupMin = Math.max(4, info?.subgroupMinSize ?? 4);
    for (const [name, value] of [
      ['segmentChunks', options.segmentChunks],
      ['channelSlots', options.channelSlots],
    ] as const) {
      if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
        throw new TensorError('WebGpuScan', `${name} must be a positive integer, got ${value}`);
      }
    }
    this.segmentChunks = options.segmentChunks;
    this.channelSlots = options.channelSlots;
  }

  /**
   * Records the forward scan into `encoder`. Outputs come from `allocator` and belong to the
   * caller; temporaries are released to it once recorded.
   *
   * @throws TensorError naming the field when an input is missing, too small or inconsistent.
   */
  forward(
    encoder: GPUCommandEncoder,
    inputs: ScanGpuInputs,
    allocator: ScanAllocator,
  ): ScanGpuForward {
    const op = 'WebGpuScan.forward';
    checkInputs(op, inputs);
    const plan = this.plan(inputs, false, false, 1);
    const { batch, dim, seqlen, dstate, nChunks, nSeg } = plan;
    const bdn = batch * dim * dstate;
    const lay = new Layout();
    const work = this.packInputs(lay, inputs, false);
    work.sum = nSeg > 1 ? lay.take(batch * dim * nSeg * dstate * 2) : 0;
    work.size = lay.size;

    const save = inputs.saveCheckpoints;
    const savedSize = save ? (nChunks + 1) * bdn : 0;
    this.checkBinding(op, 'saved states', savedSize * 4);
    this.checkBinding(op, 'work buffer', work.size * 4);
    const y = allocator.alloc(batch * dim * seqlen * 4);
    const lastState = allocator.alloc(bdn * 4);
    const saved = save ? allocator.alloc(savedSize * 4) : null;
    const workBuf = allocator.alloc(Math.max(1, work.size) * 4);
    const uniform = this.scanUniform(plan, work, save ? nChunks : 0);

    const pass = encoder.beginComputePass({ label: 'selective scan forward' });
    this.packCopies(pass, inputs, work, workBuf, false, null);
    if (nSeg > 1) {
      this.dispatch(
        pass,
        this.channelKernel('forward-carry', plan, false),
        uniform,
        [inputs.u, inputs.delta, inputs.B, workBuf],
        [plan.groups, nSeg - 1, batch],
      );
    }
    this.dispatch(
      pass,
      this.channelKernel('forward', plan, true),
      uniform,
      [
        inputs.u,
        inputs.delta,
        inputs.z ?? this.dummy(false),
        inputs.B,
        inputs.C,
        workBuf,
        y,
        saved ?? lastState,
      ],
      [plan.groups, nSeg, batch],
    );
    if (saved) this.copy(pass, saved, nChunks * bdn, lastState, 0, bdn);
    pass.end();
    allocator.release(workBuf);
    return { y, lastState, saved, savedSize };
  }

  /**
   * Records the backward scan into `encoder`: the gradients of
   * `sum(y * dy) + sum(lastState * dLastState)` with respect to every input.
   *
   * @param saved The `saved` buffer of a forward run with `saveCheckpoints` on these inputs.
   * @param dy Gradient of `y`, (batch, dim, seqlen).
   * @param dLastState Gradient of `lastState`, (batch, dim, dstate), or `null` for zero.
   * @throws TensorError naming the field when an input is missing, too small or inconsistent.
   */
  backward(
    encoder: GPUCommandEncoder,
    inputs: ScanGpuInputs,
    saved: GPUBuffer,
    dy: GPUBuffer,
    dLastState: GPUBuffer | null,
    allocator: ScanAllocator,
  ): ScanGpuGrads {
    const op = 'WebGpuScan.backward';
    checkInputs(op, inputs);
    const { batch, dim, seqlen, dstate } = inputs;
    const bdl = batch * dim * seqlen;
    const bdn = batch * dim * dstate;
    const nChunks = Math.ceil(seqlen / SCAN_CHUNK);
    checkBuffer(
      op,
      'saved',
      saved,
      (nChunks + 1) * bdn,
      '(ceil(seqlen/32)+1)*batch*dim*dstate: the forward must run with saveCheckpoints',
    );
    checkBuffer(op, 'dy', dy, bdl, 'batch*dim*seqlen');
    if (dLastState !== null) checkBuffer(op, 'dLastState', dLastState, bdn, 'batch*dim*dstate');

    // Channel slots: as many as channel groups, unless their dB/dC partials pass the bound.
    const perSlot = batch * seqlen * dstate * 2 * 4;
    const maxBinding = this.device.limits.maxStorageBufferBindingSize;
    const budget = Math.min(
      MAX_PARTIAL_BYTES,
      Math.floor(maxBinding / 2),
      Math.max(MIN_PARTIAL_BYTES, bdl * 4),
    );
    const groups = Math.ceil(dim / channelsPerGroup(dstate));
    const slots = Math.max(
      1,
      Math.min(groups, Math.floor(budget / perSlot), this.channelSlots ?? groups),
    );
    const plan = this.plan(inputs, true, dLastState !== null, slots);
    const { nSeg } = plan;

    const lay = new Layout();
    const work = this.packInputs(lay, inputs, true);
    work.dLast = dLastState ? lay.take(bdn) : 0;
    work.sum = nSeg > 1 ? lay.take(bdn * nSeg * 2) : 0;
    work.pA = lay.take(bdn * nSeg);
    work.pOff = inputs.stateOffset ? lay.take(bdn * nSeg) : 0;
    work.pD = lay.take(batch * dim * nSeg);
    work.pBias = lay.take(batch * dim * nSeg);
    work.pH0 = inputs.h0 ? lay.take(bdn) : 0;
    work.pBC = lay.take(batch * slots * seqlen * dstate * 2);
    work.size = lay.size;

    this.checkBinding(op, 'work buffer', work.size * 4);
    const stateSize = (batched: boolean) => (batched ? bdn : dim * dstate) * 4;
    const grads: ScanGpuGrads = {
      u: allocator.alloc(bdl * 4),
      delta: allocator.alloc(bdl * 4),
      A: allocator.alloc(dim * dstate * 4),
      B: allocator.alloc(batch * dstate * seqlen * 4),
      C: allocator.alloc(batch * dstate * seqlen * 4),
      D: inputs.D ? allocator.alloc(dim * 4) : null,
      z: inputs.z ? allocator.alloc(bdl * 4) : null,
      deltaBias: inputs.deltaBias ? allocator.alloc(dim * 4) : null,
      h0: inputs.h0 ? allocator.alloc(stateSize(inputs.h0Batched)) : null,
      stateOffset: inputs.stateOffset
        ? allocator.alloc(stateSize(inputs.stateOffsetBatched))
        : null,
    };
    const workBuf = allocator.alloc(Math.max(1, work.size) * 4);
    const uniform = this.scanUniform(plan, work, 0);
    // dy past the gate: computed into dz's buffer when z is given, else dy itself.
    const dyz = grads.z ?? dy;

    const pass = encoder.beginComputePass({ label: 'selective scan backward' });
    this.packCopies(pass, inputs, work, workBuf, true, dLastState);
    this.dispatch(
      pass,
      this.kernel('backward-prep', ['common', 'backward-prep']),
      uniform,
      [
        inputs.delta,
        dy,
        inputs.z ?? this.dummy(false),
        workBuf,
        grads.delta,
        grads.z ?? this.dummy(true),
      ],
      flatGrid(bdl),
    );
    if (nSeg > 1) {
      this.dispatch(
        pass,
        this.channelKernel('backward-carry', plan, false),
        uniform,
        [grads.delta, dyz, inputs.C, workBuf],
        [plan.groups, nSeg - 1, batch],
      );
    }
    this.dispatch(
      pass,
      this.channelKernel('backward', plan, true),
      uniform,
      [inputs.u, inputs.B, inputs.C, saved, workBuf, grads.delta, dyz, grads.u],
      [slots, nSeg, batch],
    );
    this.dispatch(
      pass,
      this.kernel('backward-params', ['common', 'backward-params']),
      uniform,
      [
        workBuf,
        grads.A,
        grads.D ?? this.dummy(true, 0),
        grads.deltaBias ?? this.dummy(true, 1),
        grads.h0 ?? this.dummy(true, 2),
        grads.stateOffset ?? this.dummy(true, 3),
      ],
      flatGrid(bdn),
    );
    this.dispatch(
      pass,
      this.kernel('backward-bc', ['common', 'backward-bc']),
      uniform,
      [workBuf, grads.B, grads.C],
      flatGrid(batch * dstate * seqlen),
    );
    if (inputs.z && grads.z) {
      this.dispatch(
        pass,
        this.kernel('gate-grad', ['common', 'gate-grad']),
        uniform,
        [dy, inputs.z, grads.z],
        flatGrid(bdl),
      );
    }
    pass.end();
    allocator.release(workBuf);
    return grads;
  }

  /**
   * Destroys the buffers this object keeps (cached parameters and placeholders) and forgets
   * its pipelines. Call once no recorded work of it is pending; later calls make new ones.
   */
  dispose(): void {
    for (const b of this.uniforms.values()) b.destroy();
    this.uniforms.clear();
    this.dummyRead?.destroy();
    this.dummyRead = null;
    for (const b of this.dummyWrites.splice(0)) b.destroy();
    this.pipelines.clear();
    this.modules.clear();
  }

  // ------------------------------------------------------------------ planning

  private plan(inputs: ScanGpuInputs, backward: boolean, hasDLast: boolean, slots: number): Plan {
    const { batch, dim, seqlen, dstate } = inputs;
    const npad = nextPow2(dstate);
    const ch = channelsPerGroup(dstate);
    const groups = Math.ceil(dim / ch);
    if (groups > 65535) {
      throw new TensorError(
        backward ? 'WebGpuScan.backward' : 'WebGpuScan.forward',
        `dim must be at most ${65535 * ch} for dstate ${dstate} (one grid axis), got ${dim}`,
      );
    }
    const nChunks = Math.ceil(seqlen / SCAN_CHUNK);
    // Workgroups without segments: the forward has one per channel group, the backward one
    // per slot (slots <= groups); segments multiply them.
    const perSegment = batch * (backward ? slots : groups);
    let segChunks: number;
    if (this.segmentChunks !== undefined) {
      segChunks = Math.min(this.segmentChunks, nChunks);
    } else {
      const want = Math.min(nChunks, Math.max(1, Math.ceil(TARGET_WORKGROUPS / perSegment)));
      segChunks = Math.ceil(nChunks / want);
    }
    const nSeg = Math.ceil(nChunks / segChunks);
    let flags = 0;
    if (inputs.deltaSoftplus) flags |= F_SOFTPLUS;
    if (inputs.D) flags |= F_D;
    if (inputs.z) flags |= F_Z;
    if (inputs.deltaBias) flags |= F_BIAS;
    if (inputs.h0) flags |= F_H0;
    if (inputs.stateOffset) flags |= F_OFF;
    if (inputs.h0 && inputs.h0Batched) flags |= F_H0_BATCHED;
    if (inputs.stateOffset && inputs.stateOffsetBatched) flags |= F_OFF_BATCHED;
    if (inputs.saveCheckpoints) flags |= F_SAVE;
    if (hasDLast) flags |= F_DLAST;
    return {
      batch,
      dim,
      seqlen,
      dstate,
      npad,
      ch,
      groups,
      nChunks,
      segChunks,
      nSeg,
      slots,
      flags,
    };
  }

  /** Regions of the small inputs at the front of the work buffer. */
  private packInputs(lay: Layout, inputs: ScanGpuInputs, backward: boolean): Work {
    const { batch, dim, dstate } = inputs;
    const state = (batched: boolean) => (batched ? batch : 1) * dim * dstate;
    return {
      A: lay.take(dim * dstate),
      D: inputs.D ? lay.take(dim) : 0,
      bias: inputs.deltaBias ? lay.take(dim) : 0,
      // The backward starts from the saved states, so it needs no h0.
      h0: inputs.h0 && !backward ? lay.take(state(inputs.h0Batched)) : 0,
      off: inputs.stateOffset ? lay.take(state(inputs.stateOffsetBatched)) : 0,
      dLast: 0,
      sum: 0,
      pA: 0,
      pOff: 0,
      pD: 0,
      pBias: 0,
      pH0: 0,
      pBC: 0,
      size: lay.size,
    };
  }

  private packCopies(
    pass: GPUComputePassEncoder,
    inputs: ScanGpuInputs,
    work: Work,
    workBuf: GPUBuffer,
    backward: boolean,
    dLast: GPUBuffer | null,
  ): void {
    const { batch, dim, dstate } = inputs;
    const state = (batched: boolean) => (batched ? batch : 1) * dim * dstate;
    this.copy(pass, inputs.A, 0, workBuf, work.A, dim * dstate);
    if (inputs.D) this.copy(pass, inputs.D, 0, workBuf, work.D, dim);
    if (inputs.deltaBias) this.copy(pass, inputs.deltaBias, 0, workBuf, work.bias, dim);
    if (inputs.h0 && !backward) {
      this.copy(pass, inputs.h0, 0, workBuf, work.h0, state(inputs.h0Batched));
    }
    if (inputs.stateOffset) {
      this.copy(pass, inputs.stateOffset, 0, workBuf, work.off, state(inputs.stateOffsetBatched));
    }
    if (dLast) this.copy(pass, dLast, 0, workBuf, work.dLast, batch * dim * dstate);
  }

  // ------------------------------------------------------------------ encoding

  /** Throws when one binding would pass the device's maxStorageBufferBindingSize. */
  private checkBinding(op: string, what: string, bytes: number): void {
    const limit = this.device.limits.maxStorageBufferBindingSize;
    if (bytes > limit) {
      throw new TensorError(
        op,
        `the ${what} would take ${bytes} bytes, more than this device's ` +
          `maxStorageBufferBindingSize (${limit}); use a smaller batch or seqlen`,
      );
    }
  }

  private scanUniform(plan: Plan, work: Work, lastSlot: number): GPUBuffer {
    return this.uniform([
      plan.batch,
      plan.dim,
      plan.seqlen,
      plan.dstate,
      plan.nChunks,
      plan.segChunks,
      plan.nSeg,
      plan.groups,
      plan.slots,
      plan.flags,
      lastSlot,
      0,
      work.A,
      work.D,
      work.bias,
      work.h0,
      work.off,
      work.dLast,
      work.sum,
      work.pA,
      work.pOff,
      work.pD,
      work.pBias,
      work.pH0,
      work.pBC,
      0,
      0,
      0,
    ]);
  }

  /** A uniform buffer holding `words`, shared by calls with the same parameters. */
  private uniform(words: number[]): GPUBuffer {
    const key = words.join(',');
    const hit = this.uniforms.get(key);
    if (hit) return hit;
    // Dropped buffers may still be referenced by unsubmitted work: the GC frees them.
    if (this.uniforms.size >= MAX_CACHED_UNIFORMS) this.uniforms.clear();
    const size = Math.ceil((words.length * 4) / 16) * 16;
    const buffer = this.device.createBuffer({
      label: 'selective scan parameters',
      size,
      usage: USAGE_UNIFORM,
      mappedAtCreation: true,
    });
    new Uint32Array(buffer.getMappedRange()).set(words);
    buffer.unmap();
    this.uniforms.set(key, buffer);
    return buffer;
  }

  /**
   * A 16-byte stand-in bound where an optional input or output is absent. Read-only ones
   * can share a buffer; writable bindings of one dispatch must not alias, so those get one
   * buffer per `slot`.
   */
  private dummy(write: boolean, slot = 0): GPUBuffer {
    const make = () =>
      this.device.createBuffer({
        label: 'selective scan placeholder',
        size: 16,
        usage: USAGE_STORAGE,
      });
    if (!write) {
      this.dummyRead ??= make();
      return this.dummyRead;
    }
    while (this.dummyWrites.length <= slot) this.dummyWrites.push(make());
    return this.dummyWrites[slot];
  }

  private copy(
    pass: GPUComputePassEncoder,
    src: GPUBuffer,
    srcAt: number,
    dst: GPUBuffer,
    dstAt: number,
    count: number,
  ): void {
    const uniform = this.uniform([srcAt, dstAt, count, 0]);
    this.dispatch(pass, this.kernel('copy', ['copy']), uniform, [src, dst], flatGrid(count));
  }

  private dispatch(
    pass: GPUComputePassEncoder,
    pipeline: GPUComputePipeline,
    uniform: GPUBuffer,
    buffers: GPUBuffer[],
    grid: [number, number, number],
  ): void {
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: uniform } }];
    buffers.forEach((buffer, i) => {
      entries.push({ binding: i + 1, resource: { buffer } });
    });
    const bindGroup = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries,
    });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
  }

  // ------------------------------------------------------------------ pipelines

  /** A per-channel kernel specialised for the plan's geometry (and reduction when `reduces`). */
  private channelKernel(name: ScanShaderPart, plan: Plan, reduces: boolean): GPUComputePipeline {
    const constants: Record<string, number> = { NPAD: plan.npad, CH: plan.ch };
    let parts: ScanShaderPart[] = ['common', 'geometry', name];
    if (CELL_KERNELS.has(name)) parts = ['common', 'geometry', 'cell', name];
    if (reduces && this.subgroups) {
      parts = ['reduce-subgroup', ...parts];
      constants.SGW = Math.min(plan.npad, this.subgroupMin);
    } else if (reduces) {
      parts = [...parts, 'reduce-workgroup'];
    }
    return this.kernel(name, parts, constants);
  }

  private kernel(
    label: string,
    parts: ScanShaderPart[],
    constants: Record<string, number> = {},
  ): GPUComputePipeline {
    const source = parts.join('+');
    const key = `${source}|${JSON.stringify(constants)}`;
    let pipeline = this.pipelines.get(key);
    if (pipeline) return pipeline;
    let module = this.modules.get(source);
    if (!module) {
      module = this.device.createShaderModule({ label: `scan/${label}`, code: scanShader(parts) });
      this.modules.set(source, module);
    }
    pipeline = this.device.createComputePipeline({
      label: `scan/${label}`,
      layout: 'auto',
      compute: { module, entryPoint: 'main', constants },
    });
    this.pipelines.set(key, pipeline);
    return pipeline;
  }
}

/** Channels per workgroup: up to 128 invocations (at most 16 channels; one when dstate > 64). */
function channelsPerGroup(dstate: number): number {
  return Math.min(16, Math.max(1, Math.floor(128 / nextPow2(dstate))));
}

function checkBuffer(
  op: string,
  name: string,
  buffer: GPUBuffer | null | undefined,
  floats: number,
  formula: string,
): void {
  if (typeof buffer !== 'object' || buffer === null || typeof buffer.size !== 'number') {
    throw new TensorError(op, `${name} must be a GPUBuffer, got ${String(buffer)}`);
  }
  if (buffer.size < floats * 4) {
    throw new TensorError(
      op,
      `${name} holds ${buffer.size} bytes, less than the ${floats * 4} of ${floats} float32 (${formula})`,
    );
  }
}

function checkInputs(op: string, x: ScanGpuInputs): void {
  for (const name of ['batch', 'dim', 'seqlen', 'dstate'] as const) {
    const v = x[name];
    if (!Number.isInteger(v) || v < 1) {
      throw new TensorError(op, `${name} must be a positive integer, got ${v}`);
    }
  }
  if (x.dstate > SCAN_MAX_DSTATE) {
    throw new TensorError(op, `dstate must be at most ${SCAN_MAX_DSTATE}, got ${x.dstate}`);
  }
  if (x.batch > 65535) {
    throw new TensorError(op, `batch must be at most 65535 (one grid axis), got ${x.batch}`);
  }
  const { batch, dim, seqlen, dstate } = x;
  const bdl = batch * dim * seqlen;
  // Offsets are 32-bit in the kernels.
  const largest = Math.max(bdl, batch * dim * dstate * (Math.ceil(seqlen / SCAN_CHUNK) + 1));
  if (largest * 2 >= 2 ** 32) {
    throw new TensorError(op, `the scan is too large for 32-bit indexing (${largest} elements)`);
  }
  for (const name of [
    'h0Batched',
    'stateOffsetBatched',
    'deltaSoftplus',
    'saveCheckpoints',
  ] as const) {
    if (typeof x[name] !== 'boolean') {
      throw new TensorError(op, `${name} must be a boolean, got ${String(x[name])}`);
    }
  }
  checkBuffer(op, 'u', x.u, bdl, 'batch*dim*seqlen');
  checkBuffer(op, 'delta', x.delta, bdl, 'batch*dim*seqlen');
  checkBuffer(op, 'A', x.A, dim * dstate, 'dim*dstate');
  checkBuffer(op, 'B', x.B, batch * dstate * seqlen, 'batch*dstate*seqlen');
  checkBuffer(op, 'C', x.C, batch * dstate * seqlen, 'batch*dstate*seqlen');
  if (x.D !== null) checkBuffer(op, 'D', x.D, dim, 'dim');
  if (x.z !== null) checkBuffer(op, 'z', x.z, bdl, 'batch*dim*seqlen');
  if (x.deltaBias !== null) checkBuffer(op, 'deltaBias', x.deltaBias, dim, 'dim');
  const stateOf = (batched: boolean): [number, string] =>
    batched ? [batch * dim * dstate, 'batch*dim*dstate'] : [dim * dstate, 'dim*dstate'];
  if (x.h0 !== null) checkBuffer(op, 'h0', x.h0, ...stateOf(x.h0Batched));
  if (x.stateOffset !== null) {
    checkBuffer(op, 'stateOffset', x.stateOffset, ...stateOf(x.stateOffsetBatched));
  }
}
