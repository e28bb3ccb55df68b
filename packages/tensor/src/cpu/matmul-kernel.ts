/**
 * The float32 matmul kernel: operands packed into contiguous panels, a 4x8 register-blocked
 * micro-kernel (WebAssembly SIMD when the runtime has it, scalar JS otherwise) and the
 * fork-join task loop that the calling thread and the worker threads share.
 *
 * Everything lives inside {@link createMatmulF32Kernel} and uses nothing from outside it, so
 * that the worker pool can ship the very same code to its threads as a source string
 * (`createMatmulF32Kernel.toString()`), whether this file runs from TypeScript sources
 * (vitest) or from the bundled dist.
 */

/** What the block kernel computes; see `jsBlock`. */
export type MatmulBlockFn = (
  kc: number,
  mPanels: number,
  nPanels: number,
  ap: number,
  bp: number,
  c: number,
  ldc: number,
  first: number,
) => void;

/** The part of the WebAssembly JS API the kernel uses (the package's lib has no DOM types). */
interface WasmApi {
  Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

/** The few-row kernels of the WebAssembly module (`gemvT`, `gemvN` in `matmul-wasm.ts`). */
export interface MatmulSkinnyFns {
  gemvT(
    kp: number,
    m: number,
    nQuads: number,
    x: number,
    b: number,
    out: number,
    ldo: number,
  ): void;
  gemvN(
    kc: number,
    m: number,
    nBlocks: number,
    x: number,
    ldx: number,
    b: number,
    ldb: number,
    out: number,
    ldo: number,
    first: number,
  ): void;
}

/** One thread's packing scratch and block kernel. */
export interface MatmulEngine {
  /** Scratch holding the packed A block, the packed B block and the C tile buffer. */
  readonly mem: Float32Array;
  readonly block: MatmulBlockFn;
  /** The block kernel is WebAssembly SIMD (false: the scalar JS fallback). */
  readonly simd: boolean;
  /** The few-row kernels, with SIMD only (null: the JS fallback has none). */
  readonly skinny: MatmulSkinnyFns | null;
}

/**
 * A fork-join job: `out[batch] = op(a[batch]) @ op(b[batch])` cut into `tasks` output tiles of
 * `tileM x tileN`, claimed one at a time through `sync` by every thread that runs
 * {@link MatmulF32Kernel.runTasks}.
 */
export interface MatmulJob {
  /** `[next task, tasks done, failed (0 | 1)]`, fresh for each job. */
  readonly sync: Int32Array;
  readonly out: Float32Array;
  readonly outOffset: number;
  readonly a: Float32Array;
  readonly aOffsets: ArrayLike<number>;
  readonly transA: boolean;
  readonly b: Float32Array;
  readonly bOffsets: ArrayLike<number>;
  readonly transB: boolean;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly tileM: number;
  readonly tileN: number;
  readonly tilesM: number;
  readonly tilesN: number;
  readonly tasks: number;
  /**
   * Tiles are column ranges of all m rows computed by {@link MatmulF32Kernel.skinnyTile}
   * (`tilesM` is 1, `tileM` is m); absent or false: output tiles of `gemmTile`.
   */
  readonly skinny?: boolean;
}

/** The functions {@link createMatmulF32Kernel} returns. */
export interface MatmulF32Kernel {
  /** Micro-tile rows (A panel height). */
  readonly MR: number;
  /** Micro-tile columns (B panel width). */
  readonly NR: number;
  /** Most rows one {@link MatmulF32Kernel.gemmTile} call may cover. */
  readonly maxTileRows: number;
  /** Makes one thread's engine; WebAssembly SIMD from `wasmBytes` when it compiles, else JS. */
  createEngine(wasmBytes: Uint8Array | null): MatmulEngine;
  /**
   * Rows `[i0, i1)` (at most `maxTileRows` of them), columns `[j0, j1)` of one batch entry:
   * `out[outOffset + i * n + j] = sum_p op(a)[i, p] * op(b)[p, j]`. Needs `k >= 1`.
   */
  gemmTile(
    eng: MatmulEngine,
    out: Float32Array,
    outOffset: number,
    a: Float32Array,
    aOffset: number,
    transA: boolean,
    b: Float32Array,
    bOffset: number,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    i0: number,
    i1: number,
    j0: number,
    j1: number,
  ): void;
  /** Most rows (m) {@link MatmulF32Kernel.skinnyTile} takes. */
  readonly skinnyMaxM: number;
  /** Largest k {@link MatmulF32Kernel.skinnyTile} takes. */
  readonly skinnyMaxK: number;
  /**
   * The few-row path: all `m <= skinnyMaxM` rows, columns `[j0, j1)` of one batch entry,
   * as `gemmTile` computes them, for `1 <= k <= skinnyMaxK` and an engine with `skinny`
   * kernels. B is read where it lies, never packed: row blocks of B (`transB`, stored n x k)
   * or row segments (stored k x n) are copied as they are into the engine's memory, a few
   * hundred KiB at a time, and streamed through the SIMD kernels. Every output element is
   * computed by the same operations wherever the column range starts or ends, so splitting
   * columns over threads changes no bit. With `transB = false` the result is bit for bit
   * that of `gemmTile`; with `transB = true` each value is a four-lane dot product (same
   * float32 accuracy, different rounding).
   */
  skinnyTile(
    eng: MatmulEngine,
    out: Float32Array,
    outOffset: number,
    a: Float32Array,
    aOffset: number,
    transA: boolean,
    b: Float32Array,
    bOffset: number,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    j0: number,
    j1: number,
  ): void;
  /** Claims and computes tiles of `job` until none is left; returns how many it computed. */
  runTasks(eng: MatmulEngine, job: MatmulJob): number;
}

/** Builds the kernel; self-contained (see the file comment), so keep it free of outer names. */
export function createMatmulF32Kernel(): MatmulF32Kernel {
  const MR = 4;
  const NR = 8;
  // Blocking: a KC x NR sliver of B (8 KiB) stays in L1 while the MC x KC block of A
  // (128 KiB) streams from L2; the KC x NC block of B (512 KiB) is reused by every A block.
  const KC = 256;
  const MC = 128;
  const NC = 512;
  const TM = 512;
  const AP = 0;
  const BP = AP + MC * KC;
  const CB = BP + KC * NC;
  const SCRATCH = CB + TM * NC;
  // The few-row path reuses the scratch: x (SM rows of up to SK floats), a B chunk (SB_SIZE
  // floats), the output chunk (SM rows of up to SN_MAX columns).
  const SM = 8;
  const SK = 8192;
  const SX = 0;
  const SB = SX + SM * SK;
  const SB_SIZE = KC * NC;
  /** B rows per chunk with transB: about this many floats (L2-sized), whole rows. */
  const ST_TARGET = 65536;
  const SN_MAX = 2048;
  const SO = SB + SB_SIZE;

  /**
   * The block kernel. A: `mPanels` panels at `ap`, panel `r` holding rows `4r..4r+3` as
   * `kc` groups of 4 (one per k). B: `nPanels` panels at `bp`, panel `s` holding columns
   * `8s..8s+7` as `kc` groups of 8. C: row-major at `c`, row stride `ldc`; each 4x8 tile is
   * stored (`first`) or added to.
   */
  function jsBlock(
    mem: Float32Array,
    kc: number,
    mPanels: number,
    nPanels: number,
    ap: number,
    bp: number,
    c: number,
    ldc: number,
    first: number,
  ): void {
    for (let s = 0; s < nPanels; s++) {
      const bPanel = bp + s * kc * NR;
      for (let r = 0; r < mPanels; r++) {
        const aPanel = ap + r * kc * MR;
        // The 4x8 tile as two 4x4 halves: 16 accumulators is what V8 keeps in registers.
        // biome-ignore format: the tile reads best as a 4x4 grid
        for (let half = 0; half < NR; half += 4) {
          let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
          let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
          let ai = aPanel;
          let bi = bPanel + half;
          for (let p = 0; p < kc; p++) {
            const a0 = mem[ai], a1 = mem[ai + 1], a2 = mem[ai + 2], a3 = mem[ai + 3];
            const b0 = mem[bi], b1 = mem[bi + 1], b2 = mem[bi + 2], b3 = mem[bi + 3];
            c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
            c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
            c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
            c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            ai += MR;
            bi += NR;
          }
          const o0 = c + r * MR * ldc + s * NR + half;
          const o1 = o0 + ldc;
          const o2 = o1 + ldc;
          const o3 = o2 + ldc;
          if (first) {
            mem[o0] = c00; mem[o0 + 1] = c01; mem[o0 + 2] = c02; mem[o0 + 3] = c03;
            mem[o1] = c10; mem[o1 + 1] = c11; mem[o1 + 2] = c12; mem[o1 + 3] = c13;
            mem[o2] = c20; mem[o2 + 1] = c21; mem[o2 + 2] = c22; mem[o2 + 3] = c23;
            mem[o3] = c30; mem[o3 + 1] = c31; mem[o3 + 2] = c32; mem[o3 + 3] = c33;
          } else {
            mem[o0] += c00; mem[o0 + 1] += c01; mem[o0 + 2] += c02; mem[o0 + 3] += c03;
            mem[o1] += c10; mem[o1 + 1] += c11; mem[o1 + 2] += c12; mem[o1 + 3] += c13;
            mem[o2] += c20; mem[o2 + 1] += c21; mem[o2 + 2] += c22; mem[o2 + 3] += c23;
            mem[o3] += c30; mem[o3 + 1] += c31; mem[o3 + 2] += c32; mem[o3 + 3] += c33;
          }
        }
      }
    }
  }

  function createEngine(wasmBytes: Uint8Array | null): MatmulEngine {
    const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    if (wasmBytes !== null && wasmApi !== undefined) {
      try {
        const memory = new wasmApi.Memory({ initial: Math.ceil((SCRATCH * 4) / 65536) });
        const instance = new wasmApi.Instance(new wasmApi.Module(wasmBytes), {
          env: { mem: memory },
        });
        const block = instance.exports.block as MatmulBlockFn;
        const skinny = {
          gemvT: instance.exports.gemvT,
          gemvN: instance.exports.gemvN,
        } as MatmulSkinnyFns;
        return { mem: new Float32Array(memory.buffer, 0, SCRATCH), block, simd: true, skinny };
      } catch {
        // No SIMD in this engine, or compiling WebAssembly is not allowed here (CSP).
      }
    }
    const mem = new Float32Array(SCRATCH);
    const block: MatmulBlockFn = (kc, mPanels, nPanels, ap, bp, c, ldc, first) =>
      jsBlock(mem, kc, mPanels, nPanels, ap, bp, c, ldc, first);
    return { mem, block, simd: false, skinny: null };
  }

  /** Packs rows `[row0, row0 + rows)`, k range `[pc, pc + kc)` of op(a) into A panels at `dst`. */
  function packA(
    mem: Float32Array,
    dst: number,
    a: Float32Array,
    aOffset: number,
    transA: boolean,
    m: number,
    k: number,
    row0: number,
    rows: number,
    pc: number,
    kc: number,
  ): void {
    for (let r = 0; r < rows; r += MR) {
      const mr = Math.min(MR, rows - r);
      let d = dst;
      if (transA) {
        // Stored k x m: the 4 values of one k are adjacent.
        let src = aOffset + pc * m + row0 + r;
        if (mr === MR) {
          for (let p = 0; p < kc; p++, src += m, d += MR) {
            mem[d] = a[src];
            mem[d + 1] = a[src + 1];
            mem[d + 2] = a[src + 2];
            mem[d + 3] = a[src + 3];
          }
        } else {
          for (let p = 0; p < kc; p++, src += m, d += MR) {
            for (let i = 0; i < MR; i++) mem[d + i] = i < mr ? a[src + i] : 0;
          }
        }
      } else {
        // Stored m x k: four row streams.
        const s0 = aOffset + (row0 + r) * k + pc;
        if (mr === MR) {
          const s1 = s0 + k;
          const s2 = s1 + k;
          const s3 = s2 + k;
          for (let p = 0; p < kc; p++, d += MR) {
            mem[d] = a[s0 + p];
            mem[d + 1] = a[s1 + p];
            mem[d + 2] = a[s2 + p];
            mem[d + 3] = a[s3 + p];
          }
        } else {
          for (let p = 0; p < kc; p++, d += MR) {
            for (let i = 0; i < MR; i++) mem[d + i] = i < mr ? a[s0 + i * k + p] : 0;
          }
        }
      }
      dst += kc * MR;
    }
  }

  /** Packs columns `[col0, col0 + cols)`, k range `[pc, pc + kc)` of op(b) into B panels at `dst`. */
  function packB(
    mem: Float32Array,
    dst: number,
    b: Float32Array,
    bOffset: number,
    transB: boolean,
    n: number,
    k: number,
    col0: number,
    cols: number,
    pc: number,
    kc: number,
  ): void {
    for (let s = 0; s < cols; s += NR) {
      const nr = Math.min(NR, cols - s);
      let d = dst;
      if (transB) {
        // Stored n x k: eight column streams.
        const s0 = bOffset + (col0 + s) * k + pc;
        if (nr === NR) {
          const s1 = s0 + k;
          const s2 = s1 + k;
          const s3 = s2 + k;
          const s4 = s3 + k;
          const s5 = s4 + k;
          const s6 = s5 + k;
          const s7 = s6 + k;
          for (let p = 0; p < kc; p++, d += NR) {
            mem[d] = b[s0 + p];
            mem[d + 1] = b[s1 + p];
            mem[d + 2] = b[s2 + p];
            mem[d + 3] = b[s3 + p];
            mem[d + 4] = b[s4 + p];
            mem[d + 5] = b[s5 + p];
            mem[d + 6] = b[s6 + p];
            mem[d + 7] = b[s7 + p];
          }
        } else {
          for (let p = 0; p < kc; p++, d += NR) {
            for (let j = 0; j < NR; j++) mem[d + j] = j < nr ? b[s0 + j * k + p] : 0;
          }
        }
      } else {
        // Stored k x n: the 8 values of one k are adjacent.
        let src = bOffset + pc * n + col0 + s;
        if (nr === NR) {
          for (let p = 0; p < kc; p++, src += n, d += NR) {
            mem[d] = b[src];
            mem[d + 1] = b[src + 1];
            mem[d + 2] = b[src + 2];
            mem[d + 3] = b[src + 3];
            mem[d + 4] = b[src + 4];
            mem[d + 5] = b[src + 5];
            mem[d + 6] = b[src + 6];
            mem[d + 7] = b[src + 7];
          }
        } else {
          for (let p = 0; p < kc; p++, src += n, d += NR) {
            for (let j = 0; j < NR; j++) mem[d + j] = j < nr ? b[src + j] : 0;
          }
        }
      }
      dst += kc * NR;
    }
  }

  function gemmTile(
    eng: MatmulEngine,
    out: Float32Array,
    outOffset: number,
    a: Float32Array,
    aOffset: number,
    transA: boolean,
    b: Float32Array,
    bOffset: number,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    i0: number,
    i1: number,
    j0: number,
    j1: number,
  ): void {
    const mem = eng.mem;
    const rows = i1 - i0;
    for (let jc = j0; jc < j1; jc += NC) {
      const nc = Math.min(NC, j1 - jc);
      const nPanels = Math.ceil(nc / NR);
      const ldc = nPanels * NR;
      for (let pc = 0; pc < k; pc += KC) {
        const kc = Math.min(KC, k - pc);
        packB(mem, BP, b, bOffset, transB, n, k, jc, nc, pc, kc);
        for (let ic = 0; ic < rows; ic += MC) {
          const mc = Math.min(MC, rows - ic);
          packA(mem, AP, a, aOffset, transA, m, k, i0 + ic, mc, pc, kc);
          eng.block(kc, Math.ceil(mc / MR), nPanels, AP, BP, CB + ic * ldc, ldc, pc === 0 ? 1 : 0);
        }
      }
      for (let i = 0; i < rows; i++) {
        const src = CB + i * ldc;
        out.set(mem.subarray(src, src + nc), outOffset + (i0 + i) * n + jc);
      }
    }
  }

  /**
   * `dst[at .. at + len) = src[from .. from + len)`: a loop for short runs, where making a
   * subarray for `set` costs more than the copy.
   */
  function copy(dst: Float32Array, at: number, src: Float32Array, from: number, len: number): void {
    if (len < 64) {
      for (let q = 0; q < len; q++) dst[at + q] = src[from + q];
    } else {
      dst.set(src.subarray(from, from + len), at);
    }
  }

  function skinnyTile(
    eng: MatmulEngine,
    out: Float32Array,
    outOffset: number,
    a: Float32Array,
    aOffset: number,
    transA: boolean,
    b: Float32Array,
    bOffset: number,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    j0: number,
    j1: number,
  ): void {
    const fns = eng.skinny;
    if (fns === null || m > SM || k > SK || k < 1) {
      throw new Error(`skinnyTile needs SIMD kernels, m <= ${SM} and 1 <= k <= ${SK}`);
    }
    const mem = eng.mem;
    // x as m rows of kp floats (kp = k rounded up to 8 for transB, zero-padded).
    const kp = transB ? Math.ceil(k / 8) * 8 : k;
    for (let i = 0; i < m; i++) {
      const row = SX + i * kp;
      if (transA) {
        for (let p = 0; p < k; p++) mem[row + p] = a[aOffset + p * m + i];
      } else {
        copy(mem, row, a, aOffset + i * k, k);
      }
      for (let p = k; p < kp; p++) mem[row + p] = 0;
    }
    if (transB) {
      // Chunks of whole rows of b (columns of the result), each row one dot product per row of x.
      const rows = Math.max(4, Math.min(SN_MAX, Math.floor(ST_TARGET / kp / 4) * 4));
      for (let c0 = j0; c0 < j1; c0 += rows) {
        const cn = Math.min(rows, j1 - c0);
        const quads = Math.ceil(cn / 4);
        if (kp === k) {
          copy(mem, SB, b, bOffset + c0 * k, cn * k);
        } else {
          for (let j = 0; j < cn; j++) {
            const src = bOffset + (c0 + j) * k;
            copy(mem, SB + j * kp, b, src, k);
            for (let p = k; p < kp; p++) mem[SB + j * kp + p] = 0;
          }
        }
        // Rows past cn in the last block of four: zeros rather than stale values.
        if (cn < 4 * quads) mem.fill(0, SB + cn * kp, SB + 4 * quads * kp);
        const ldo = 4 * quads;
        fns.gemvT(kp, m, quads, SX, SB, SO, ldo);
        for (let i = 0; i < m; i++) {
          const o = outOffset + i * n + c0;
          copy(out, o, mem, SO + i * ldo, cn);
        }
      }
    } else {
      // Column chunks of NC, k blocks of KC: the blocking of gemmTile, hence its bits.
      for (let c0 = j0; c0 < j1; c0 += NC) {
        const cn = Math.min(NC, j1 - c0);
        const ldb = Math.ceil(cn / 16) * 16;
        for (let pc = 0; pc < k; pc += KC) {
          const kc = Math.min(KC, k - pc);
          for (let p = 0; p < kc; p++) {
            const src = bOffset + (pc + p) * n + c0;
            copy(mem, SB + p * ldb, b, src, cn);
            for (let j = cn; j < ldb; j++) mem[SB + p * ldb + j] = 0;
          }
          fns.gemvN(kc, m, ldb / 16, SX + pc, k, SB, ldb, SO, ldb, pc === 0 ? 1 : 0);
        }
        for (let i = 0; i < m; i++) {
          copy(out, outOffset + i * n + c0, mem, SO + i * ldb, cn);
        }
      }
    }
  }

  function runTasks(eng: MatmulEngine, job: MatmulJob): number {
    const { sync, tasks, m, n, k, tileM, tileN, tilesN } = job;
    // A thread without the SIMD kernels takes no skinny tile: the others do them, bit-exact.
    if (job.skinny && eng.skinny === null) return 0;
    const perBatch = job.tilesM * tilesN;
    let done = 0;
    for (let t = Atomics.add(sync, 0, 1); t < tasks; t = Atomics.add(sync, 0, 1)) {
      try {
        const batch = Math.floor(t / perBatch);
        const ti = Math.floor((t - batch * perBatch) / tilesN);
        const tj = t - batch * perBatch - ti * tilesN;
        const i0 = ti * tileM;
        const j0 = tj * tileN;
        const tile = job.skinny ? skinnyTileTask : gemmTile;
        tile(
          eng,
          job.out,
          job.outOffset + batch * m * n,
          job.a,
          job.aOffsets[batch],
          job.transA,
          job.b,
          job.bOffsets[batch],
          job.transB,
          m,
          n,
          k,
          i0,
          Math.min(m, i0 + tileM),
          j0,
          Math.min(n, j0 + tileN),
        );
        done++;
      } catch {
        // Reported through `sync`; the caller then redoes the whole job on one thread.
        Atomics.store(sync, 2, 1);
      }
      if (Atomics.add(sync, 1, 1) + 1 === tasks) Atomics.notify(sync, 1);
    }
    return done;
  }

  /** `skinnyTile` with `gemmTile`'s arguments (the row range is always all rows). */
  function skinnyTileTask(
    eng: MatmulEngine,
    out: Float32Array,
    outOffset: number,
    a: Float32Array,
    aOffset: number,
    transA: boolean,
    b: Float32Array,
    bOffset: number,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    _i0: number,
    _i1: number,
    j0: number,
    j1: number,
  ): void {
    skinnyTile(eng, out, outOffset, a, aOffset, transA, b, bOffset, transB, m, n, k, j0, j1);
  }

  return {
    MR,
    NR,
    maxTileRows: TM,
    skinnyMaxM: SM,
    skinnyMaxK: SK,
    createEngine,
    gemmTile,
    skinnyTile,
    runTasks,
  };
}
