import { backward as runBackward } from './autograd.js';
import type { Backend, BackendData, View } from './backend.js';
import { type DType, type HostArray, isFloat } from './dtype.js';
import { findBackend, getBackend, type Tracked, track } from './engine.js';
import { fmtShape, TensorError } from './errors.js';
import * as binary from './ops/binary.js';
import * as indexing from './ops/indexing.js';
import * as linalg from './ops/matmul.js';
import * as reduce from './ops/reduce.js';
import * as softmaxOps from './ops/softmax.js';
import * as unary from './ops/unary.js';
import * as views from './ops/views.js';
import { contiguousStrides, isContiguous, type Shape, sizeOf } from './shape.js';

/**
 * Backend memory shared by a tensor and its views. Released when the last tensor using it
 * is disposed (or, on the CPU, when the garbage collector finds it unreachable).
 */
export class Storage {
  private refs = 1;

  constructor(
    readonly backend: Backend,
    readonly data: BackendData,
    readonly dtype: DType,
    readonly size: number,
  ) {}

  /** Another tensor now uses this memory. */
  retain(): void {
    this.refs++;
  }

  /** True when more than one live tensor uses this memory. */
  get shared(): boolean {
    return this.refs > 1;
  }

  /** A tensor using this memory was disposed. */
  release(): void {
    if (--this.refs === 0) this.backend.release(this.data);
  }
}

/**
 * A node of the autograd graph: the op that made one or more tensors, its inputs, and how to
 * turn the gradients of its outputs into gradients of its inputs.
 */
export interface GradNode {
  /** The op's name, shown in errors. */
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Number of outputs the op produced. */
  readonly outputs: number;
  /** Gradients of the inputs (null where none flows), from the gradients of the outputs (null where none arrived). */
  readonly backward: (grads: readonly (Tensor | null)[]) => readonly (Tensor | null | undefined)[];
}

/** Nested arrays of numbers, as `arraySync` returns. */
export type NestedArray = number | NestedArray[];

/**
 * An n-dimensional array on a backend, with autograd. Tensors are immutable values; views
 * (reshape, permute, slice, ...) share memory with the tensor they come from.
 */
export class Tensor implements Tracked {
  /** Size of each axis. */
  readonly shape: readonly number[];
  /** Elements to step per axis (0 on broadcast axes). */
  readonly strides: readonly number[];
  /** First element's index into the storage. */
  readonly offset: number;
  /** Element type. */
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;
  /** The memory this tensor reads (shared with its views). For backend and op authors. */
  readonly storage: Storage;
  /** The op that produced this tensor when it was recorded for autograd; null for leaves. */
  gradFn: GradNode | null = null;
  /** Which output of `gradFn` this is. */
  outputIndex = 0;
  /** Accumulated gradient after `backward()`, for leaves that require it (and retained non-leaves). */
  grad: Tensor | null = null;
  /** An optional name, shown in messages (parameter names). */
  name: string | undefined;
  private requires = false;
  private retains = false;
  private disposed = false;

  /** Wraps storage; most code uses the creation functions (`tensor`, `zeros`, ...) instead. */
  constructor(storage: Storage, shape: Shape, strides?: readonly number[], offset = 0) {
    this.storage = storage;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze(strides ? [...strides] : contiguousStrides(shape));
    this.offset = offset;
    this.dtype = storage.dtype;
    this.size = sizeOf(shape);
    track(this);
  }

  /** Wraps memory a backend kernel just allocated (contiguous). For backend and op authors. */
  static fromData(
    data: BackendData,
    shape: Shape,
    dtype: DType,
    backend: Backend = getBackend(),
  ): Tensor {
    return new Tensor(new Storage(backend, data, dtype, sizeOf(shape)), shape);
  }

  /** The backend holding this tensor's memory. */
  get backend(): Backend {
    return this.storage.backend;
  }

  /** Number of axes. */
  get rank(): number {
    return this.shape.length;
  }

