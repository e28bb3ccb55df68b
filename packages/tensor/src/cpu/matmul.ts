/**
 * CPU matrix multiply on typed arrays: `out[batch] = op(a[batch]) @ op(b[batch])`.
 *
 * float32 runs the packed, blocked kernel of `matmul-kernel.ts` (a WebAssembly SIMD 4x8
 * micro-kernel where available) and splits large problems into output tiles shared by the
 * worker threads of the CPU pool (`pool.ts`); tiny problems take a direct loop, where packing would cost more than it
 * saves. Few rows (m <= 8: decoding one token per sequence, `x @ W^T` in `Linear`) take the
 * skinny SIMD kernels instead (`MatmulF32Kernel.skinnyTile`), which stream B as it lies
 * rather than packing it on every call (packing was ~80% of a decoding step); they split
 * columns over threads when the workers can read B without a full copy. float64 runs a
 * plain cache-blocked kernel (`matmul-f64.ts`).
 *
 * Accuracy: float32 products are summed in float32 within blocks of 256 terms (SIMD) or in
 * float64 (JS kernel), and the blocks' sums are added in float32; the skinny path with a
 * transposed B sums each dot product in four float32 lanes, added at the end. Against a float64
 * reference the norm-wise relative error is ~3e-7 on uniform [-1, 1) inputs, for k = 4096
 * as for k = 16384; the tests hold it to 1e-5.
 */

import { TensorError } from '../errors.js';
import { matmulF64Block } from './matmul-f64.js';
import { createMatmulF32Kernel, type MatmulEngine, type MatmulJob } from './matmul-kernel.js';
import { buildMatmulWasm } from './matmul-wasm.js';
import { cpuThreads, isShared, poolUsable, runParallel, sharedArena } from './pool.js';

/** Up to this many multiply-adds per matrix (8x8x8) the direct loop beats packing. */
const DIRECT_MAX_MACS = 512;
/**
 * From this many multiply-adds per call (about 200^3) splitting over threads pays for waking
 * the workers (~0.1 ms per call) and staging the operands (~0.2 ms at 512^3).
 */
const PARALLEL_MIN_MACS = 1 << 23;
/** Fewer rows than this per tile makes packing and scheduling dominate. */
const MIN_TILE_ROWS = 32;
const MIN_TILE_COLS = 64;
/**
 * Tiles per thread: enough for the threads to even out, few enough to keep tiles large
 * (64 x 512 tiles run ~15% slower than 512 x 512 ones, from repacking B).
 */
const TILES_PER_THREAD = 3;
/**
 * The skinny path splits over threads from this many multiply-adds per call, in column
 * tiles of at least SKINNY_MIN_TILE_COLS.
 */
const SKINNY_PARALLEL_MIN_MACS = 1 << 22;
const SKINNY_MIN_TILE_COLS = 256;
/** Multiply-adds per B value from which copying an unshared B for the workers pays. */
const SKINNY_STAGE_MIN_REUSE = 32;

/**
 * Below this many elements of B per batch entry the skinny path's fixed costs (copies and
 * calls per entry) exceed packing B, which is then cheap: 4096 x (4 x 16 x 16) runs ~1.6x
 * faster packed, 512 x (8 x 64 x 64) ~2x faster skinny.
 */
const SKINNY_MIN_B = 4096;

/** When few-row calls take the skinny path; see {@link setSkinnyMatmul}. */
export type SkinnyMode = 'auto' | 'off' | 'always';

let skinnyMode: SkinnyMode = 'auto';

/**
 * @internal Chooses when calls with few rows take the skinny path: `'auto'` (the default)
 * when B has at least SKINNY_MIN_B elements, `'always'` whatever its size (tests of small
 * shapes), `'off'` never (benchmarks comparing it with the packed path).
 */
export function setSkinnyMatmul(mode: SkinnyMode): void {
  skinnyMode = mode;
}

const kernel = createMatmulF32Kernel();
let wasm: Uint8Array | undefined;
let engine: MatmulEngine | undefined;

function wasmBytes(): Uint8Array {
  wasm ??= buildMatmulWasm();
  return wasm;
}

function mainEngine(): MatmulEngine {
  engine ??= kernel.createEngine(wasmBytes());
  return engine;
}

type AnyArray = Float32Array | Float64Array;

