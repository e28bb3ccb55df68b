import type {
  AdamWStep,
  Backend,
  BackendData,
  BinaryOp,
  DType,
  HostArray,
  MatmulArgs,
  MemoryInfo,
  RandomKey,
  ReduceOp,
  ScanArgs,
  ScanGradients,
  ScanOutputs,
  SgdStep,
  UnaryOp,
  View,
} from '@statetune/tensor';
import { TensorError } from '@statetune/tensor';
import {
  type AcquiredDevice,
  type AdapterDescription,
  acquireDevice,
  type DeviceOptions,
} from './device.js';
import * as ew from './kernels/elementwise.js';
import * as idx from './kernels/indexing.js';
import { matmul } from './kernels/matmul.js';
import * as nn from './kernels/nn.js';
import * as optim from './kernels/optim.js';
import { random } from './kernels/random.js';
import { argmax, reduce } from './kernels/reduce.js';
import type { PoolStats } from './pool.js';
import {
  deviceDType,
  float64Error,
  type GpuData,
  GpuRuntime,
  type RuntimeOptions,
} from './runtime.js';
import { WebGpuScan } from './scan/index.js';
import { ScanBridge, type ScanKernelFactory } from './scan-bridge.js';

/** Options of {@link createWebGpuBackend}. */
export interface WebGpuBackendOptions extends DeviceOptions, RuntimeOptions {
  /**
   * Makes the selective-scan kernel (default: the package's WGSL scan). Tests and hosts may
   * substitute their own.
   */
  readonly scanKernel?: ScanKernelFactory | null;
}

const gpu = (d: BackendData) => d as GpuData;

/**
 * The WebGPU backend: tensor memory in pooled GPU buffers, every op a WGSL kernel recorded
 * into batched command buffers, reads through mapped staging buffers (asynchronous only:
 * `await tensor.data()`). float32 and int32 live on the device; float64 is refused with an
 * error naming the op.
 */
export class WebGpuBackend implements Backend {
  readonly name = 'webgpu';
  readonly canReadSync = false;
  /** The device the kernels run on. */
  readonly device: GPUDevice;
  /** The adapter's vendor, architecture and description. */
  readonly adapter: AdapterDescription;
  /** The optional features granted (`shader-f16`, `subgroups`, `timestamp-query`). */
  readonly features: ReadonlySet<string>;
  /** For kernels of other modules: the pool, the command stream and the binding limits. */
  readonly runtime: GpuRuntime;
  private readonly scan: ScanBridge;

  constructor(acquired: AcquiredDevice, options: WebGpuBackendOptions = {}) {
    this.device = acquired.device;
    this.adapter = acquired.adapter;
    this.features = acquired.features;
    this.runtime = new GpuRuntime(acquired.device, options);
    this.scan = new ScanBridge(
      this.runtime,
      options.scanKernel === undefined ? defaultScanKernel : options.scanKernel,
      acquired.features.has('subgroups'),
    );
  }

  // Memory.

  allocate(dtype: DType, size: number): BackendData {
    return this.runtime.allocate(deviceDType('allocate', dtype), size);
  }

  upload(values: HostArray): BackendData {
    if (values instanceof Float64Array) throw float64Error('upload (creating a float64 tensor)');
    return this.runtime.upload(values);
  }

  async read(data: BackendData, dtype: DType, offset: number, size: number): Promise<HostArray> {
    const t = deviceDType('read', dtype);
    const bytes = await this.runtime.read(gpu(data), offset, size);
    return t === 'float32' ? new Float32Array(bytes) : new Int32Array(bytes);
  }

  readSync(): HostArray {
    throw new TensorError(
      'dataSync',
      'the webgpu backend reads asynchronously: use await tensor.data() (or tensor.array())',
    );
  }

  release(data: BackendData): void {
    this.runtime.release(gpu(data));
  }

  memory(): MemoryInfo {
    const s = this.runtime.pool.stats();
    return { bytesInUse: s.bytesInUse, buffers: s.buffers, bytesPooled: s.bytesPooled };
  }

  /** The pool's counters, including buffers created so far. */
  poolStats(): PoolStats {
    return this.runtime.pool.stats();
  }

  sync(): Promise<void> {
    return this.runtime.sync();
  }

  /** Submits recorded work now (reads and `sync` do this themselves). */
  flush(): void {
    this.runtime.flush();
  }

  /** Returns pooled buffers to the driver. */
  trim(): void {
    this.runtime.flush();
    this.runtime.pool.trim();
  }

  /** Releases the pool and destroys the device; the backend cannot be used afterwards. */
  destroy(): void {
    this.runtime.destroy();
    this.device.destroy();
  }

  // Data movement.

  fill(dtype: DType, size: number, value: number): BackendData {
    return ew.fill(this.runtime, deviceDType('fill', dtype), size, value);
  }

  copy(x: View, dtype: DType): BackendData {
    return ew.copy(this.runtime, x, deviceDType('copy', dtype));
  }

