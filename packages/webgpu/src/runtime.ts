import type { DType } from '@statetune/tensor';
import { TensorError } from '@statetune/tensor';
import { BufferPool, Usage } from './pool.js';

/**
 * The command stream: kernels are recorded into one command encoder and submitted in batches
 * (on a read, a sync, an upload that needs it, or every `maxBatch` dispatches), never one
 * submit per op and never a wait on the host between ops. Kernel parameters of a batch are
 * packed into one buffer written just before its submit.
 */

/** The dtypes that live on the device. */
export type DeviceDType = 'float32' | 'int32';

/** The memory of one tensor: a pooled buffer (possibly larger than asked) and its element count. */
export class GpuData {
  released = false;
  constructor(
    readonly buffer: GPUBuffer,
    readonly dtype: DeviceDType,
    readonly size: number,
  ) {}
}

/** How a kernel uses one storage binding. */
export type Access = 'read' | 'write';

/** A range of a buffer bound to a kernel: the binding and the element index where it starts. */
export interface Bound {
  readonly binding: GPUBufferBinding;
  /** Element index of the buffer that the binding's element 0 is. */
  readonly base: number;
}

/** Writes a kernel's parameters as 32-bit words (the shader reads `P[k]` with bitcasts). */
export class Params {
  private readonly words: number[] = [];
  private readonly view = new DataView(new ArrayBuffer(4));
  /** An unsigned integer. */
  u(v: number): this {
    this.words.push(v >>> 0);
    return this;
  }
  /** A signed integer. */
  i(v: number): this {
    this.words.push(v | 0);
    return this;
  }
  /** A float32. */
  f(v: number): this {
    this.view.setFloat32(0, v, true);
    this.words.push(this.view.getUint32(0, true));
    return this;
  }
  /** Several unsigned (or signed) integers, padded with `pad` to `length`. */
  list(vs: readonly number[], length: number, pad = 0): this {
    for (let k = 0; k < length; k++) this.words.push((k < vs.length ? vs[k] : pad) | 0);
    return this;
  }
  /** The words. */
  toArray(): Uint32Array {
    const out = new Uint32Array(Math.max(this.words.length, 1));
    for (let k = 0; k < this.words.length; k++) out[k] = this.words[k] >>> 0;
    return out;
  }
}

/** Workgroups to cover `n` invocations of a 1-D kernel whose shader uses {@link FLAT_INDEX}. */
export function grid(n: number, workgroupSize = 256): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / workgroupSize));
  if (groups <= 65535) return [groups, 1, 1];
  return [65535, Math.ceil(groups / 65535), 1];
}

/** Workgroups for one workgroup per item (rows of softmax, outputs of a reduction). */
export function gridGroups(n: number): [number, number, number] {
  const groups = Math.max(1, n);
  if (groups <= 65535) return [groups, 1, 1];
  return [65535, Math.ceil(groups / 65535), 1];
}

/** Error for an op that cannot take float64 tensors on the device. */
export function float64Error(op: string): TensorError {
  return new TensorError(
    op,
    'float64 tensors are not supported on the webgpu backend (WGSL has no float64); ' +
      "use the cpu backend for float64 (setBackend('cpu') or await tensor.to('cpu'))",
  );
}

/** Checks that a dtype lives on the device. */
export function deviceDType(op: string, dtype: DType): DeviceDType {
  if (dtype === 'float64') throw float64Error(op);
  return dtype;
}

/** The WGSL scalar type of a dtype. */
export function wgslType(dtype: DeviceDType): 'f32' | 'i32' {
  return dtype === 'float32' ? 'f32' : 'i32';
}

/**
 * Waits for a GPU promise while keeping the host's event loop alive: Dawn in Node does not
 * hold the loop open for pending maps and fences, so without a timer Node can exit (or tear
 * the device down) in the middle of a read.
 */
export async function awaitGpu<T>(promise: Promise<T>): Promise<T> {
  const timer = setInterval(() => {}, 5);
  try {
    return await promise;
  } finally {
    clearInterval(timer);
  }
}

/** A compiled kernel: its pipeline, bind group layout and key. */
export interface Kernel {
  readonly key: string;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
}

/** Options of the runtime. */
export interface RuntimeOptions {
  /** Largest storage binding in bytes (default: the device's limit). */
  readonly maxBindingBytes?: number;
  /** Dispatches recorded before a submit (default 64). */
  readonly maxBatch?: number;
  /** Pooled bytes above which released buffers are destroyed (default unlimited). */
  readonly maxPooledBytes?: number;
}

const PARAM_ARENA_BYTES = 1 << 18;