function checkArgs(
  op: string,
  out: AnyArray,
  outOffset: number,
  a: AnyArray,
  aOffsets: ArrayLike<number>,
  b: AnyArray,
  bOffsets: ArrayLike<number>,
  m: number,
  n: number,
  k: number,
): void {
  for (const [label, v] of [
    ['m', m],
    ['n', n],
    ['k', k],
    ['outOffset', outOffset],
  ] as const) {
    if (!Number.isInteger(v) || v < 0) {
      throw new TensorError(op, `${label} must be a non-negative integer, got ${v}`);
    }
  }
  const batch = aOffsets.length;
  if (bOffsets.length !== batch) {
    throw new TensorError(
      op,
      `aOffsets and bOffsets must have one entry per batch entry, got ${batch} and ${bOffsets.length}`,
    );
  }
  if (outOffset + batch * m * n > out.length) {
    throw new TensorError(
      op,
      `out (length ${out.length}) is too short for ${batch} x ${m} x ${n} results at offset ${outOffset}`,
    );
  }
  const checkBlocks = (label: string, x: AnyArray, offsets: ArrayLike<number>, size: number) => {
    if (size === 0) return;
    for (let i = 0; i < batch; i++) {
      const o = offsets[i];
      if (!Number.isInteger(o) || o < 0 || o + size > x.length) {
        throw new TensorError(
          op,
          `${label}Offsets[${i}] = ${o}: a block of ${size} elements there does not fit in ${label} (length ${x.length})`,
        );
      }
    }
  };
  checkBlocks('a', a, aOffsets, m * k);
  checkBlocks('b', b, bOffsets, k * n);
}

/** The direct loop for tiny matrices, summing in float64. */
function matmulDirectF32(
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
): void {
  // op(a)[i, p] = a[aOffset + i * aRow + p * aCol]; op(b)[p, j] = b[bOffset + p * bRow + j * bCol]
  const aRow = transA ? 1 : k;
  const aCol = transA ? m : 1;
  const bRow = transB ? 1 : n;
  const bCol = transB ? k : 1;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      let ai = aOffset + i * aRow;
      let bi = bOffset + j * bCol;
      for (let p = 0; p < k; p++, ai += aCol, bi += bRow) sum += a[ai] * b[bi];
      out[outOffset + i * n + j] = sum;
    }
  }
}

/**
 * Batched float32 matrix multiply: `out[batch] = op(a[batch]) @ op(b[batch])`, where
 * `op(a)` is m x k and `op(b)` is k x n; `out` is contiguous (batch, m, n) from `outOffset`
 * and is overwritten, not accumulated into. `out` must not overlap `a` or `b`.
 *
 * @param out - Receives `aOffsets.length * m * n` values from `outOffset`.
 * @param a - `transA = false`: each block is row-major m x k; `true`: row-major k x m, used
 *   transposed.
 * @param aOffsets - Element offset of each batch entry's block in `a`; offsets may repeat
 *   (broadcasting). Its length is the batch size.
 * @param b - `transB = false`: each block is row-major k x n; `true`: row-major n x k.
 * @param bOffsets - As `aOffsets`, for `b`; same length.
 * @throws TensorError when a size or offset is not a non-negative integer, the offset lists
 *   differ in length, or a block or the result does not fit its array.
 *
 * Large problems run on worker threads in Node (see `setCpuThreads`); the call
 * stays synchronous.
 */
