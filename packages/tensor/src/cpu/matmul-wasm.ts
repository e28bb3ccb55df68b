/**
 * The WebAssembly SIMD block kernel of the float32 matmul, assembled with `wasm-asm.ts` (no
 * toolchain, no downloaded binary). It computes exactly what `jsBlock` in `matmul-kernel.ts`
 * computes, on the same packed layout, about eight times faster on x86-64 with V8 (~38
 * against ~4.7 GFLOP/s on one core): four lanes per instruction, and the 4x8 micro-tile's
 * eight `f32x4` accumulators, two B vectors and one broadcast A value fit in the sixteen
 * SIMD registers.
 *
 * Module: imports `env.mem` (a memory of at least one page) and exports
 * `block(kc, mPanels, nPanels, ap, bp, c, ldc, first)`, all arguments i32 and every
 * offset and stride counted in float32 elements (see `jsBlock` for the contract), and the
 * two skinny kernels of the few-row path, `gemvT` and `gemvN` (see {@link buildGemvT} and
 * {@link buildGemvN}). It is under 2 KiB, so it may be compiled synchronously even on a
 * browser's main thread (Chrome refuses that above 4 KiB).
 */

import {
  assembleModule,
  block,
  brIf,
  type Code,
  end,
  FunctionBuilder,
  f32x4,
  get,
  I32,
  i32,
  ifThen,
  loop,
  orElse,
  set,
  shuffle,
  tee,
  V128,
  v128,
} from './wasm-asm.js';

/** `i32.shr_u`, which `wasm-asm.ts` does not list. */
const I32_SHR_U: Code = [0x76];

/** Micro-tile rows and columns: the panel shape `matmul-kernel.ts` packs. */
const MR = 4;
const NR = 8;

/** Assembles the module described at the top of this file. */
export function buildMatmulWasm(): Uint8Array {
  const NV = NR / 4; // f32x4 vectors per micro-tile row
  const fn = new FunctionBuilder(new Array<number>(8).fill(I32));
  const [kc, mPanels, nPanels, ap, bp, c, ldc, first] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [jr, ir, aPtr, bPtr, cPtr, kLeft, aPanel, bPanel, cPanel] = Array.from({ length: 9 }, () =>
    fn.local(I32),
  );
  const accs = Array.from({ length: MR * NV }, () => fn.local(V128));
  const acc = (i: number, j: number) => accs[i * NV + j];
  const bVecs = Array.from({ length: NV }, () => fn.local(V128));
  const bVec = (j: number) => bVecs[j];
  const aVec = fn.local(V128);

  const emit = (...parts: Code[]) => fn.emit(...parts);
  const toBytes = (local: number) => emit(get(local), i32.const(2), i32.shl, set(local));
  // Walks the micro-tile's rows in C, `cPtr` moving by one row stride.
  const eachCRow = (perRow: (row: number) => void) => {
    for (let i = 0; i < MR; i++) {
      perRow(i);
      if (i < MR - 1) emit(get(cPtr), get(ldc), i32.add, set(cPtr));
    }
  };

  toBytes(ap);
  toBytes(bp);
  toBytes(c);
  toBytes(ldc);
  emit(get(bp), set(bPanel), get(c), set(cPanel), i32.const(0), set(jr));
  emit(loop()); // over B panels (column blocks of 8)
  emit(get(ap), set(aPanel), i32.const(0), set(ir));
  emit(loop()); // over A panels (row blocks of 4)
  for (let i = 0; i < MR; i++) for (let j = 0; j < NV; j++) emit(v128.zero, set(acc(i, j)));
  emit(get(aPanel), set(aPtr), get(bPanel), set(bPtr), get(kc), set(kLeft));
  emit(loop()); // over k: one rank-1 update of the 4x8 tile
  for (let j = 0; j < NV; j++) emit(get(bPtr), v128.load(16 * j), set(bVec(j)));
  for (let i = 0; i < MR; i++) {
    emit(get(aPtr), v128.load32Splat(4 * i), set(aVec));
    for (let j = 0; j < NV; j++) {
      emit(get(acc(i, j)), get(aVec), get(bVec(j)), f32x4.mul, f32x4.add, set(acc(i, j)));
    }
  }
  emit(get(aPtr), i32.const(4 * MR), i32.add, set(aPtr));
  emit(get(bPtr), i32.const(4 * NR), i32.add, set(bPtr));
  emit(get(kLeft), i32.const(1), i32.sub, tee(kLeft), brIf(0));
  emit(end);
  // Store the tile (first k block) or add it to what earlier k blocks left.
  emit(get(cPanel), get(ir), i32.const(MR), i32.mul, get(ldc), i32.mul, i32.add, set(cPtr));
  emit(get(first), ifThen());
  eachCRow((i) => {
    for (let j = 0; j < NV; j++) emit(get(cPtr), get(acc(i, j)), v128.store(16 * j));
  });
  emit(orElse);
  eachCRow((i) => {
    for (let j = 0; j < NV; j++) {
      emit(get(cPtr), get(cPtr), v128.load(16 * j), get(acc(i, j)), f32x4.add, v128.store(16 * j));
    }
  });
  emit(end);
  emit(get(aPanel), get(kc), i32.const(4 * MR), i32.mul, i32.add, set(aPanel));
  emit(get(ir), i32.const(1), i32.add, tee(ir), get(mPanels), i32.ltS, brIf(0));
  emit(end);
  emit(get(bPanel), get(kc), i32.const(4 * NR), i32.mul, i32.add, set(bPanel));
  emit(get(cPanel), i32.const(4 * NR), i32.add, set(cPanel));
  emit(get(jr), i32.const(1), i32.add, tee(jr), get(nPanels), i32.ltS, brIf(0));
  emit(end);

  return assembleModule(1, [
    { fn, exportName: 'block' },
    { fn: buildGemvT(), exportName: 'gemvT' },
    { fn: buildGemvN(), exportName: 'gemvN' },
  ]);
}

