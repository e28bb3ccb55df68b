/**
 * The selective-scan kernel as tasks: a scan job (forward or backward, {@link ScanJob}) is
 * cut into tasks of one batch entry and one block of channels, which the calling thread and
 * the worker threads of the CPU pool claim from a shared counter. Each task runs either the
 * WebAssembly SIMD kernels of `scan-wasm.ts` (four channels per call) or, where WebAssembly
 * SIMD is unavailable, the float64 JS kernel in this file.
 *
 * Determinism: a task writes only its own outputs. What is summed over channels or the batch
 * is summed per task into partial buffers of the job (dA, dD, ddeltaBias, dh0 and
 * dStateOffset per batch entry; dB and dC per task), which `scan.ts` reduces in a fixed
 * order. The cut into tasks depends only on the shape, so results are bitwise the same
 * whichever thread runs a task and however many threads there are.
 *
 * Everything lives inside {@link createScanKernel} and uses nothing from outside it, so that
 * the pool can ship the very same code to its threads as a source string.
 */

import type { ScanAbi } from './scan-wasm.js';

/**
 * A scan job: the arrays of `ScanInputs` and the outputs, all row-major as in `scan.ts`;
 * absent inputs are empty arrays, and the arrays of the other direction are empty too.
 * Tasks `0..tasks-1` are `(b, block) = (floor(task / blocks), task % blocks)`, the block
 * covering channels `[block * blockDim, min(dim, (block + 1) * blockDim))`.
 */
export interface ScanJob {
  /** `[next task, tasks done, failed (0 | 1)]`; see `PoolJob`. */
  readonly sync: Int32Array;
  readonly tasks: number;
  /** Run the WebAssembly kernels (true) or the JS kernel; a thread whose engine differs runs no task. */
  readonly simd: boolean;
  readonly backward: boolean;
  readonly batch: number;
  readonly dim: number;
  readonly seqlen: number;
  readonly dstate: number;
  readonly chunk: number;
  readonly nChunks: number;
  /** Channel blocks per batch entry. */
  readonly blocks: number;
  /** Channels per block, a multiple of 4. */
  readonly blockDim: number;
  readonly softplus: boolean;
  /** Forward: save the chunk checkpoints. */
  readonly save: boolean;
  readonly hasD: boolean;
  readonly hasZ: boolean;
  readonly hasBias: boolean;
  readonly hasH0: boolean;
  readonly hasOffset: boolean;
  readonly hasDLast: boolean;
  readonly h0PerBatch: boolean;
  readonly offsetPerBatch: boolean;
  readonly u: Float32Array;
  readonly delta: Float32Array;
  readonly z: Float32Array;
  readonly A: Float32Array;
  readonly B: Float32Array;
  readonly C: Float32Array;
  readonly D: Float32Array;
  readonly bias: Float32Array;
  readonly h0: Float32Array;
  readonly offset: Float32Array;
  /** Forward outputs: y (batch, dim, seqlen), lastState (batch, dim, dstate). */
  readonly y: Float32Array;
  readonly lastState: Float32Array;
  /** (batch, dim, nChunks, dstate): written by a forward with `save`, read by the backward. */
  readonly checkpoints: Float32Array;
  /** Backward inputs: dout (batch, dim, seqlen), dLast (batch, dim, dstate). */
  readonly dout: Float32Array;
  readonly dLast: Float32Array;
  /** Backward outputs, each element written once: (batch, dim, seqlen). */
  readonly du: Float32Array;
  readonly ddelta: Float32Array;
  readonly dz: Float32Array;
  /** Per batch entry: (batch, dim, dstate). */
  readonly dA: Float64Array;
  /** Per batch entry: (batch, dim). */
  readonly dD: Float64Array;
  readonly dBias: Float64Array;
  /** Per batch entry: (batch, dim, dstate); written when h0 / the offset is given. */
  readonly dh0: Float64Array;
  readonly dOff: Float64Array;
  /** Per task: (batch, blocks, seqlen, dstate, 2), the block's sums of dB (0) and dC (1). */
  readonly dBC: Float64Array;
}