export function matmulF32(
  out: Float32Array,
  outOffset: number,
  a: Float32Array,
  aOffsets: ArrayLike<number>,
  transA: boolean,
  b: Float32Array,
  bOffsets: ArrayLike<number>,
  transB: boolean,
  m: number,
  n: number,
  k: number,
): void {
  checkArgs('matmulF32', out, outOffset, a, aOffsets, b, bOffsets, m, n, k);
  const batch = aOffsets.length;
  if (batch === 0 || m === 0 || n === 0) return;
  if (k === 0) {
    out.fill(0, outOffset, outOffset + batch * m * n);
    return;
  }
  if (m * n * k <= DIRECT_MAX_MACS) {
    for (let i = 0; i < batch; i++) {
      const o = outOffset + i * m * n;
      matmulDirectF32(out, o, a, aOffsets[i], transA, b, bOffsets[i], transB, m, n, k);
    }
    return;
  }
  const eng = mainEngine();
  const skinny = skinnyMode === 'always' || (skinnyMode === 'auto' && n * k >= SKINNY_MIN_B);
  if (skinny && eng.skinny !== null && m <= kernel.skinnyMaxM && k <= kernel.skinnyMaxK) {
    matmulF32Skinny(eng, out, outOffset, a, aOffsets, transA, b, bOffsets, transB, m, n, k);
    return;
  }
  if (batch * m * n * k >= PARALLEL_MIN_MACS && poolUsable()) {
    const ok = matmulF32Parallel(
      eng,
      out,
      outOffset,
      a,
      aOffsets,
      transA,
      b,
      bOffsets,
      transB,
      m,
      n,
      k,
    );
    if (ok) return;
  }
  const rows = kernel.maxTileRows;
  for (let i = 0; i < batch; i++) {
    const o = outOffset + i * m * n;
    for (let i0 = 0; i0 < m; i0 += rows) {
      const i1 = Math.min(m, i0 + rows);
      kernel.gemmTile(
        eng,
        out,
        o,
        a,
        aOffsets[i],
        transA,
        b,
        bOffsets[i],
        transB,
        m,
        n,
        k,
        i0,
        i1,
        0,
        n,
      );
    }
  }
}

/**
 * Batched float64 matrix multiply with the contract of {@link matmulF32}; a plain
 * cache-blocked kernel on the calling thread, meant for references and accumulations.
 *
 * @throws TensorError as {@link matmulF32} does.
 */
export function matmulF64(
  out: Float64Array,
  outOffset: number,
  a: Float64Array,
  aOffsets: ArrayLike<number>,
  transA: boolean,
  b: Float64Array,
  bOffsets: ArrayLike<number>,
  transB: boolean,
  m: number,
  n: number,
  k: number,
): void {
  checkArgs('matmulF64', out, outOffset, a, aOffsets, b, bOffsets, m, n, k);
  for (let i = 0; i < aOffsets.length; i++) {
    const o = outOffset + i * m * n;
    matmulF64Block(out, o, a, aOffsets[i], transA, b, bOffsets[i], transB, m, n, k);
  }
}

/** The few-row path (`kernel.skinnyTile`) for every batch entry, on the pool when large. */
function matmulF32Skinny(
  eng: MatmulEngine,
  out: Float32Array,
  outOffset: number,
  a: Float32Array,
  aOffsets: ArrayLike<number>,
  transA: boolean,
  b: Float32Array,
  bOffsets: ArrayLike<number>,
  transB: boolean,
  m: number,
  n: number,
  k: number,
): void {
  const batch = aOffsets.length;
  const macs = batch * m * n * k;
  // Workers read B in shared memory only. Staging it there costs a full copy on this thread,
  // about what one thread spends streaming it through the kernel, so it pays only when each
  // staged value serves many multiply-adds (a B broadcast over a batch).
  const [bLo, bHi] = offsetRange(bOffsets, k * n);
  const reuse = macs / (bHi - bLo);
  if (
    macs >= SKINNY_PARALLEL_MIN_MACS &&
    (isShared(b) || reuse >= SKINNY_STAGE_MIN_REUSE) &&
    poolUsable()
  ) {
    const threads = cpuThreads();
    const perMatrix = Math.ceil((TILES_PER_THREAD * threads) / batch);
    const tileN = Math.max(SKINNY_MIN_TILE_COLS, Math.ceil(n / perMatrix / 16) * 16);
    const tilesN = Math.ceil(n / tileN);
    const tiling = { tileM: m, tilesM: 1, tileN, tilesN, skinny: true };
    if (
      batch * tilesN >= 2 &&
      matmulF32Parallel(
        eng,
        out,
        outOffset,
        a,
        aOffsets,
        transA,
        b,
        bOffsets,
        transB,
        m,
        n,
        k,
        tiling,
      )
    ) {
      return;
    }
  }
  for (let i = 0; i < batch; i++) {
    const o = outOffset + i * m * n;
    kernel.skinnyTile(eng, out, o, a, aOffsets[i], transA, b, bOffsets[i], transB, m, n, k, 0, n);
  }
}

/** How a parallel job cuts the output (see `MatmulJob`). */
interface Tiling {
  readonly tileM: number;
  readonly tilesM: number;
  readonly tileN: number;
  readonly tilesN: number;
  readonly skinny: boolean;
}