  copyInto(dst: View, src: View): void {
    const dt = deviceDType('copyInto', dst.dtype);
    const st = deviceDType('copyInto', src.dtype);
    const target = { data: gpu(dst.data), offset: dst.offset, strides: dst.strides };
    if (src.data === dst.data) {
      // A buffer cannot be bound for reading and writing in one dispatch: copy it first.
      const tmp = ew.copy(this.runtime, src, st);
      const shape = src.shape;
      const strides = contiguousStrides(shape);
      ew.copyTo(
        this.runtime,
        'copyInto',
        target,
        dt,
        { data: tmp, dtype: st, shape, strides, offset: 0 },
        st,
      );
      this.runtime.release(tmp);
      return;
    }
    ew.copyTo(this.runtime, 'copyInto', target, dt, src, st);
  }

  random(kind: 'uniform' | 'normal', dtype: DType, size: number, key: RandomKey): BackendData {
    return random(
      this.runtime,
      kind,
      deviceDType(kind === 'uniform' ? 'rand' : 'randn', dtype),
      size,
      key,
    );
  }

  // Elementwise.

  unary(op: UnaryOp, x: View, outDtype: DType): BackendData {
    return ew.unary(this.runtime, op, x, deviceDType(op, outDtype));
  }

  unaryGrad(op: UnaryOp, x: View, y: View, dy: View): BackendData {
    return ew.unaryGrad(this.runtime, op, x, y, dy);
  }

  binary(
    op: BinaryOp,
    a: View,
    b: View,
    outShape: readonly number[],
    outDtype: DType,
  ): BackendData {
    return ew.binary(this.runtime, op, a, b, outShape, deviceDType(op, outDtype));
  }

  where(cond: View, a: View, b: View, outShape: readonly number[], outDtype: DType): BackendData {
    return ew.where(this.runtime, cond, a, b, outShape, deviceDType('where', outDtype));
  }

  // Reductions.

  reduce(op: ReduceOp, x: View, axes: readonly number[]): BackendData {
    return reduce(this.runtime, op, x, axes);
  }

  argmax(x: View, axis: number): BackendData {
    return argmax(this.runtime, x, axis);
  }

  // Linear algebra and indexing.

  matmul(args: MatmulArgs): BackendData {
    return matmul(this.runtime, args);
  }

  indexSelect(x: View, outer: number, n: number, inner: number, index: View): BackendData {
    return idx.indexSelect(this.runtime, x, outer, n, inner, index);
  }

  indexAdd(dy: View, outer: number, n: number, inner: number, index: View): BackendData {
    return idx.indexAdd(this.runtime, dy, outer, n, inner, index);
  }

  // Fused kernels.

  softmax(x: View, rows: number, cols: number, log: boolean): BackendData {
    return nn.softmax(this.runtime, x, rows, cols, log);
  }

  softmaxGrad(y: View, dy: View, rows: number, cols: number, log: boolean): BackendData {
    return nn.softmaxGrad(this.runtime, y, dy, rows, cols, log);
  }

  crossEntropy(logits: View, targets: View, rows: number, cols: number, ignoreIndex: number) {
    return nn.crossEntropy(this.runtime, logits, targets, rows, cols, ignoreIndex);
  }

  crossEntropyGrad(
    logits: View,
    lse: View,
    targets: View,
    dloss: View,
    rows: number,
    cols: number,
    ignoreIndex: number,
  ): BackendData {
    return nn.crossEntropyGrad(this.runtime, logits, lse, targets, dloss, rows, cols, ignoreIndex);
  }

  rmsNorm(x: View, weight: View | null, rows: number, cols: number, eps: number) {
    return nn.rmsNorm(this.runtime, x, weight, rows, cols, eps);
  }

  rmsNormGrad(x: View, weight: View | null, rstd: View, dy: View, rows: number, cols: number) {
    return nn.rmsNormGrad(this.runtime, x, weight, rstd, dy, rows, cols);
  }

  conv1d(
    x: View,
    weight: View,
    bias: View | null,
    batch: number,
    channels: number,
    len: number,
    width: number,
  ): BackendData {
    return nn.conv1d(this.runtime, x, weight, bias, batch, channels, len, width);
  }

  conv1dGrad(
    x: View,
    weight: View,
    dy: View,
    batch: number,
    channels: number,
    len: number,
    width: number,
    withBias: boolean,
  ) {
    return nn.conv1dGrad(this.runtime, x, weight, dy, batch, channels, len, width, withBias);
  }

  selectiveScan(args: ScanArgs): ScanOutputs {
    return this.scan.forward(args);
  }

  selectiveScanGrad(args: ScanArgs, saved: View, dy: View, dLastState: View | null): ScanGradients {
    return this.scan.backward(args, saved, dy, dLastState);
  }

  // Optimizers.

  adamwStep(param: View, grad: View, m: View, v: View, step: AdamWStep): void {
    optim.adamwStep(this.runtime, param, grad, m, v, step);
  }

  sgdStep(param: View, grad: View, momentum: View | null, step: SgdStep): void {
    optim.sgdStep(this.runtime, param, grad, momentum, step);
  }
}

function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** The scan kernel of this package (`scan/`). */
const defaultScanKernel: ScanKernelFactory = (device, options) => new WebGpuScan(device, options);

/**
 * Finds a device (see {@link acquireDevice}) and makes a backend on it. Throws
 * `WebGpuUnavailableError`, saying why and how to fix it, when no adapter is found.
 */
export async function createWebGpuBackend(
  options: WebGpuBackendOptions = {},
): Promise<WebGpuBackend> {
  return new WebGpuBackend(await acquireDevice(options), options);
}
