import type { MatmulArgs } from '@statetune/tensor';
import { TensorError } from '@statetune/tensor';
import { deviceDType, type GpuData, type GpuRuntime, Params } from '../runtime.js';
import { WGSL } from '../shaders.gen.js';

/**
 * Batched matmul. When every operand fits one storage binding, one dispatch covers all
 * batches (z = batch). Otherwise each batch is split into blocks of rows (m), columns (n)
 * and depth (k) whose bound ranges fit, the k blocks accumulating into C; this is how a
 * 154 MB embedding used as the LM head multiplies on a device with a 128 MiB binding limit.
 * With at most MATVEC_MAX_ROWS rows (decoding) a matrix-vector kernel replaces the tiles.
 */

const MAX_BATCH_RANK = 6;

/**
 * Up to this many rows of C, matvec.wgsl (one invocation per column and 8 rows) runs instead
 * of the 64x64 tiles, which would compute 64 rows to keep these (a decoding step or a short
 * prompt against the LM head).
 */
export const MATVEC_MAX_ROWS = 16;

type Kernel = ReturnType<GpuRuntime['kernel']>;

/** The kernel for `rows` rows of C and its grid over `cols` columns and `batches` entries. */
function pick(
  rt: GpuRuntime,
  rows: number,
  cols: number,
  batches: number,
): [Kernel, [number, number, number]] {
  const access = ['write', 'read', 'read'] as const;
  if (rows <= MATVEC_MAX_ROWS) {
    const kernel = rt.kernel(
      'matvec',
      access,
      () => `${WGSL['kernels/matmul-common']}\n${WGSL['kernels/matvec']}`,
    );
    return [kernel, [Math.ceil(cols / 64), Math.ceil(rows / 8), batches]];
  }
  const kernel = rt.kernel(
    'matmul',
    access,
    () => `${WGSL['kernels/matmul-common']}\n${WGSL['kernels/matmul']}`,
  );
  return [kernel, [Math.ceil(cols / 64), Math.ceil(rows / 64), batches]];
}

interface Strided2d {
  readonly off: number;
  /** Stride along the first index (i for A, k for B) and the second (k for A, j for B). */
  readonly s0: number;
  readonly s1: number;
}

function matrixStrides(
  v: MatmulArgs['a'],
  trans: boolean,
): { s0: number; s1: number; batch: number[] } {
  const r = v.shape.length;
  const [sr, sc] = [v.strides[r - 2], v.strides[r - 1]];
  // Stored as [rows, cols]; transposed operands read (row, col) swapped.
  return trans
    ? { s0: sc, s1: sr, batch: v.strides.slice(0, r - 2) as number[] }
    : { s0: sr, s1: sc, batch: v.strides.slice(0, r - 2) as number[] };
}

/** The elements a (rows x cols) strided block touches: [lo, hi). */
function blockSpan(m: Strided2d, rows: number, cols: number): [number, number] {
  if (rows === 0 || cols === 0) return [m.off, m.off + 1];
  return [m.off, m.off + (rows - 1) * m.s0 + (cols - 1) * m.s1 + 1];
}