/**
 * `out[batch] = op(a[batch]) @ op(b[batch])` on the CPU pool, with `matmulF32`'s contract and
 * `k >= 1`, cut into output tiles (near-square ones, or `tiling` when given). Returns false,
 * having written nothing, when workers are unavailable or the problem is too small to
 * split; the caller then runs it on its own thread. May also return false after a worker
 * failed, in which case `out` may hold partial results that the caller overwrites.
 */
function matmulF32Parallel(
  eng: MatmulEngine,
  out: Float32Array,
  outOffset: number,
  a: Float32Array,
  aOffsets: ArrayLike<number>,
  transA: boolean,
  b: Float32Array,
  bOffsets: ArrayLike<number>,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  tiling: Tiling = squareTiling(aOffsets.length, m, n),
): boolean {
  const batch = aOffsets.length;
  const { tileM, tilesM, tileN, tilesN, skinny } = tiling;
  const tasks = batch * tilesM * tilesN;
  if (tasks < 2) return false;

  // Stage the operands: a and b from the lowest to the highest block any batch entry uses.
  const [aLo, aHi] = isShared(a) ? [0, 0] : offsetRange(aOffsets, m * k);
  const [bLo, bHi] = isShared(b) ? [0, 0] : offsetRange(bOffsets, k * n);
  const outSize = batch * m * n;
  const outStaged = isShared(out) ? 0 : outSize;
  const floats = aHi - aLo + (bHi - bLo) + outStaged;
  const area = new Float32Array(sharedArena(floats * 4), 0, floats);
  const stage = (
    x: Float32Array,
    offsets: ArrayLike<number>,
    lo: number,
    hi: number,
    at: number,
  ) => {
    const rebased = Float64Array.from(offsets);
    if (hi === lo) return { x, offsets: rebased };
    area.set(x.subarray(lo, hi), at);
    for (let i = 0; i < rebased.length; i++) rebased[i] += at - lo;
    return { x: area, offsets: rebased };
  };
  const sa = stage(a, aOffsets, aLo, aHi, 0);
  const sb = stage(b, bOffsets, bLo, bHi, aHi - aLo);
  const outAt = aHi - aLo + (bHi - bLo);

  const job: MatmulJob = {
    sync: new Int32Array(new SharedArrayBuffer(3 * 4)),
    out: outStaged ? area : out,
    outOffset: outStaged ? outAt : outOffset,
    a: sa.x,
    aOffsets: sa.offsets,
    transA,
    b: sb.x,
    bOffsets: sb.offsets,
    transB,
    m,
    n,
    k,
    tileM,
    tileN,
    tilesM,
    tilesN,
    tasks,
    skinny,
  };
  if (!runParallel('matmul', wasmBytes(), job, () => kernel.runTasks(eng, job))) return false;
  if (outStaged) out.set(area.subarray(outAt, outAt + outSize), outOffset);
  return true;
}

/**
 * Near-square output tiles: each tile packs its own rows of A and columns of B, so packing
 * grows with rows + columns per tile while work grows with their product.
 */
function squareTiling(batch: number, m: number, n: number): Tiling {
  const perMatrix = Math.ceil((TILES_PER_THREAD * cpuThreads()) / batch);
  const clamp = (v: number, hi: number) => Math.max(1, Math.min(v, hi));
  const roundUp = (v: number, to: number) => Math.ceil(v / to) * to;
  let tilesM = clamp(Math.round(Math.sqrt((perMatrix * m) / n)), Math.floor(m / MIN_TILE_ROWS));
  const tileM = Math.min(kernel.maxTileRows, roundUp(Math.ceil(m / tilesM), kernel.MR));
  tilesM = Math.ceil(m / tileM);
  let tilesN = clamp(Math.ceil(perMatrix / tilesM), Math.floor(n / MIN_TILE_COLS));
  const tileN = roundUp(Math.ceil(n / tilesN), kernel.NR);
  tilesN = Math.ceil(n / tileN);
  return { tileM, tilesM, tileN, tilesN, skinny: false };
}

function offsetRange(offsets: ArrayLike<number>, blockSize: number): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (let i = 0; i < offsets.length; i++) {
    lo = Math.min(lo, offsets[i]);
    hi = Math.max(hi, offsets[i]);
  }
  return [lo, hi + blockSize];
}
