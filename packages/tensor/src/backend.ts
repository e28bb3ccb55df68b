import type { DType, HostArray } from './dtype.js';
import type { BinaryOp, ReduceOp, UnaryOp } from './ops/table.js';
import type { Shape } from './shape.js';

/**
 * A backend's handle to the memory of one tensor: a typed array on the CPU, a GPU buffer
 * (or a set of buffer ranges) on WebGPU. Opaque to everything but the backend that made it.
 */
export type BackendData = object;

/**
 * A strided window onto backend memory. `strides` and `offset` count elements, not bytes;
 * a stride of 0 repeats an element (broadcasting). Kernels read any view; outputs they
 * allocate are contiguous.
 */
export interface View {
  readonly data: BackendData;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
}

/** What a backend has allocated now. */
export interface MemoryInfo {
  /** Bytes held by live tensors. */
  readonly bytesInUse: number;
  /** Buffers held by live tensors. */
  readonly buffers: number;
  /** Bytes kept in a reuse pool (device backends). */
  readonly bytesPooled?: number;
}

/** Operands of a batched matrix multiply: `out[..., m, n] = op(a)[..., m, k] @ op(b)[..., k, n]`. */
export interface MatmulArgs {
  /** `[...batch, m, k]`, or `[...batch, k, m]` when `transA`; last two axes row-major, batch axes may have stride 0. */
  readonly a: View;
  /** `[...batch, k, n]`, or `[...batch, n, k]` when `transB`. */
  readonly b: View;
  readonly transA: boolean;
  readonly transB: boolean;
  readonly batchShape: Shape;
  readonly m: number;
  readonly n: number;
  readonly k: number;
}

/** Inputs of the selective scan, laid out as `ARCHITECTURE.md` and the fixtures README say. */
export interface ScanArgs {
  readonly batch: number;
  readonly dim: number;
  readonly seqlen: number;
  readonly dstate: number;
  /** (batch, dim, seqlen) */
  readonly u: View;
  /** (batch, dim, seqlen) */
  readonly delta: View;
  /** (dim, dstate) */
  readonly A: View;
  /** (batch, dstate, seqlen) */
  readonly B: View;
  /** (batch, dstate, seqlen) */
  readonly C: View;
  /** (dim) */
  readonly D: View | null;
  /** (batch, dim, seqlen) */
  readonly z: View | null;
  /** (dim) */
  readonly deltaBias: View | null;
  readonly deltaSoftplus: boolean;
  /** (dim, dstate) or (batch, dim, dstate) */
  readonly h0: View | null;
  /** (dim, dstate) or (batch, dim, dstate) */
  readonly stateOffset: View | null;
  /** Keep the chunk-boundary states the backward pass needs. */
  readonly saveCheckpoints: boolean;
}

/** Results of the selective-scan forward. */
export interface ScanOutputs {
  /** (batch, dim, seqlen) */
  readonly y: BackendData;
  /** (batch, dim, dstate): the state after the last step, without the offset. */
  readonly lastState: BackendData;
  /**
   * What the backward needs beyond the inputs (the float32 chunk-boundary states), as a flat
   * float32 buffer of `savedSize` elements; null when `saveCheckpoints` is false.
   */
  readonly saved: BackendData | null;
  readonly savedSize: number;
}

/** Gradients of the selective scan, each in its input's shape; null for absent inputs. */
export interface ScanGradients {
  readonly u: BackendData;
  readonly delta: BackendData;
  readonly A: BackendData;
  readonly B: BackendData;
  readonly C: BackendData;
  readonly D: BackendData | null;
  readonly z: BackendData | null;
  readonly deltaBias: BackendData | null;
  readonly h0: BackendData | null;
  readonly stateOffset: BackendData | null;
}

/** Hyperparameters of one fused AdamW step; the caller computes the bias corrections for the parameter's step. */
export interface AdamWStep {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** 1 - beta1^t */
  readonly biasCorrection1: number;
  /** 1 - beta2^t */
  readonly biasCorrection2: number;
}

/** Hyperparameters of one fused SGD step. */
export interface SgdStep {
  readonly lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  /** True on the first step, when the momentum buffer is initialised to the gradient. */
  readonly firstStep: boolean;
}

/** Where random numbers come from: a Philox-4x32-10 key and the first counter to use. */
export interface RandomKey {
  readonly key0: number;
  readonly key1: number;
  readonly counter: number;
}

/**
 * The contract every backend implements. The tensor core owns shapes, dtypes, validation and
 * autograd; a backend owns memory and kernels. Everything takes views and returns newly
 * allocated contiguous memory unless the name says otherwise (`copyInto`, the optimizer
 * steps), so a device backend never needs a round trip to the host between ops.
 */
export interface Backend {
  /** `cpu`, `webgpu`, ... */
  readonly name: string;
  /** False when values can only be read asynchronously (`readSync` throws). */
  readonly canReadSync: boolean;