  /** True when the elements lie in memory in row-major order without gaps. */
  get isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }

  /** True when no recorded op produced this tensor. */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  /** True after `dispose()`. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Whether gradients flow to this tensor. Only leaves can be switched. */
  get requiresGrad(): boolean {
    return this.requires;
  }

  set requiresGrad(value: boolean) {
    if (!this.isLeaf) {
      throw new TensorError(
        'requiresGrad',
        `can only be set on leaf tensors; this one was produced by ${this.gradFn?.op} (use detach())`,
      );
    }
    if (value && !isFloat(this.dtype)) {
      throw new TensorError(
        'requiresGrad',
        `only float tensors can require gradients, got ${this.dtype}`,
      );
    }
    this.requires = value;
  }

  /** Sets `requiresGrad` and returns this tensor. */
  requiresGrad_(value = true): this {
    this.requiresGrad = value;
    return this;
  }

  /** Marks an op output as part of the graph (called by `record`). For op authors. */
  markRequiresGrad(node: GradNode, index: number): void {
    this.gradFn = node;
    this.outputIndex = index;
    this.requires = true;
  }

  /** Keeps `.grad` on this non-leaf tensor after `backward()`. */
  retainGrad(): this {
    this.retains = true;
    return this;
  }

  /** True when backward() keeps this tensor's gradient in `.grad`. */
  get retainsGrad(): boolean {
    return this.retains || (this.isLeaf && this.requires);
  }

  /** The strided view kernels read; throws on a disposed tensor. For backend and op authors. */
  kernelView(): View {
    if (this.disposed) {
      throw new TensorError(
        'tensor',
        `a disposed tensor of shape ${fmtShape(this.shape)}${this.name ? ` (${this.name})` : ''} was used; ` +
          'keep() tensors that must outlive their tidy() scope',
      );
    }
    return {
      data: this.storage.data,
      dtype: this.dtype,
      shape: this.shape,
      strides: this.strides,
      offset: this.offset,
    };
  }

  /** A tensor sharing this one's memory with another shape and strides (not recorded). For op authors. */
  withLayout(shape: Shape, strides: readonly number[], offset: number): Tensor {
    this.kernelView();
    this.storage.retain();
    return new Tensor(this.storage, shape, strides, offset);
  }

  /** Releases this tensor's memory now (when no other view shares it). Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.storage.release();
  }

  /** Support for `using t = ...`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  // Reading values.

  /** The values in row-major order, as a new host array (waits for device work). */
  async data(): Promise<HostArray> {
    const c = this.denseCopy();
    try {
      return await this.backend.read(c.storage.data, this.dtype, c.offset, this.size);
    } finally {
      if (c !== this) c.dispose();
    }
  }

  /** The values in row-major order, synchronously (CPU-readable backends only). */
  dataSync(): HostArray {
    if (!this.backend.canReadSync) {
      throw new TensorError(
        'dataSync',
        `the ${this.backend.name} backend reads asynchronously: use await tensor.data()`,
      );
    }
    const c = this.denseCopy();
    try {
      return this.backend.readSync(c.storage.data, this.dtype, c.offset, this.size);
    } finally {
      if (c !== this) c.dispose();
    }
  }

  /** This tensor when its elements are dense in memory, else a dense copy (not recorded). */
  private denseCopy(): Tensor {
    const v = this.kernelView();
    if (this.isContiguous) return this;
    return Tensor.fromData(this.backend.copy(v, this.dtype), this.shape, this.dtype, this.backend);
  }

  /**
   * This tensor on another backend: a copy through the host, or this tensor when it is
   * already there. The copy is a leaf (it does not carry gradients back).
   */
  async to(target: Backend | string): Promise<Tensor> {
    const backend = typeof target === 'string' ? findBackend(target) : target;
    if (!backend) {
      throw new TensorError(
        'to',
        `backend "${target}" has not been started: await setBackend("${target}") first`,
      );
    }
    if (backend === this.backend) return this;
    const moved = Tensor.fromData(
      backend.upload(await this.data()),
      this.shape,
      this.dtype,
      backend,
    );
    moved.name = this.name;
    return moved;
  }

  /** The values as nested arrays. */
  async array(): Promise<NestedArray> {
    return nest(await this.data(), this.shape);
  }

  /** The values as nested arrays, synchronously. */
  arraySync(): NestedArray {
    return nest(this.dataSync(), this.shape);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) {
      throw new TensorError(
        'item',
        `needs a tensor with one element, got shape ${fmtShape(this.shape)}`,
      );
    }
    return this.dataSync()[0];
  }

  /** A short description with the leading values. */
  toString(): string {
    const head = `Tensor(${this.dtype}, ${fmtShape(this.shape)}${this.gradFn ? `, grad_fn=${this.gradFn.op}` : ''})`;
    if (this.disposed) return `${head} <disposed>`;
    if (!this.backend.canReadSync) return head;
    const values = Array.from(this.dataSync().subarray(0, 8), (v) => Number(v.toPrecision(6)));
    return `${head} [${values.join(', ')}${this.size > 8 ? ', ...' : ''}]`;
  }

  // Autograd.

  /**
   * Computes gradients of this tensor with respect to every leaf that requires them and
   * adds them to their `.grad`. Without `gradient` the tensor must hold one element.
   */
  backward(gradient?: Tensor, options: { retainGraph?: boolean } = {}): void {
    runBackward(this, gradient, options.retainGraph ?? false);
  }

  /** A tensor sharing this one's memory, cut from the graph. */
  detach(): Tensor {
    return this.withLayout(this.shape, this.strides, this.offset);
  }

  /** Copies `source`'s values into this tensor's memory in place (no autograd), converting the dtype. */
  assign(source: Tensor): this {
    views.assign(this, source);
    return this;
  }

  // Views and copies.

  /** A contiguous tensor with the same values (this tensor when already contiguous). */
  contiguous(): Tensor {
    return views.contiguous(this);
  }
  /** A contiguous copy. */
  clone(): Tensor {
    return views.clone(this);
  }
  /** Converts to another dtype (a copy; the same tensor when the dtype already matches). */
  cast(dtype: DType): Tensor {
    return unary.cast(this, dtype);
  }
  /** Same shape, new layout: -1 infers one axis. Copies only when the layout requires it. */
  reshape(...shape: number[] | [readonly number[]]): Tensor {
    return views.reshape(this, flatArgs(shape));
  }
  /** Same elements, another shape, sharing memory: errors when the tensor is not contiguous. */
  view(...shape: number[] | [readonly number[]]): Tensor {
    return views.view(this, flatArgs(shape));
  }
  /** Merges axes `start..end` into one. */
  flatten(start = 0, end = -1): Tensor {
    return views.flatten(this, start, end);
  }
  /** Reorders axes. */
  permute(...axes: number[] | [readonly number[]]): Tensor {
    return views.permute(this, flatArgs(axes));
  }
  /** Swaps two axes (default: the last two). */
  transpose(a = -2, b = -1): Tensor {
    return views.transpose(this, a, b);
  }
  /** Broadcasts to a larger shape without copying. */
  expand(...shape: number[] | [readonly number[]]): Tensor {
    return views.expand(this, flatArgs(shape));
  }
  /** Removes axes of size 1: the given ones (others are left alone, as torch.squeeze), or all. */
  squeeze(axis?: number | readonly number[]): Tensor {
    return views.squeeze(this, axis);
  }
  /** Inserts an axis of size 1. */
  unsqueeze(axis: number): Tensor {
    return views.unsqueeze(this, axis);
  }
  /** Elements `start` (inclusive) to `end` (exclusive) by `step` along `axis`; negative bounds count from the end. */
  slice(axis: number, start: number, end?: number, step = 1): Tensor {
    return views.slice(this, axis, start, end, step);
  }
  /** `length` elements from `start` along `axis` (negative start counts from the end); errors past the end. */
  narrow(axis: number, start: number, length: number): Tensor {
    return views.narrow(this, axis, start, length);
  }
  /** The sub-tensor at `index` along `axis` (the axis is removed). */
  select(axis: number, index: number): Tensor {
    return views.select(this, axis, index);
  }
  /** Splits into pieces of the given sizes (or of equal size `sizes`) along `axis`. */
  split(sizes: number | readonly number[], axis = 0): Tensor[] {
    return views.split(this, sizes, axis);
  }
  /** Rows of a table picked by int32 indices along `axis` (embedding lookup for axis 0). */
  indexSelect(axis: number, index: Tensor): Tensor {
    return indexing.indexSelect(this, axis, index);
  }

  // Elementwise.

  add(other: Tensor | number): Tensor {
    return binary.add(this, other);
  }
  sub(other: Tensor | number): Tensor {
    return binary.sub(this, other);
  }
  mul(other: Tensor | number): Tensor {
    return binary.mul(this, other);
  }
  div(other: Tensor | number): Tensor {
    return binary.div(this, other);
  }
  pow(other: Tensor | number): Tensor {
    return binary.pow(this, other);
  }
  maximum(other: Tensor | number): Tensor {
    return binary.maximum(this, other);
  }
  minimum(other: Tensor | number): Tensor {
    return binary.minimum(this, other);
  }
  /** Limits values to [min, max]. */
  clamp(min?: number, max?: number): Tensor {
    return binary.clamp(this, min, max);
  }
  eq(other: Tensor | number): Tensor {
    return binary.compare('eq', this, other);
  }
  ne(other: Tensor | number): Tensor {
    return binary.compare('ne', this, other);
  }
  lt(other: Tensor | number): Tensor {
    return binary.compare('lt', this, other);
  }
  le(other: Tensor | number): Tensor {
    return binary.compare('le', this, other);
  }
  gt(other: Tensor | number): Tensor {
    return binary.compare('gt', this, other);
  }
  ge(other: Tensor | number): Tensor {
    return binary.compare('ge', this, other);
  }
  neg(): Tensor {
    return unary.unaryOp('neg', this);
  }
  abs(): Tensor {
    return unary.unaryOp('abs', this);
  }
  square(): Tensor {
    return unary.unaryOp('square', this);
  }
  exp(): Tensor {
    return unary.unaryOp('exp', this);
  }
  log(): Tensor {
    return unary.unaryOp('log', this);
  }
  sqrt(): Tensor {
    return unary.unaryOp('sqrt', this);
  }
  rsqrt(): Tensor {
    return unary.unaryOp('rsqrt', this);
  }
  reciprocal(): Tensor {
    return unary.unaryOp('reciprocal', this);
  }
  sigmoid(): Tensor {
    return unary.unaryOp('sigmoid', this);
  }
  tanh(): Tensor {
    return unary.unaryOp('tanh', this);
  }
  relu(): Tensor {
    return unary.unaryOp('relu', this);
  }
  silu(): Tensor {
    return unary.unaryOp('silu', this);
  }
  softplus(): Tensor {
    return unary.unaryOp('softplus', this);
  }
  sign(): Tensor {
    return unary.unaryOp('sign', this);
  }
  expm1(): Tensor {
    return unary.unaryOp('expm1', this);
  }
  log1p(): Tensor {
    return unary.unaryOp('log1p', this);
  }
  sin(): Tensor {
    return unary.unaryOp('sin', this);
  }
  cos(): Tensor {
    return unary.unaryOp('cos', this);
  }
  floor(): Tensor {
    return unary.unaryOp('floor', this);
  }
  ceil(): Tensor {
    return unary.unaryOp('ceil', this);
  }
  /** Rounds half to even, as torch.round. */
  round(): Tensor {
    return unary.unaryOp('round', this);
  }
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    return unary.unaryOp(approximate === 'tanh' ? 'gelu_tanh' : 'gelu', this);
  }

  // Reductions.

  /** Sum over `axes` (all when omitted). */
  sum(axes?: number | readonly number[], keepdim = false): Tensor {
    return reduce.sum(this, axes, keepdim);
  }
  /** Mean over `axes` (all when omitted). */
  mean(axes?: number | readonly number[], keepdim = false): Tensor {
    return reduce.mean(this, axes, keepdim);
  }
  /** Maximum over `axes` (all when omitted); the gradient is shared among ties. */
  max(axes?: number | readonly number[], keepdim = false): Tensor {
    return reduce.max(this, axes, keepdim);
  }
  /** Minimum over `axes` (all when omitted). */
  min(axes?: number | readonly number[], keepdim = false): Tensor {
    return reduce.min(this, axes, keepdim);
  }
  /** Index of the first maximum along `axis` (int32). */
  argmax(axis = -1, keepdim = false): Tensor {
    return reduce.argmax(this, axis, keepdim);
  }
  /** Softmax along `axis`. */
  softmax(axis = -1): Tensor {
    return softmaxOps.softmax(this, axis);
  }
  /** Log-softmax along `axis`. */
  logSoftmax(axis = -1): Tensor {
    return softmaxOps.logSoftmax(this, axis);
  }

  /** Batched matrix product with broadcasting over leading axes. */
  matmul(other: Tensor): Tensor {
    return linalg.matmul(this, other);
  }
}

function flatArgs(args: number[] | [readonly number[]]): number[] {
  return args.length === 1 && Array.isArray(args[0]) ? [...args[0]] : (args as number[]);
}

function nest(values: HostArray, shape: readonly number[]): NestedArray {
  if (shape.length === 0) return values[0];
  let pos = 0;
  const build = (axis: number): NestedArray[] => {
    const out: NestedArray[] = [];
    for (let i = 0; i < shape[axis]; i++) {
      out.push(axis === shape.length - 1 ? values[pos++] : build(axis + 1));
    }
    return out;
  };
  return build(0);
}