/** The device, its pool and the open batch of commands. */
export class GpuRuntime {
  readonly pool: BufferPool;
  /** Largest storage binding in bytes. */
  readonly maxBindingBytes: number;
  /** Binding offsets must be multiples of this. */
  readonly alignment: number;
  private readonly maxBatch: number;
  private readonly kernels = new Map<string, Kernel>();
  private encoder: GPUCommandEncoder | null = null;
  private dispatches = 0;
  private readonly arena = new Uint32Array(PARAM_ARENA_BYTES / 4);
  private arenaUsed = 0;
  private paramBuffer: GPUBuffer;
  private readonly stagingPool: GPUBuffer[] = [];
  /** Errors the device reported since the last check (the first few). */
  private readonly deviceErrors: string[] = [];
  private moreErrors = 0;
  private lost: string | null = null;
  /** Rejects the reads and syncs waiting on the device when it is lost. */
  private readonly waiters = new Set<(why: string) => void>();
  /** Submits so far (for tests of batching). */
  submits = 0;
  /** Dispatches recorded so far, including those other modules report through {@link recorded}. */
  dispatched = 0;
  /** Reads back to the host so far ({@link read}): a training step should make none. */
  reads = 0;

  constructor(
    readonly device: GPUDevice,
    options: RuntimeOptions = {},
  ) {
    const limits = device.limits;
    this.alignment = limits.minStorageBufferOffsetAlignment;
    this.maxBindingBytes = Math.min(
      limits.maxStorageBufferBindingSize,
      options.maxBindingBytes ?? Number.POSITIVE_INFINITY,
    );
    if (this.maxBindingBytes < 4 * this.alignment) {
      throw new TensorError(
        'webgpu',
        `maxBindingBytes must be at least ${4 * this.alignment}, got ${this.maxBindingBytes}`,
      );
    }
    this.maxBatch = options.maxBatch ?? 64;
    this.pool = new BufferPool(device, options.maxPooledBytes);
    this.paramBuffer = device.createBuffer({
      size: PARAM_ARENA_BYTES,
      usage: Usage.STORAGE | Usage.COPY_DST,
    });
    device.addEventListener('uncapturederror', (event) => {
      this.reportError((event as GPUUncapturedErrorEvent).error.message);
    });
    device.lost.then((info) => {
      this.markLost(
        info.reason === 'destroyed'
          ? 'the device was destroyed'
          : `the device was lost${info.message ? `: ${info.message.trim()}` : ''}`,
      );
    });
  }

  private markLost(why: string): void {
    this.lost ??= why;
    for (const reject of this.waiters) reject(this.lost);
    this.waiters.clear();
  }

  /** Waits for a GPU promise, rejecting with the reason if the device is lost meanwhile. */
  private async untilLost<T>(op: string, promise: Promise<T>): Promise<T> {
    let reject: ((why: string) => void) | undefined;
    const lost = new Promise<never>((_, rej) => {
      reject = (why) => rej(this.lostError(op, why));
      this.waiters.add(reject);
    });
    try {
      return await awaitGpu(Promise.race([promise, lost]));
    } finally {
      if (reject) this.waiters.delete(reject);
    }
  }

  /** Keeps the first error the device reports (and counts the rest) for the next read or sync. */
  private reportError(message: string): void {
    if (this.deviceErrors.length < 4) this.deviceErrors.push(message.trim());
    else this.moreErrors++;
  }

  /**
   * Throws when the device is gone: lost (a driver reset, a GPU removed, a crash) or
   * destroyed. Every op that records work or allocates checks this, so it fails at once with
   * the reason instead of recording into a dead device or waiting forever on a read.
   */
  checkAlive(op: string): void {
    if (this.lost !== null) throw this.lostError(op, this.lost);
  }

  private lostError(op: string, why: string): TensorError {
    return new TensorError(
      op,
      `the WebGPU device is gone (${why}); its tensors are lost: make a new backend ` +
        "(createWebGpuBackend() or setBackend('webgpu')) and move the data again",
    );
  }

  /** Elements of 4 bytes that one binding can always hold, whatever its start. */
  get maxBindingElements(): number {
    return Math.floor((this.maxBindingBytes - this.alignment) / 4);
  }