/** One thread's kernel: the WebAssembly instance and its memory, or the JS kernel. */
export interface ScanEngine {
  /** WebAssembly SIMD (false: the float64 JS kernel). */
  readonly simd: boolean;
}

/** The functions {@link createScanKernel} returns. */
export interface ScanKernel {
  /** Makes one thread's engine; WebAssembly SIMD from `wasmBytes` when it compiles, else JS. */
  createEngine(wasmBytes: Uint8Array | null): ScanEngine;
  /**
   * Claims and runs tasks of `job` until none is left; returns how many it ran. Runs none
   * when the engine's kind differs from `job.simd`. A task that throws is counted as done
   * and flagged in `job.sync[2]`.
   */
  runTasks(engine: ScanEngine, job: ScanJob): number;
  /** Runs every task of `job` in order on this thread, ignoring `sync`; throws what a task throws. */
  runAll(engine: ScanEngine, job: ScanJob): void;
}

/** Builds the kernel; self-contained (see the file comment), so keep it free of outer names. */
export function createScanKernel(abi: ScanAbi): ScanKernel {
  /** The part of the WebAssembly JS API used here (the package's lib has no DOM types). */
  interface WasmApi {
    Memory: new (descriptor: {
      initial: number;
    }) => { buffer: ArrayBuffer; grow(pages: number): number };
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  }
  type I32Fn = (...args: number[]) => void;
  interface Wasm {
    memory: { buffer: ArrayBuffer; grow(pages: number): number };
    forward: I32Fn;
    backward: I32Fn;
    flush: I32Fn;
    f32: Float32Array;
    f64: Float64Array;
  }
  interface Engine extends ScanEngine {
    readonly wasm: Wasm | null;
  }

  const align16 = (bytes: number) => Math.ceil(bytes / 16) * 16;

  /** Grows the memory to `bytes` and returns fresh views when it moved. */
  function reserve(w: Wasm, bytes: number): void {
    const have = w.memory.buffer.byteLength;
    if (have < bytes) w.memory.grow(Math.ceil((bytes - have) / 65536));
    if (w.f32.buffer !== w.memory.buffer) {
      w.f32 = new Float32Array(w.memory.buffer);
      w.f64 = new Float64Array(w.memory.buffer);
    }
  }

  function createEngine(wasmBytes: Uint8Array | null): Engine {
    const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    if (wasmBytes !== null && api !== undefined) {
      try {
        const memory = new api.Memory({ initial: 16 });
        const { exports } = new api.Instance(new api.Module(wasmBytes), { env: { mem: memory } });
        const fn = (name: string) => exports[name] as I32Fn;
        const wasm: Wasm = {
          memory,
          forward: fn('forward'),
          backward: fn('backward'),
          flush: fn('flush'),
          f32: new Float32Array(memory.buffer),
          f64: new Float64Array(memory.buffer),
        };
        return { simd: true, wasm };
      } catch {
        // No SIMD in this engine, or compiling WebAssembly is not allowed here (CSP).
      }
    }
    return { simd: false, wasm: null };
  }

  // ---------------------------------------------------------------- float64 JS kernel

  /** PyTorch's softplus (threshold 20) when `softplus`, else the identity. */
  function deltaToDt(v: number, softplus: boolean): number {
    return softplus && v <= 20 ? Math.log1p(Math.exp(v)) : v;
  }

  /** `B[b]` and `C[b]` (dstate, seqlen) as (seqlen, dstate) float64. */
  function transposeBC(job: ScanJob, b: number): [Float64Array, Float64Array] {
    const { seqlen: L, dstate: N } = job;
    const Bt = new Float64Array(L * N);
    const Ct = new Float64Array(L * N);
    for (let n = 0; n < N; n++) {
      const src = (b * N + n) * L;
      for (let t = 0; t < L; t++) {
        Bt[t * N + n] = job.B[src + t];
        Ct[t * N + n] = job.C[src + t];
      }
    }
    return [Bt, Ct];
  }

  function jsForward(job: ScanJob, b: number, d0: number, d1: number): void {
    const { dim, seqlen: L, dstate: N, chunk, nChunks, save, softplus } = job;
    const { u, delta, z, A, D, bias, h0, offset, y, lastState, checkpoints } = job;
    const [Bt, Ct] = transposeBC(job, b);
    const h = new Float64Array(N);
    const aRow = new Float64Array(N);
    const offRow = new Float64Array(N);
    for (let d = d0; d < d1; d++) {
      const bd = b * dim + d;
      const row = bd * L;
      const dSkip = job.hasD ? D[d] : 0;
      const dtBias = job.hasBias ? bias[d] : 0;
      for (let n = 0; n < N; n++) aRow[n] = A[d * N + n];
      const h0Base = (job.h0PerBatch ? bd : d) * N;
      for (let n = 0; n < N; n++) h[n] = job.hasH0 ? h0[h0Base + n] : 0;
      const offBase = (job.offsetPerBatch ? bd : d) * N;
      for (let n = 0; n < N; n++) offRow[n] = job.hasOffset ? offset[offBase + n] : 0;

      for (let c = 0; c < nChunks; c++) {
        if (save) {
          const cp = (bd * nChunks + c) * N;
          for (let n = 0; n < N; n++) checkpoints[cp + n] = h[n];
        }
        const tEnd = Math.min(L, (c + 1) * chunk);
        for (let t = c * chunk; t < tEnd; t++) {
          const dt = deltaToDt(delta[row + t] + dtBias, softplus);
          const ut = u[row + t];
          const dtu = dt * ut;
          const bc = t * N;
          let acc = 0;
          for (let n = 0; n < N; n++) {
            const hn = Math.exp(dt * aRow[n]) * h[n] + dtu * Bt[bc + n];
            h[n] = hn;
            acc += Ct[bc + n] * (hn + offRow[n]);
          }
          let yt = acc + dSkip * ut;
          if (job.hasZ) {
            const zt = z[row + t];
            yt *= zt / (1 + Math.exp(-zt));
          }
          y[row + t] = yt;
        }
      }
      for (let n = 0; n < N; n++) lastState[bd * N + n] = h[n];
    }
  }

  function jsBackward(job: ScanJob, b: number, block: number, d0: number, d1: number): void {
    const { dim, seqlen: L, dstate: N, chunk, nChunks, softplus } = job;
    const { u, delta, z, A, D, bias, offset, checkpoints, dout, dLast, du, ddelta, dz } = job;
    const [Bt, Ct] = transposeBC(job, b);
    // This block's sums over its channels: (seqlen, dstate, 2), dB then dC.
    const dBC = job.dBC;
    const bcBase = (b * job.blocks + block) * L * N * 2;
    dBC.fill(0, bcBase, bcBase + L * N * 2);

    // Scratch reused for every channel. hs[k] is the state entering step k of the chunk, so it
    // holds chunk + 1 states.
    const span = Math.min(chunk, L);
    const hs = new Float64Array((span + 1) * N);
    const decay = new Float64Array(span * N);
    const dtBuf = new Float64Array(span);
    const dtGrad = new Float64Array(span);
    const g = new Float64Array(N);
    const aRow = new Float64Array(N);
    const offRow = new Float64Array(N);
    const dOffRow = new Float64Array(N);
    const dARow = new Float64Array(N);

    for (let d = d0; d < d1; d++) {
      const bd = b * dim + d;
      const row = bd * L;
      const dSkip = job.hasD ? D[d] : 0;
      const dtBias = job.hasBias ? bias[d] : 0;
      for (let n = 0; n < N; n++) aRow[n] = A[d * N + n];
      const offBase = (job.offsetPerBatch ? bd : d) * N;
      for (let n = 0; n < N; n++) offRow[n] = job.hasOffset ? offset[offBase + n] : 0;
      dOffRow.fill(0);
      dARow.fill(0);
      // g carries dL/dh of the step after the current one; it starts as dL/d(lastState).
      for (let n = 0; n < N; n++) g[n] = job.hasDLast ? dLast[bd * N + n] : 0;
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
          const dt = deltaToDt(v, softplus);
          dtBuf[k] = dt;
          dtGrad[k] = softplus ? (v > 20 ? 1 : 1 / (1 + Math.exp(-v))) : 1;
          const dtu = dt * u[row + t];
          const bc = t * N;
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
          const bc = t * N;
          const prev = k * N;
          const next = prev + N;

          let dy = dout[row + t];
          if (job.hasZ) {
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
          const acc = bcBase + bc * 2;
          for (let n = 0; n < N; n++) {
            const cn = Ct[bc + n];
            const bn = Bt[bc + n];
            const a = decay[prev + n];
            const gn = g[n] + dy * cn;
            dBC[acc + 2 * n + 1] += dy * (hs[next + n] + offRow[n]);
            dOffRow[n] += dy * cn;
            dBC[acc + 2 * n] += gn * dtu;
            dBu += gn * bn;
            const gha = gn * hs[prev + n] * a;
            dtSum += gha * aRow[n];
            dARow[n] += gha * dt;
            g[n] = gn * a;
          }
          dtSum += dBu * ut;
          du[row + t] = dy * dSkip + dBu * dt;
          const dv = dtSum * dtGrad[k];
          ddelta[row + t] = dv;
          dBiasSum += dv;
        }
      }

      for (let n = 0; n < N; n++) job.dA[bd * N + n] = dARow[n];
      job.dD[bd] = dDSum;
      job.dBias[bd] = dBiasSum;
      if (job.hasH0) for (let n = 0; n < N; n++) job.dh0[bd * N + n] = g[n];
      if (job.hasOffset) for (let n = 0; n < N; n++) job.dOff[bd * N + n] = dOffRow[n];
    }
  }

  // ---------------------------------------------------------------- WebAssembly driver

  const F = abi.flags;

  function flagsOf(job: ScanJob): number {
    return (
      (job.softplus ? F.softplus : 0) |
      (job.hasZ ? F.gate : 0) |
      (job.hasOffset ? F.offset : 0) |
      (job.save ? F.save : 0)
    );
  }

  /** `bc` records of batch entry `b` at byte `at`: B and C at (t, n), time-major. */
  function packBC(w: Wasm, job: ScanJob, b: number, at: number): void {
    const { seqlen: L, dstate: N } = job;
    const f32 = w.f32;
    const step = abi.bc.bytes / 4;
    const base = at / 4;
    for (let n = 0; n < N; n++) {
      const src = (b * N + n) * L;
      let dst = base + n * step;
      for (let t = 0; t < L; t++, dst += N * step) {
        f32[dst + abi.bc.B / 4] = job.B[src + t];
        f32[dst + abi.bc.C / 4] = job.C[src + t];
      }
    }
  }

  /** Copies `lanes` rows of length L from `src` at `from` into rows `first..first+3` at `rows`. */
  function packRows(
    f32: Float32Array,
    rows: number,
    first: number,
    L: number,
    src: Float32Array,
    from: number,
    lanes: number,
  ): void {
    const at = rows / 4 + first * L;
    f32.set(src.subarray(from, from + lanes * L), at);
    if (lanes < 4) f32.fill(0, at + lanes * L, at + 4 * L);
  }

  /** Four lanes of the (dim, dstate) or (batch, dim, dstate) array `src` at state n. */
  function laneState(
    f32: Float32Array,
    at: number,
    src: Float32Array,
    present: boolean,
    base: number,
    N: number,
    n: number,
    lanes: number,
  ): void {
    for (let j = 0; j < 4; j++) f32[at + j] = present && j < lanes ? src[base + j * N + n] : 0;
  }

  function wasmForward(w: Wasm, job: ScanJob, b: number, d0: number, d1: number): void {
    const { dim, seqlen: L, dstate: N, chunk, nChunks, save } = job;
    const R = abi.fwdRec;
    const P = abi.fwdPrm;
    const rowsOf = abi.fwdRows;
    const stride = L * 4;
    const bc = 0;
    const rec = align16(bc + L * N * abi.bc.bytes);
    const prm = rec + N * R.bytes;
    const rows = align16(prm + P.bytes);
    const ck = align16(rows + rowsOf.count * stride);
    const scratch = ck + (save ? nChunks * N * 16 : 0);
    reserve(w, scratch + abi.fwdBlock * (abi.fwdStep.bytes + N * 16));
    const { f32 } = w;
    packBC(w, job, b, bc);
    const flags = flagsOf(job);
    const h0Batch = job.h0PerBatch ? b * dim : 0;
    const offBatch = job.offsetPerBatch ? b * dim : 0;

    for (let d = d0; d < d1; d += 4) {
      const lanes = Math.min(4, d1 - d);
      const bd = b * dim + d;
      for (let n = 0; n < N; n++) {
        const at = (rec + n * R.bytes) / 4;
        laneState(f32, at + R.A / 4, job.A, true, d * N, N, n, lanes);
        laneState(f32, at + R.h / 4, job.h0, job.hasH0, (h0Batch + d) * N, N, n, lanes);
        laneState(f32, at + R.off / 4, job.offset, job.hasOffset, (offBatch + d) * N, N, n, lanes);
      }
      for (let j = 0; j < 4; j++) {
        f32[(prm + P.D) / 4 + j] = job.hasD && j < lanes ? job.D[d + j] : 0;
        f32[(prm + P.bias) / 4 + j] = job.hasBias && j < lanes ? job.bias[d + j] : 0;
      }
      const row0 = bd * L;
      packRows(f32, rows, rowsOf.u, L, job.u, row0, lanes);
      packRows(f32, rows, rowsOf.delta, L, job.delta, row0, lanes);
      if (job.hasZ) packRows(f32, rows, rowsOf.z, L, job.z, row0, lanes);

      w.forward(L, N, chunk, flags, rows, stride, bc, rec, prm, ck, scratch);

      const yAt = rows / 4 + rowsOf.y * L;
      job.y.set(f32.subarray(yAt, yAt + lanes * L), row0);
      for (let n = 0; n < N; n++) {
        const at = (rec + n * R.bytes + R.h) / 4;
        for (let j = 0; j < lanes; j++) job.lastState[(bd + j) * N + n] = f32[at + j];
      }
      if (save) {
        for (let j = 0; j < lanes; j++) {
          const dst = (bd + j) * nChunks * N;
          for (let i = 0; i < nChunks * N; i++) job.checkpoints[dst + i] = f32[ck / 4 + i * 4 + j];
        }
      }
    }
  }

  function wasmBackward(
    w: Wasm,
    job: ScanJob,
    b: number,
    block: number,
    d0: number,
    d1: number,
  ): void {
    const { dim, seqlen: L, dstate: N, chunk, nChunks } = job;
    const R = abi.bwdRec;
    const P = abi.bwdPrm;
    const rowsOf = abi.bwdRows;
    const stride = L * 4;
    const span = Math.min(chunk, L);
    const bc = 0;
    const acc = align16(bc + L * N * abi.bc.bytes);
    const sum = acc + L * N * abi.acc.bytes;
    const rec = sum + L * N * abi.sum.bytes;
    const prm = rec + N * R.bytes;
    const rows = prm + P.bytes;
    const ck = align16(rows + rowsOf.count * stride);
    const steps = ck + nChunks * N * 16;
    const stepv = steps + (span + 1) * N * abi.step.bytes;
    reserve(w, stepv + span * abi.stepv.bytes);
    const { f32, f64 } = w;
    packBC(w, job, b, bc);
    f32.fill(0, acc / 4, rec / 4);
    const flags = flagsOf(job);
    const offBatch = job.offsetPerBatch ? b * dim : 0;
    let groups = 0;

    for (let d = d0; d < d1; d += 4) {
      const lanes = Math.min(4, d1 - d);
      const bd = b * dim + d;
      for (let n = 0; n < N; n++) {
        const at = (rec + n * R.bytes) / 4;
        laneState(f32, at + R.A / 4, job.A, true, d * N, N, n, lanes);
        laneState(f32, at + R.off / 4, job.offset, job.hasOffset, (offBatch + d) * N, N, n, lanes);
        laneState(f32, at + R.g / 4, job.dLast, job.hasDLast, bd * N, N, n, lanes);
        f64.fill(0, (rec + n * R.bytes + R.dA) / 8, (rec + (n + 1) * R.bytes) / 8);
      }
      for (let j = 0; j < 4; j++) {
        f32[(prm + P.D) / 4 + j] = job.hasD && j < lanes ? job.D[d + j] : 0;
        f32[(prm + P.bias) / 4 + j] = job.hasBias && j < lanes ? job.bias[d + j] : 0;
      }
      f64.fill(0, (prm + P.dD) / 8, (prm + P.bytes) / 8);
      const row0 = bd * L;
      packRows(f32, rows, rowsOf.u, L, job.u, row0, lanes);
      packRows(f32, rows, rowsOf.delta, L, job.delta, row0, lanes);
      packRows(f32, rows, rowsOf.dout, L, job.dout, row0, lanes);
      if (job.hasZ) packRows(f32, rows, rowsOf.z, L, job.z, row0, lanes);
      for (let j = 0; j < 4; j++) {
        const src = (bd + j) * nChunks * N;
        for (let i = 0; i < nChunks * N; i++) {
          f32[ck / 4 + i * 4 + j] = j < lanes ? job.checkpoints[src + i] : 0;
        }
      }

      w.backward(L, N, chunk, flags, rows, stride, bc, rec, prm, ck, steps, stepv, acc);

      const unpack = (first: number, out: Float32Array) => {
        const at = rows / 4 + first * L;
        out.set(f32.subarray(at, at + lanes * L), row0);
      };
      unpack(rowsOf.du, job.du);
      unpack(rowsOf.ddelta, job.ddelta);
      if (job.hasZ) unpack(rowsOf.dz, job.dz);
      for (let n = 0; n < N; n++) {
        const at = rec + n * R.bytes;
        for (let j = 0; j < lanes; j++) {
          const i = (bd + j) * N + n;
          job.dA[i] = f64[(at + R.dA) / 8 + j];
          if (job.hasOffset) job.dOff[i] = f64[(at + R.dOff) / 8 + j];
          if (job.hasH0) job.dh0[i] = f32[(at + R.g) / 4 + j];
        }
      }
      for (let j = 0; j < lanes; j++) {
        job.dD[bd + j] = f64[(prm + P.dD) / 8 + j];
        job.dBias[bd + j] = f64[(prm + P.dBias) / 8 + j];
      }
      groups++;
      if (groups % abi.flushGroups === 0) w.flush(acc, sum, 2 * L * N);
    }
    if (groups % abi.flushGroups !== 0) w.flush(acc, sum, 2 * L * N);
    const out = (b * job.blocks + block) * L * N * 2;
    job.dBC.set(f64.subarray(sum / 8, sum / 8 + 2 * L * N), out);
  }

  // ---------------------------------------------------------------- tasks

  function runTask(engine: Engine, job: ScanJob, task: number): void {
    const b = Math.floor(task / job.blocks);
    const block = task - b * job.blocks;
    const d0 = block * job.blockDim;
    const d1 = Math.min(job.dim, d0 + job.blockDim);
    const w = engine.wasm;
    if (job.backward) {
      if (w !== null) wasmBackward(w, job, b, block, d0, d1);
      else jsBackward(job, b, block, d0, d1);
    } else if (w !== null) {
      wasmForward(w, job, b, d0, d1);
    } else {
      jsForward(job, b, d0, d1);
    }
  }

  function runTasks(engine: ScanEngine, job: ScanJob): number {
    if (engine.simd !== job.simd) return 0;
    const { sync, tasks } = job;
    let done = 0;
    for (let t = Atomics.add(sync, 0, 1); t < tasks; t = Atomics.add(sync, 0, 1)) {
      try {
        runTask(engine as Engine, job, t);
        done++;
      } catch {
        // Reported through `sync`; the caller then reruns the job on its own thread.
        Atomics.store(sync, 2, 1);
      }
      if (Atomics.add(sync, 1, 1) + 1 === tasks) Atomics.notify(sync, 1);
    }
    return done;
  }

  function runAll(engine: ScanEngine, job: ScanJob): void {
    for (let t = 0; t < job.tasks; t++) runTask(engine as Engine, job, t);
  }

  return { createEngine, runTasks, runAll };
}