/**
 * `gemvT(kp, m, nQuads, x, b, out, ldo)`: `out[i * ldo + j] = sum_p x[i * kp + p] *
 * b[j * kp + p]` for rows `i < m` and columns `j < 4 nQuads`, i.e. `x @ b^T` with b stored
 * row-major (n, kp), as `Linear` keeps its weight. `kp` must be a positive multiple of 8
 * (callers zero-pad). Offsets and strides in float32 elements.
 *
 * Four columns at a time: each has an `f32x4` accumulator whose lanes sum the terms
 * `p = 4q + lane` in order of p, two vectors of k per loop trip; the four lanes are then
 * added as `(l0 + l2) + (l1 + l3)` by two shuffle rounds that also transpose, so one store
 * writes four outputs. A column's value depends only on its own row of b and on x, never on
 * where its block of four starts.
 */
function buildGemvT(): FunctionBuilder {
  const fn = new FunctionBuilder(new Array<number>(7).fill(I32));
  const [kp, m, nQuads, x, b, out, ldo] = [0, 1, 2, 3, 4, 5, 6];
  const [jq, i, xPtr0, xPtr1, kLeft, r0, r1, r2, r3, xRow, outRow, rowBytes] = Array.from(
    { length: 12 },
    () => fn.local(I32),
  );
  const rows = [r0, r1, r2, r3];
  const xPtrs = [xPtr0, xPtr1];
  // accs[4 rr + c]: row i + rr of x, column c of the block.
  const accs = Array.from({ length: 8 }, () => fn.local(V128));
  const [w, t0, t1] = [fn.local(V128), fn.local(V128), fn.local(V128)];
  const xvs = [fn.local(V128), fn.local(V128)];
  const emit = (...parts: Code[]) => fn.emit(...parts);
  const toBytes = (local: number) => emit(get(local), i32.const(2), i32.shl, set(local));
  // Lane selectors for the shuffles: float lanes [a, b, c, d] of the pair (first 0-3, second 4-7).
  const lanes = (...l: number[]) => shuffle(l.flatMap((v) => [0, 1, 2, 3].map((q) => 4 * v + q)));

  /** Rows i .. i + nRows - 1 of x against the four b rows: dot products, stored. */
  const pass = (nRows: number) => {
    for (let a = 0; a < 4 * nRows; a++) emit(v128.zero, set(accs[a]));
    emit(get(xRow), set(xPtr0));
    if (nRows === 2) emit(get(xRow), get(rowBytes), i32.add, set(xPtr1));
    emit(get(b), set(r0));
    emit(get(r0), get(rowBytes), i32.add, set(r1));
    emit(get(r1), get(rowBytes), i32.add, set(r2));
    emit(get(r2), get(rowBytes), i32.add, set(r3));
    emit(get(kp), i32.const(3), I32_SHR_U, set(kLeft));
    emit(loop()); // over k, eight at a time
    for (const off of [0, 16]) {
      for (let rr = 0; rr < nRows; rr++) emit(get(xPtrs[rr]), v128.load(off), set(xvs[rr]));
      for (let c = 0; c < 4; c++) {
        emit(get(rows[c]), v128.load(off), set(w));
        for (let rr = 0; rr < nRows; rr++) {
          const acc = accs[4 * rr + c];
          emit(get(acc), get(xvs[rr]), get(w), f32x4.mul, f32x4.add, set(acc));
        }
      }
    }
    for (let rr = 0; rr < nRows; rr++) emit(get(xPtrs[rr]), i32.const(32), i32.add, set(xPtrs[rr]));
    for (const r of rows) emit(get(r), i32.const(32), i32.add, set(r));
    emit(get(kLeft), i32.const(1), i32.sub, tee(kLeft), brIf(0));
    emit(end);
    for (let rr = 0; rr < nRows; rr++) {
      const [a0, a1, a2, a3] = accs.slice(4 * rr, 4 * rr + 4);
      // (l0 + l2, l1 + l3) of two columns side by side, then the final sums of all four.
      emit(get(a0), get(a1), lanes(0, 1, 4, 5), get(a0), get(a1), lanes(2, 3, 6, 7));
      emit(f32x4.add, set(t0));
      emit(get(a2), get(a3), lanes(0, 1, 4, 5), get(a2), get(a3), lanes(2, 3, 6, 7));
      emit(f32x4.add, set(t1));
      emit(get(i), i32.const(rr), i32.add, get(ldo), i32.mul, get(outRow), i32.add);
      emit(get(t0), get(t1), lanes(0, 2, 4, 6), get(t0), get(t1), lanes(1, 3, 5, 7), f32x4.add);
      emit(v128.store(0));
    }
  };

  toBytes(x);
  toBytes(b);
  toBytes(out);
  toBytes(ldo);
  emit(get(kp), i32.const(2), i32.shl, set(rowBytes));
  emit(i32.const(0), set(jq), get(out), set(outRow));
  emit(loop()); // over blocks of four columns (four rows of b)
  emit(get(x), set(xRow), i32.const(0), set(i));
  // Pairs of rows of x share each load of b; an odd last row goes alone.
  emit(block(), loop());
  emit(get(i), i32.const(1), i32.add, get(m), i32.geS, brIf(1));
  pass(2);
  emit(get(xRow), get(rowBytes), i32.const(1), i32.shl, i32.add, set(xRow));
  emit(get(i), i32.const(2), i32.add, set(i), i32.const(1), brIf(0));
  emit(end, end);
  emit(get(i), get(m), i32.ltS, ifThen());
  pass(1);
  emit(end);
  emit(get(b), get(rowBytes), i32.const(2), i32.shl, i32.add, set(b));
  emit(get(outRow), i32.const(16), i32.add, set(outRow));
  emit(get(jq), i32.const(1), i32.add, tee(jq), get(nQuads), i32.ltS, brIf(0));
  emit(end);
  return fn;
}

