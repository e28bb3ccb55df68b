import type {
  AdamWStep,
  Backend,
  BackendData,
  MatmulArgs,
  MemoryInfo,
  RandomKey,
  ScanArgs,
  ScanGradients,
  ScanOutputs,
  SgdStep,
  View,
} from '../backend.js';
import { allocHost, type DType, type HostArray } from '../dtype.js';
import * as M from '../math.js';
import { BINARY_OPS, type BinaryOp, type ReduceOp, UNARY_OPS, type UnaryOp } from '../ops/table.js';
import { philoxNormal, philoxUniform } from '../random.js';
import { contiguousStrides, type Shape, sizeOf } from '../shape.js';
import { matmulF32, matmulF64 } from './matmul.js';
import * as nn from './nn.js';
import { argmaxCpu, reduceCpu } from './reduce.js';
import {
  type ScanInputs,
  scanChunkSize,
  selectiveScanBackward,
  selectiveScanForward,
} from './scan.js';
import { compileLoop, type Operand, operand } from './strided.js';

const arr = (v: View) => v.data as HostArray;

function out(dtype: DType, shape: Shape): { array: HostArray; operand: Operand } {
  const array = allocHost(dtype, sizeOf(shape));
  return { array, operand: { array, offset: 0, strides: contiguousStrides(shape) } };
}

/** The elements of a contiguous float32 view as one array (a subarray when it is a window). */
function f32(v: View | null): Float32Array | null {
  if (!v) return null;
  const a = v.data as Float32Array;
  const n = sizeOf(v.shape);
  return v.offset === 0 && a.length === n ? a : a.subarray(v.offset, v.offset + n);
}

/**
 * The CPU backend: typed arrays as memory, loops compiled from the op table, a blocked
 * matmul, and fused kernels for the neural-network ops. Always available, synchronous, and
 * the reference the device backends are tested against.
 */
export class CpuBackend implements Backend {
  readonly name = 'cpu';
  readonly canReadSync = true;
  private bytes = 0;
  private buffers = 0;
  private readonly finalizer = new FinalizationRegistry<number>((n) => {
    this.bytes -= n;
    this.buffers--;
  });
  private readonly released = new WeakSet<object>();

  private track<T extends HostArray>(a: T): T {
    this.bytes += a.byteLength;
    this.buffers++;
    this.finalizer.register(a, a.byteLength, a);
    return a;
  }

  allocate(dtype: DType, size: number): BackendData {
    return this.track(allocHost(dtype, size));
  }

  upload(values: HostArray): BackendData {
    return this.track(values);
  }

  async read(data: BackendData, _dtype: DType, offset: number, size: number): Promise<HostArray> {
    return (data as HostArray).slice(offset, offset + size);
  }

  readSync(data: BackendData, _dtype: DType, offset: number, size: number): HostArray {
    return (data as HostArray).slice(offset, offset + size);
  }

  release(data: BackendData): void {
    // Memory comes back when the array is collected; count it as gone now.
    if (this.released.has(data)) return;
    this.released.add(data);
    if (this.finalizer.unregister(data)) {
      this.bytes -= (data as HostArray).byteLength;
      this.buffers--;
    }
  }

  memory(): MemoryInfo {
    return { bytesInUse: this.bytes, buffers: this.buffers };
  }

  async sync(): Promise<void> {}

  fill(dtype: DType, size: number, value: number): BackendData {
    const a = allocHost(dtype, size);
    if (value !== 0) a.fill(value);
    return this.track(a);
  }

  copy(x: View, dtype: DType): BackendData {
    const o = out(dtype, x.shape);
    compileLoop(['x'], 'x', M)(x.shape, o.operand, [operand(x)]);
    return this.track(o.array);
  }

  copyInto(dst: View, src: View): void {
    compileLoop(['x'], 'x', M)(dst.shape, operand(dst), [operand(src)]);
  }

  random(kind: 'uniform' | 'normal', dtype: DType, size: number, key: RandomKey): BackendData {
    const a = allocHost(dtype, size);
    if (kind === 'uniform') philoxUniform(key, a);
    else philoxNormal(key, a);
    return this.track(a);
  }

  unary(op: UnaryOp, x: View, outDtype: DType): BackendData {
    const o = out(outDtype, x.shape);
    compileLoop(['x'], UNARY_OPS[op].js, M)(x.shape, o.operand, [operand(x)]);
    return this.track(o.array);
  }

  unaryGrad(op: UnaryOp, x: View, y: View, dy: View): BackendData {
    const o = out(dy.dtype, x.shape);
    compileLoop(['x', 'y', 'dy'], UNARY_OPS[op].grad, M)(x.shape, o.operand, [
      operand(x),
      operand(y),
      operand(dy),
    ]);
    return this.track(o.array);
  }

  binary(op: BinaryOp, a: View, b: View, outShape: Shape, outDtype: DType): BackendData {
    const spec = BINARY_OPS[op];
    const expr = a.dtype === 'int32' && 'jsInt' in spec ? spec.jsInt : spec.js;
    const o = out(outDtype, outShape);
    compileLoop(['a', 'b'], expr, M)(outShape, o.operand, [operand(a), operand(b)]);
    return this.track(o.array);
  }

  where(cond: View, a: View, b: View, outShape: Shape, outDtype: DType): BackendData {
    const o = out(outDtype, outShape);
    compileLoop(['c', 'a', 'b'], 'c !== 0 ? a : b', M)(outShape, o.operand, [
      operand(cond),
      operand(a),
      operand(b),
    ]);
    return this.track(o.array);
  }

  reduce(op: ReduceOp, x: View, axes: readonly number[]): BackendData {
    return this.track(reduceCpu(op, x, axes));
  }

  argmax(x: View, axis: number): BackendData {
    return this.track(argmaxCpu(x, axis));
  }