  // Memory.
  /** Zero-filled memory for `size` elements. */
  allocate(dtype: DType, size: number): BackendData;
  /** Copies host values into new backend memory. */
  upload(values: HostArray): BackendData;
  /** Reads `size` elements from element `offset` back to the host, as a new array the caller owns. */
  read(data: BackendData, dtype: DType, offset: number, size: number): Promise<HostArray>;
  /** The same, synchronously; only where `canReadSync`. */
  readSync(data: BackendData, dtype: DType, offset: number, size: number): HostArray;
  /** Releases memory now; the handle must not be used again. */
  release(data: BackendData): void;
  /** Bytes and buffers in use. */
  memory(): MemoryInfo;
  /** Resolves when queued work is done (a no-op on synchronous backends). */
  sync(): Promise<void>;

  // Data movement.
  fill(dtype: DType, size: number, value: number): BackendData;
  /** A contiguous copy of a view, converted to `dtype`. */
  copy(x: View, dtype: DType): BackendData;
  /** Writes `src` (same shape as `dst`) into the strided region `dst`, in place. */
  copyInto(dst: View, src: View): void;
  /** Uniform [0, 1) (`normal`: standard normal) values from the counter-based generator. */
  random(kind: 'uniform' | 'normal', dtype: DType, size: number, key: RandomKey): BackendData;

  // Elementwise.
  unary(op: UnaryOp, x: View, outDtype: DType): BackendData;
  /** dx = dy * f'(x) for a unary op, given its input x, output y and upstream dy (same shapes). */
  unaryGrad(op: UnaryOp, x: View, y: View, dy: View): BackendData;
  /** a and b are already broadcast to `outShape` (stride 0 where stretched) and of `inDtype`. */
  binary(op: BinaryOp, a: View, b: View, outShape: Shape, outDtype: DType): BackendData;
  /** cond != 0 ? a : b, views broadcast to `outShape`. */
  where(cond: View, a: View, b: View, outShape: Shape, outDtype: DType): BackendData;

  // Reductions: output has x's shape with each reduced axis of size 1.
  reduce(op: ReduceOp, x: View, axes: readonly number[]): BackendData;
  /** Index of the first maximum along one axis (int32, axis kept with size 1). */
  argmax(x: View, axis: number): BackendData;

  // Linear algebra and indexing.
  matmul(args: MatmulArgs): BackendData;
  /** out[o, j, i] = x[o, index[j], i] with x seen as [outer, n, inner]; index int32 of length m. */
  indexSelect(x: View, outer: number, n: number, inner: number, index: View): BackendData;
  /** The gradient of indexSelect: dx[o, index[j], i] += dy[o, j, i], dx of size outer * n * inner. */
  indexAdd(dy: View, outer: number, n: number, inner: number, index: View): BackendData;

  // Fused neural-network kernels over the last axis of a [rows, cols] contiguous layout.
  softmax(x: View, rows: number, cols: number, log: boolean): BackendData;
  softmaxGrad(y: View, dy: View, rows: number, cols: number, log: boolean): BackendData;
  /** Per-row cross-entropy and log-sum-exp; rows whose target is `ignoreIndex` get loss 0. */
  crossEntropy(
    logits: View,
    targets: View,
    rows: number,
    cols: number,
    ignoreIndex: number,
  ): { loss: BackendData; lse: BackendData };
  crossEntropyGrad(
    logits: View,
    lse: View,
    targets: View,
    dloss: View,
    rows: number,
    cols: number,
    ignoreIndex: number,
  ): BackendData;
  rmsNorm(
    x: View,
    weight: View | null,
    rows: number,
    cols: number,
    eps: number,
  ): { y: BackendData; rstd: BackendData };
  rmsNormGrad(
    x: View,
    weight: View | null,
    rstd: View,
    dy: View,
    rows: number,
    cols: number,
  ): { dx: BackendData; dweight: BackendData | null };
  /** Depthwise causal conv: x (batch, channels, len), weight (channels, width), bias (channels). */
  conv1d(
    x: View,
    weight: View,
    bias: View | null,
    batch: number,
    channels: number,
    len: number,
    width: number,
  ): BackendData;
  conv1dGrad(
    x: View,
    weight: View,
    dy: View,
    batch: number,
    channels: number,
    len: number,
    width: number,
    withBias: boolean,
  ): { dx: BackendData; dweight: BackendData; dbias: BackendData | null };
  selectiveScan(args: ScanArgs): ScanOutputs;
  selectiveScanGrad(args: ScanArgs, saved: View, dy: View, dLastState: View | null): ScanGradients;

  // Fused optimizer updates, in place on contiguous float tensors of equal size.
  adamwStep(param: View, grad: View, m: View, v: View, step: AdamWStep): void;
  sgdStep(param: View, grad: View, momentum: View | null, step: SgdStep): void;
}
