import type { ScanArgs, ScanGradients, ScanOutputs, View } from '@statetune/tensor';
import { TensorError } from '@statetune/tensor';
import { copy } from './kernels/elementwise.js';
import { GpuData, type GpuRuntime } from './runtime.js';
import type { ScanAllocator, ScanGpuInputs, WebGpuScan } from './scan/index.js';

/**
 * The selective scan on the device: the backend makes every input a float32 buffer that
 * starts at byte 0, lends the scan kernel its buffer pool, and wraps the buffers it returns
 * as tensor memory. The kernel itself lives in `scan/`.
 */

/**
 * The scan kernel's interface: the `forward` and `backward` of `WebGpuScan` (in `scan/`), so a
 * substitute takes and returns the same `ScanGpuInputs`, `ScanAllocator`, `ScanGpuForward`
 * and `ScanGpuGrads`.
 */
export type ScanKernelLike = Pick<WebGpuScan, 'forward' | 'backward'>;

/** Makes the scan kernel for a device. */
export type ScanKernelFactory = (
  device: GPUDevice,
  options: { subgroups: boolean },
) => ScanKernelLike;

/** Runs the scan kernel for the backend. */
export class ScanBridge {
  private kernel: ScanKernelLike | null = null;

  constructor(
    private readonly rt: GpuRuntime,
    private readonly factory: ScanKernelFactory | null,
    private readonly subgroups: boolean,
  ) {}

  private get scan(): ScanKernelLike {
    if (!this.factory) {
      throw new TensorError(
        'selectiveScan',
        'the WebGPU selective-scan kernel is not available in this build; use the cpu backend for the scan',
      );
    }
    this.kernel ??= this.factory(this.rt.device, { subgroups: this.subgroups });
    return this.kernel;
  }

  private readonly allocator: ScanAllocator = {
    alloc: (bytes) => this.rt.pool.take(bytes),
    release: (buffer) => this.rt.pool.release(buffer),
  };

  /** The view's elements as a buffer starting at byte 0 (a copy when it starts elsewhere). */
  private dense(v: View, temps: GpuData[]): GPUBuffer {
    const d = v.data as GpuData;
    if (v.dtype !== 'float32') {
      throw new TensorError('selectiveScan', `inputs must be float32, got ${v.dtype}`);
    }
    const contiguous = v.strides.every((s, i) => {
      let expect = 1;
      for (let j = i + 1; j < v.shape.length; j++) expect *= v.shape[j];
      return s === expect || v.shape[i] === 1;
    });
    if (v.offset === 0 && contiguous) return d.buffer;
    const c = copy(this.rt, v, 'float32');
    temps.push(c);
    return c.buffer;
  }

  private inputs(args: ScanArgs, temps: GpuData[]): ScanGpuInputs {
    const opt = (v: View | null) => (v ? this.dense(v, temps) : null);
    return {
      batch: args.batch,
      dim: args.dim,
      seqlen: args.seqlen,
      dstate: args.dstate,
      u: this.dense(args.u, temps),
      delta: this.dense(args.delta, temps),
      A: this.dense(args.A, temps),
      B: this.dense(args.B, temps),
      C: this.dense(args.C, temps),
      D: opt(args.D),
      z: opt(args.z),
      deltaBias: opt(args.deltaBias),
      h0: opt(args.h0),
      h0Batched: args.h0 !== null && args.h0.shape.length === 3,
      stateOffset: opt(args.stateOffset),
      stateOffsetBatched: args.stateOffset !== null && args.stateOffset.shape.length === 3,
      deltaSoftplus: args.deltaSoftplus,
      saveCheckpoints: args.saveCheckpoints,
    };
  }

  forward(args: ScanArgs): ScanOutputs {
    const scan = this.scan;
    const temps: GpuData[] = [];
    const inputs = this.inputs(args, temps);
    const { batch, dim, seqlen, dstate } = args;
    // Submitted first, so that host writes the kernel makes (its parameters) cannot land
    // under commands recorded earlier.
    this.rt.flush();
    const r = scan.forward(this.rt.commandEncoder(), inputs, this.allocator);
    this.rt.recorded(4);
    for (const t of temps) this.rt.release(t);
    return {
      y: new GpuData(r.y, 'float32', batch * dim * seqlen),
      lastState: new GpuData(r.lastState, 'float32', batch * dim * dstate),
      saved: r.saved ? new GpuData(r.saved, 'float32', r.savedSize) : null,
      savedSize: r.saved ? r.savedSize : 0,
    };
  }

  backward(args: ScanArgs, saved: View, dy: View, dLastState: View | null): ScanGradients {
    const scan = this.scan;
    const temps: GpuData[] = [];
    const inputs = this.inputs(args, temps);
    const savedBuf = this.dense(saved, temps);
    const dyBuf = this.dense(dy, temps);
    const dLast = dLastState ? this.dense(dLastState, temps) : null;
    this.rt.flush();
    const g = scan.backward(
      this.rt.commandEncoder(),
      inputs,
      savedBuf,
      dyBuf,
      dLast,
      this.allocator,
    );
    this.rt.recorded(8);
    for (const t of temps) this.rt.release(t);
    const size = (v: View) => v.shape.reduce((p, d) => p * d, 1);
    const wrap = (b: GPUBuffer | null, v: View | null) =>
      b && v ? new GpuData(b, 'float32', size(v)) : null;
    return {
      u: wrap(g.u, args.u) as GpuData,
      delta: wrap(g.delta, args.delta) as GpuData,
      A: wrap(g.A, args.A) as GpuData,
      B: wrap(g.B, args.B) as GpuData,
      C: wrap(g.C, args.C) as GpuData,
      D: wrap(g.D, args.D),
      z: wrap(g.z, args.z),
      deltaBias: wrap(g.deltaBias, args.deltaBias),
      h0: wrap(g.h0, args.h0),
      stateOffset: wrap(g.stateOffset, args.stateOffset),
    };
  }
}