/**
 * `gemvN(kc, m, nBlocks, x, ldx, b, ldb, out, ldo, first)`: for rows `i < m` and columns
 * `j < 16 nBlocks`, `s = sum_{p < kc} x[i * ldx + p] * b[p * ldb + j]` (b stored row-major
 * (k, n)), stored to `out[i * ldo + j]` (`first`) or added to it. Offsets and strides in
 * float32 elements; `ldb` a multiple of 16 no smaller than the columns used.
 *
 * The lanes are columns: each of four `f32x4` accumulators adds `x[i, p] * b[p, j..j+3]`
 * in order of p, from zero, exactly the sequence of operations of the 4x8 block kernel, so
 * with `kc` the block kernel's k block (256) the results are bit for bit those of the packed
 * path.
 */
function buildGemvN(): FunctionBuilder {
  const fn = new FunctionBuilder(new Array<number>(10).fill(I32));
  const [kc, m, nBlocks, x, ldx, b, ldb, out, ldo, first] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [jb, i, xPtr, bPtr, kLeft, bCol, outPtr] = Array.from({ length: 7 }, () => fn.local(I32));
  const accs = Array.from({ length: 4 }, () => fn.local(V128));
  const xv = fn.local(V128);
  const emit = (...parts: Code[]) => fn.emit(...parts);
  const toBytes = (local: number) => emit(get(local), i32.const(2), i32.shl, set(local));

  toBytes(x);
  toBytes(ldx);
  toBytes(b);
  toBytes(ldb);
  toBytes(out);
  toBytes(ldo);
  emit(i32.const(0), set(jb), get(b), set(bCol));
  emit(loop()); // over blocks of 16 columns
  emit(i32.const(0), set(i));
  emit(loop()); // over rows of x
  for (const acc of accs) emit(v128.zero, set(acc));
  emit(get(x), get(i), get(ldx), i32.mul, i32.add, set(xPtr));
  emit(get(bCol), set(bPtr), get(kc), set(kLeft));
  emit(loop()); // over k
  emit(get(xPtr), v128.load32Splat(0), set(xv));
  for (let c = 0; c < 4; c++) {
    emit(get(accs[c]), get(xv), get(bPtr), v128.load(16 * c), f32x4.mul, f32x4.add, set(accs[c]));
  }
  emit(get(xPtr), i32.const(4), i32.add, set(xPtr));
  emit(get(bPtr), get(ldb), i32.add, set(bPtr));
  emit(get(kLeft), i32.const(1), i32.sub, tee(kLeft), brIf(0));
  emit(end);
  emit(get(out), get(i), get(ldo), i32.mul, i32.add, get(jb), i32.const(64), i32.mul, i32.add);
  emit(set(outPtr));
  emit(get(first), ifThen());
  for (let c = 0; c < 4; c++) emit(get(outPtr), get(accs[c]), v128.store(16 * c));
  emit(orElse);
  for (let c = 0; c < 4; c++) {
    emit(get(outPtr), get(outPtr), v128.load(16 * c), get(accs[c]), f32x4.add, v128.store(16 * c));
  }
  emit(end);
  emit(get(i), i32.const(1), i32.add, tee(i), get(m), i32.ltS, brIf(0));
  emit(end);
  emit(get(bCol), i32.const(64), i32.add, set(bCol));
  emit(get(jb), i32.const(1), i32.add, tee(jb), get(nBlocks), i32.ltS, brIf(0));
  emit(end);
  return fn;
}