/** Batched `op(a) @ op(b)` into a new contiguous float32 buffer. */
export function matmul(rt: GpuRuntime, args: MatmulArgs): GpuData {
  deviceDType('matmul', args.a.dtype);
  deviceDType('matmul', args.b.dtype);
  const { m, n, k, batchShape } = args;
  const batch = batchShape.reduce((p, d) => p * d, 1);
  const out = rt.output('float32', batch * m * n);
  if (batch * m * n === 0) return out;
  if (k === 0) {
    rt.commandEncoder().clearBuffer(out.buffer);
    return out;
  }
  const A = matrixStrides(args.a, args.transA);
  const B = matrixStrides(args.b, args.transB);
  const aData = args.a.data as GpuData;
  const bData = args.b.data as GpuData;
  const limit = rt.maxBindingElements;

  // Whole-tensor ranges.
  const spanOf = (
    v: MatmulArgs['a'],
    s: { s0: number; s1: number; batch: number[] },
    r: number,
    c: number,
  ) => {
    let lo = v.offset;
    let hi = v.offset + (r - 1) * s.s0 + (c - 1) * s.s1;
    batchShape.forEach((d, i) => {
      const reach = (d - 1) * s.batch[i];
      if (reach < 0) lo += reach;
      else hi += reach;
    });
    return [lo, hi + 1] as [number, number];
  };
  const aSpan = spanOf(args.a, A, m, k);
  const bSpan = spanOf(args.b, B, k, n);
  const fits =
    aSpan[1] - aSpan[0] <= limit && bSpan[1] - bSpan[0] <= limit && batch * m * n <= limit;
  if (fits && batchShape.length <= MAX_BATCH_RANK) {
    const ba = rt.bind(aData, aSpan[0], aSpan[1], 'matmul');
    const bb = rt.bind(bData, bSpan[0], bSpan[1], 'matmul');
    const bc = rt.bindAll(out, 'matmul');
    for (let b0 = 0; b0 < batch; b0 += 65535) {
      const p = new Params()
        .u(m)
        .u(n)
        .u(k)
        .u(0)
        .u(batchShape.length)
        .i(args.a.offset - ba.base)
        .i(args.b.offset - bb.base)
        .u(0)
        .i(A.s0)
        .i(A.s1)
        .i(B.s0)
        .i(B.s1)
        .u(n)
        .u(m * n)
        .u(b0)
        .list(batchShape, MAX_BATCH_RANK, 1)
        .list(A.batch, MAX_BATCH_RANK)
        .list(B.batch, MAX_BATCH_RANK);
      const [kernel, groups] = pick(rt, m, n, Math.min(65535, batch - b0));
      rt.dispatch(kernel, [bc, ba, bb], p, groups);
    }
    return out;
  }
  // Blocked: one batch at a time, blocks of (cm, cn, ck) whose ranges fit.
  let cm = m;
  let cn = n;
  let ck = k;
  const fitsBlock = () =>
    (cm - 1) * Math.abs(A.s0) + (ck - 1) * Math.abs(A.s1) + 1 <= limit &&
    (ck - 1) * Math.abs(B.s0) + (cn - 1) * Math.abs(B.s1) + 1 <= limit &&
    (cm - 1) * n + cn <= limit;
  while (!fitsBlock()) {
    const reachA = [(cm - 1) * Math.abs(A.s0), (ck - 1) * Math.abs(A.s1)];
    const reachB = [(ck - 1) * Math.abs(B.s0), (cn - 1) * Math.abs(B.s1)];
    // Halve the dimension with the largest reach in any operand.
    const cands: [number, 'm' | 'n' | 'k'][] = [
      [Math.max(reachA[0], (cm - 1) * n), 'm'],
      [Math.max(reachB[1], cn), 'n'],
      [Math.max(reachA[1], reachB[0]), 'k'],
    ];
    cands.sort((x, y) => y[0] - x[0]);
    const [, dim] = cands[0];
    if (dim === 'm' && cm > 1) cm = Math.ceil(cm / 2);
    else if (dim === 'n' && cn > 1) cn = Math.ceil(cn / 2);
    else if (dim === 'k' && ck > 1) ck = Math.ceil(ck / 2);
    else if (cm > 1) cm = Math.ceil(cm / 2);
    else if (cn > 1) cn = Math.ceil(cn / 2);
    else if (ck > 1) ck = Math.ceil(ck / 2);
    else
      throw new TensorError('matmul', 'operands cannot be split to fit the storage binding limit');
  }
  const batchOffsets = (strides: number[], offset: number) => {
    const offs: number[] = [];
    const idx = new Array<number>(batchShape.length).fill(0);
    for (let q = 0; q < batch; q++) {
      let o = offset;
      for (let d = 0; d < batchShape.length; d++) o += idx[d] * strides[d];
      offs.push(o);
      for (let d = batchShape.length - 1; d >= 0; d--) {
        if (++idx[d] < batchShape[d]) break;
        idx[d] = 0;
      }
    }
    return offs;
  };
  const aOffs = batchOffsets(A.batch, args.a.offset);
  const bOffs = batchOffsets(B.batch, args.b.offset);
  for (let q = 0; q < batch; q++) {
    for (let i0 = 0; i0 < m; i0 += cm) {
      const rows = Math.min(cm, m - i0);
      for (let j0 = 0; j0 < n; j0 += cn) {
        const cols = Math.min(cn, n - j0);
        const cBase = q * m * n + i0 * n + j0;
        const bc = rt.bind(out, cBase, cBase + (rows - 1) * n + cols, 'matmul');
        for (let k0 = 0; k0 < k; k0 += ck) {
          const depth = Math.min(ck, k - k0);
          const aBlock = { off: aOffs[q] + i0 * A.s0 + k0 * A.s1, s0: A.s0, s1: A.s1 };
          const bBlock = { off: bOffs[q] + k0 * B.s0 + j0 * B.s1, s0: B.s0, s1: B.s1 };
          const as = blockSpan(aBlock, rows, depth);
          const bs = blockSpan(bBlock, depth, cols);
          const ba = rt.bind(aData, as[0], as[1], 'matmul');
          const bb = rt.bind(bData, bs[0], bs[1], 'matmul');
          const p = new Params()
            .u(rows)
            .u(cols)
            .u(depth)
            .u(k0 > 0 ? 1 : 0)
            .u(0)
            .i(aBlock.off - ba.base)
            .i(bBlock.off - bb.base)
            .u(cBase - bc.base)
            .i(A.s0)
            .i(A.s1)
            .i(B.s0)
            .i(B.s1)
            .u(n)
            .u(0)
            .u(0)
            .list([], MAX_BATCH_RANK * 3);
          const [kernel, groups] = pick(rt, rows, cols, 1);
          rt.dispatch(kernel, [bc, ba, bb], p, groups);
        }
      }
    }
  }
  return out;
}