  /** A compute pipeline, compiled once per key. */
  kernel(key: string, access: readonly Access[], code: () => string): Kernel {
    let k = this.kernels.get(key);
    if (k) return k;
    this.checkAlive(key);
    // A shader that does not compile is reported (naming the kernel) at the next read or sync.
    this.device.pushErrorScope('validation');
    const entries: GPUBindGroupLayoutEntry[] = access.map((a, binding) => ({
      binding,
      visibility: 4, // GPUShaderStage.COMPUTE
      buffer: { type: a === 'write' ? 'storage' : 'read-only-storage' },
    }));
    entries.push({
      binding: access.length,
      visibility: 4,
      buffer: { type: 'read-only-storage' },
    });
    // Labelled with the key, so that the device's messages name the kernel.
    const label = key;
    const layout = this.device.createBindGroupLayout({ label, entries });
    const module = this.device.createShaderModule({ label, code: code() });
    const pipeline = this.device.createComputePipeline({
      label,
      layout: this.device.createPipelineLayout({ label, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
    });
    this.device.popErrorScope().then(
      (error) => {
        if (error) this.reportError(`kernel '${key}' could not be created: ${error.message}`);
      },
      () => {},
    );
    k = { key, pipeline, layout };
    this.kernels.set(key, k);
    return k;
  }

  /** The open command encoder (kernels of other modules, such as the scan, record into it). */
  commandEncoder(): GPUCommandEncoder {
    this.checkAlive('webgpu');
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  /**
   * Binds elements [lo, hi) of a buffer: the binding starts at the aligned byte at or below
   * `lo` and must fit the binding limit.
   */
  bind(data: GpuData | GPUBuffer, lo: number, hi: number, op: string): Bound {
    const buffer = data instanceof GpuData ? data.buffer : data;
    if (data instanceof GpuData && data.released) {
      throw new TensorError(op, 'a released webgpu buffer was used (the tensor was disposed)');
    }
    const byteLo = Math.floor((lo * 4) / this.alignment) * this.alignment;
    const byteHi = Math.min(Math.max(hi * 4, byteLo + 4), buffer.size);
    const size = Math.ceil((byteHi - byteLo) / 4) * 4;
    if (size > this.maxBindingBytes) {
      throw new TensorError(
        op,
        `a binding of ${size} bytes exceeds the device's storage binding limit of ${this.maxBindingBytes} bytes`,
      );
    }
    return { binding: { buffer, offset: byteLo, size }, base: byteLo / 4 };
  }

  /** Binds a whole buffer (or its first `elements`). */
  bindAll(data: GpuData | GPUBuffer, op: string, elements?: number): Bound {
    const n = elements ?? (data instanceof GpuData ? data.size : data.size / 4);
    return this.bind(data, 0, Math.max(n, 1), op);
  }

  /** Records one dispatch of a kernel over bound buffers with its parameters. */
  dispatch(
    kernel: Kernel,
    bindings: readonly Bound[],
    params: Params,
    groups: readonly [number, number, number],
  ): void {
    this.checkAlive(kernel.key);
    const words = params.toArray();
    const stride = Math.max(this.alignment, 16) / 4;
    const need = Math.ceil(words.length / stride) * stride;
    if (this.arenaUsed + need > this.arena.length) this.flush();
    const at = this.arenaUsed;
    this.arena.set(words, at);
    this.arenaUsed += need;
    const entries: GPUBindGroupEntry[] = bindings.map((b, binding) => ({
      binding,
      resource: b.binding,
    }));
    entries.push({
      binding: bindings.length,
      resource: { buffer: this.paramBuffer, offset: at * 4, size: words.length * 4 },
    });
    const group = this.device.createBindGroup({ layout: kernel.layout, entries });
    const pass = this.commandEncoder().beginComputePass();
    pass.setPipeline(kernel.pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);
    pass.end();
    this.dispatched++;
    if (++this.dispatches >= this.maxBatch) this.flush();
  }

  /** Counts work recorded by another module into {@link commandEncoder}. */
  recorded(dispatches: number): void {
    this.dispatched += dispatches;
    this.dispatches += dispatches;
    if (this.dispatches >= this.maxBatch) this.flush();
  }

  /** Submits what has been recorded. */
  flush(): void {
    if (!this.encoder && this.arenaUsed === 0) {
      // Nothing unsubmitted can use what was released: it is settled already.
      this.pool.submitted();
      return;
    }
    if (this.arenaUsed > 0) {
      this.device.queue.writeBuffer(this.paramBuffer, 0, this.arena, 0, this.arenaUsed);
    }
    const encoder = this.encoder;
    this.encoder = null;
    this.dispatches = 0;
    this.arenaUsed = 0;
    if (encoder) {
      this.device.queue.submit([encoder.finish()]);
      this.submits++;
    }
    // The parameters of the next batch go to a new buffer only if the old one is still in
    // flight: writeBuffer is ordered after the submit, so the old one can be reused.
    this.pool.submitted();
  }

  /** A new, zero-filled buffer for `size` elements. */
  allocate(dtype: DeviceDType, size: number): GpuData {
    this.checkAlive('allocate');
    const buffer = this.pool.take(size * 4);
    this.commandEncoder().clearBuffer(buffer);
    return new GpuData(buffer, dtype, size);
  }

  /** A buffer for `size` elements that a kernel will overwrite entirely. */
  output(dtype: DeviceDType, size: number): GpuData {
    this.checkAlive('webgpu');
    return new GpuData(this.pool.take(size * 4), dtype, size);
  }

  /** Copies host values into a new buffer. */
  upload(values: Float32Array | Int32Array): GpuData {
    this.checkAlive('upload');
    const dtype: DeviceDType = values instanceof Float32Array ? 'float32' : 'int32';
    const buffer = this.pool.takeSettled(values.byteLength);
    if (values.byteLength > 0) {
      // The typed array itself (offsets in elements): Dawn's Node binding mishandles an
      // ArrayBuffer with a byte range.
      this.device.queue.writeBuffer(buffer, 0, values);
    }
    return new GpuData(buffer, dtype, values.length);
  }

  /** Releases a tensor's buffer to the pool. */
  release(data: GpuData): void {
    if (data.released) return;
    data.released = true;
    this.pool.release(data.buffer);
  }

  /** Reads `size` elements from element `offset` (submits the batch, then maps a staging buffer). */
  async read(data: GpuData, offset: number, size: number): Promise<ArrayBuffer> {
    if (data.released) {
      throw new TensorError('read', 'a released webgpu buffer was read (the tensor was disposed)');
    }
    if (offset < 0 || size < 0 || (offset + size) * 4 > data.buffer.size) {
      throw new TensorError(
        'read',
        `elements [${offset}, ${offset + size}) are outside a buffer of ${data.buffer.size / 4}`,
      );
    }
    this.checkAlive('read');
    const bytes = size * 4;
    if (bytes === 0) return new ArrayBuffer(0);
    this.reads++;
    const staging = this.takeStaging(bytes);
    this.commandEncoder().copyBufferToBuffer(data.buffer, offset * 4, staging, 0, bytes);
    this.flush();
    try {
      // A device lost while the map waits rejects it (a lost device may never answer).
      await this.untilLost('read', staging.mapAsync(1 /* GPUMapMode.READ */, 0, bytes));
    } catch (err) {
      staging.destroy();
      throw this.errorAfter('read', err);
    }
    const copy = staging.getMappedRange(0, bytes).slice(0);
    staging.unmap();
    this.stagingPool.push(staging);
    this.checkError('read');
    return copy;
  }

  /** Resolves when the device has done everything submitted so far. */
  async sync(): Promise<void> {
    this.checkAlive('sync');
    this.flush();
    try {
      await this.untilLost('sync', this.device.queue.onSubmittedWorkDone());
    } catch (err) {
      throw this.errorAfter('sync', err);
    }
    this.checkError('sync');
  }

  private takeStaging(bytes: number): GPUBuffer {
    const i = this.stagingPool.findIndex((b) => b.size >= bytes && b.size <= 4 * bytes);
    if (i >= 0) return this.stagingPool.splice(i, 1)[0];
    if (this.stagingPool.length > 8) this.stagingPool.shift()?.destroy();
    const size = Math.max(256, 2 ** Math.ceil(Math.log2(bytes)));
    return this.device.createBuffer({ size, usage: Usage.MAP_READ | Usage.COPY_DST });
  }

  private checkError(op: string): void {
    const err = this.takeError(op);
    if (err) throw err;
  }

  /** The device's first error since the last check (and how many followed), cleared. */
  private takeError(op: string): TensorError | null {
    if (this.deviceErrors.length === 0) return null;
    // A kernel that failed to compile comes first: the errors after it are its consequences.
    const i = Math.max(
      0,
      this.deviceErrors.findIndex((e) => e.startsWith('kernel ')),
    );
    const message = this.deviceErrors[i];
    const others = this.deviceErrors.length - 1 + this.moreErrors;
    const more = others > 0 ? ` (and ${others} more)` : '';
    this.deviceErrors.length = 0;
    this.moreErrors = 0;
    return new TensorError(op, `the WebGPU device reported an error${more}: ${message}`);
  }

  private errorAfter(op: string, err: unknown): Error {
    if (err instanceof TensorError) return err;
    if (this.lost !== null) return this.lostError(op, this.lost);
    return this.takeError(op) ?? (err as Error);
  }

  /** Destroys pooled buffers and the device's own buffers. */
  destroy(): void {
    if (this.lost !== null) return;
    this.flush();
    this.markLost('the backend was destroyed');
    this.pool.trim();
    for (const b of this.stagingPool) b.destroy();
    this.stagingPool.length = 0;
    this.paramBuffer.destroy();
  }
}