  matmul(args: MatmulArgs): BackendData {
    const { a, b, batchShape, m, n, k } = args;
    const batch = sizeOf(batchShape);
    const offsets = (v: View) => {
      const offs = new Float64Array(batch);
      const r = batchShape.length;
      const idx = new Int32Array(r);
      let p = v.offset;
      for (let i = 0; i < batch; i++) {
        offs[i] = p;
        for (let d = r - 1; d >= 0; d--) {
          p += v.strides[d];
          if (++idx[d] < batchShape[d]) break;
          idx[d] = 0;
          p -= v.strides[d] * batchShape[d];
        }
      }
      return offs;
    };
    const result = allocHost(a.dtype, batch * m * n);
    if (a.dtype === 'float64') {
      matmulF64(
        result as Float64Array,
        0,
        arr(a) as Float64Array,
        offsets(a),
        args.transA,
        arr(b) as Float64Array,
        offsets(b),
        args.transB,
        m,
        n,
        k,
      );
    } else {
      matmulF32(
        result as Float32Array,
        0,
        arr(a) as Float32Array,
        offsets(a),
        args.transA,
        arr(b) as Float32Array,
        offsets(b),
        args.transB,
        m,
        n,
        k,
      );
    }
    return this.track(result);
  }

  indexSelect(x: View, outer: number, n: number, inner: number, index: View): BackendData {
    return this.track(nn.indexSelectCpu(x, outer, n, inner, index));
  }

  indexAdd(dy: View, outer: number, n: number, inner: number, index: View): BackendData {
    return this.track(nn.indexAddCpu(dy, outer, n, inner, index));
  }

  softmax(x: View, rows: number, cols: number, log: boolean): BackendData {
    return this.track(nn.softmaxRows(x, rows, cols, log));
  }

  softmaxGrad(y: View, dy: View, rows: number, cols: number, log: boolean): BackendData {
    return this.track(nn.softmaxRowsGrad(y, dy, rows, cols, log));
  }

  crossEntropy(logits: View, targets: View, rows: number, cols: number, ignoreIndex: number) {
    const r = nn.crossEntropyRows(logits, targets, rows, cols, ignoreIndex);
    return { loss: this.track(r.loss), lse: this.track(r.lse) };
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
    return this.track(
      nn.crossEntropyRowsGrad(logits, lse, targets, dloss, rows, cols, ignoreIndex),
    );
  }

  rmsNorm(x: View, weight: View | null, rows: number, cols: number, eps: number) {
    const r = nn.rmsNormRows(x, weight, rows, cols, eps);
    return { y: this.track(r.y), rstd: this.track(r.rstd) };
  }

  rmsNormGrad(x: View, weight: View | null, rstd: View, dy: View, rows: number, cols: number) {
    const r = nn.rmsNormRowsGrad(x, weight, rstd, dy, rows, cols);
    return { dx: this.track(r.dx), dweight: r.dweight ? this.track(r.dweight) : null };
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
    return this.track(nn.conv1dCausal(x, weight, bias, batch, channels, len, width));
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
    const r = nn.conv1dCausalGrad(x, weight, dy, batch, channels, len, width, withBias);
    return {
      dx: this.track(r.dx),
      dweight: this.track(r.dweight),
      dbias: r.dbias ? this.track(r.dbias) : null,
    };
  }

  private scanInputs(args: ScanArgs): ScanInputs {
    return {
      shape: { batch: args.batch, dim: args.dim, seqlen: args.seqlen, dstate: args.dstate },
      u: f32(args.u) as Float32Array,
      delta: f32(args.delta) as Float32Array,
      A: f32(args.A) as Float32Array,
      B: f32(args.B) as Float32Array,
      C: f32(args.C) as Float32Array,
      D: f32(args.D),
      z: f32(args.z),
      deltaBias: f32(args.deltaBias),
      deltaSoftplus: args.deltaSoftplus,
      h0: f32(args.h0),
      h0PerBatch: args.h0 !== null && args.h0.shape.length === 3,
      stateOffset: f32(args.stateOffset),
      offsetPerBatch: args.stateOffset !== null && args.stateOffset.shape.length === 3,
    };
  }

  selectiveScan(args: ScanArgs): ScanOutputs {
    const r = selectiveScanForward(this.scanInputs(args), {
      saveCheckpoints: args.saveCheckpoints,
    });
    return {
      y: this.track(r.y),
      lastState: this.track(r.lastState),
      saved: args.saveCheckpoints ? this.track(r.checkpoints) : null,
      savedSize: args.saveCheckpoints ? r.checkpoints.length : 0,
    };
  }

  selectiveScanGrad(args: ScanArgs, saved: View, dy: View, dLastState: View | null): ScanGradients {
    const g = selectiveScanBackward(
      this.scanInputs(args),
      { checkpoints: f32(saved) as Float32Array, chunkSize: scanChunkSize(args.seqlen) },
      f32(dy) as Float32Array,
      f32(dLastState),
    );
    const t = <T extends HostArray | null>(a: T) => (a ? this.track(a) : null);
    return {
      u: this.track(g.du),
      delta: this.track(g.ddelta),
      A: this.track(g.dA),
      B: this.track(g.dB),
      C: this.track(g.dC),
      D: t(g.dD),
      z: t(g.dz),
      deltaBias: t(g.ddeltaBias),
      h0: t(g.dh0),
      stateOffset: t(g.dStateOffset),
    };
  }

  adamwStep(param: View, grad: View, m: View, v: View, step: AdamWStep): void {
    nn.adamwCpu(param, grad, m, v, step);
  }

  sgdStep(param: View, grad: View, momentum: View | null, step: SgdStep): void {
    nn.sgdCpu(param, grad, momentum, step);
  }
}
