/**
 * The WebAssembly SIMD kernels of the selective scan, assembled with `wasm-asm.ts` (no
 * toolchain, no binary). `scan-kernel.ts` packs the data of four channels into the module's
 * memory in the layout of {@link SCAN_ABI}, calls a kernel, and unpacks the results.
 *
 * Vectorisation: one `f32x4` holds four channels `d..d+3` of one batch entry. Their scans
 * are independent, so every step is lane-wise, with no horizontal sum in the recurrence:
 * `B[b, n, t]` and `C[b, n, t]` are shared by the channels and enter as splats, while the
 * per-channel `delta, u, z` of a step are gathered from four rows. This vectorises the
 * per-step softplus and gate as well as the per-state `exp`, which is where the time goes.
 *
 * Loop structure: a block of steps runs in three passes: per-step values (gathers, softplus,
 * gate), then every decay `exp(dt A)` of the block, then the recurrence. The decays do not
 * depend on the state, and computed apart they are independent iterations that the CPU
 * overlaps; fused into the recurrence, the ~25-instruction dependency chain of each `exp`
 * bounds the loop by latency (1.6x slower). Constants live in locals set on entry (see
 * `FunctionBuilder.constant`).
 *
 * Precision: states, decays and per-step values are float32, as in Mamba's CUDA kernel.
 * Sums that run long are not: sums over time (dA, dD, ddeltaBias, dStateOffset) add float32
 * terms within one checkpoint chunk and add the chunk sums in float64; sums over channels
 * (dB, dC) add one float32 term per group of four channels and go to float64 every
 * {@link SCAN_ABI}.`flushGroups` groups, the four lanes summed in float64. Against the
 * float64 kernel the norm-wise relative error is ~1e-7 for outputs and ~2e-7 for gradients
 * (the tests allow 1e-5 and 1e-4).
 *
 * `exp`: range reduction `x = k ln2 + r` (Cody-Waite, two constants, |r| <= ln2/2), Cephes'
 * degree-7 polynomial for `exp(r)` (evaluated by Estrin's scheme) and the scale `2^k` built
 * in the exponent bits. Against `Math.exp` of the float32 argument the error is below 1 ulp
 * (max 0.98 ulp, relative 8.2e-8) wherever the result is a normal float32; arguments below
 * ~-86.99 (results below 1.7e-38) give exactly 0, without denormals (which slow x86 SIMD
 * down a hundredfold) and without NaN; above 88.72 the result is +Infinity; NaN stays NaN.
 *
 * softplus (PyTorch's, threshold 20): `v` above 20, else `max(v, 0) + log1p(exp(-|v|))` with
 * `log1p(e) = 2 atanh(e / (2 + e))` by its series to s^17, which keeps tiny `e` exact; max
 * error 3.3 ulp (relative 2.6e-7) against float64.
 */

import {
  assembleModule,
  block,
  brIf,
  type Code,
  end,
  FunctionBuilder,
  f32x4,
  f64,
  f64x2,
  get,
  I32,
  i32,
  i32x4,
  ifThen,
  loop,
  orElse,
  select,
  set,
  shuffle,
  tee,
  V128,
  v128,
} from './wasm-asm.js';

/**
 * The memory layout the kernels expect; byte offsets within records. Shared with
 * `scan-kernel.ts`, which receives it as an argument (it ships to workers as source).
 */
export const SCAN_ABI = {
  /** Bits of the `flags` argument. */
  flags: { softplus: 1, gate: 2, offset: 4, save: 8 },
  /** Per (t, n) of one batch entry, time-major: `B[b, n, t]` and `C[b, n, t]` as float32. */
  bc: { bytes: 8, B: 0, C: 4 },
  /** Forward, per state n: four lanes each of A, the running state and the offset. */
  fwdRec: { bytes: 48, A: 0, h: 16, off: 32 },
  /** Forward parameters: D and deltaBias lanes. */
  fwdPrm: { bytes: 32, D: 0, bias: 16 },
  /** Forward rows (`stride` bytes each), as the first of four lane rows. */
  fwdRows: { u: 0, delta: 4, z: 8, y: 12, count: 16 },
  /**
   * Forward scratch: `fwdBlock` step records, then `fwdBlock` rows of N decays. Blocks of 32
   * steps keep the decays of dstate 16 in 8 KiB.
   */
  fwdBlock: 32,
  fwdStep: { bytes: 64, dt: 0, dtu: 16, u: 32, gate: 48 },
  /**
   * Backward, per state n: A, offset, the adjoint g, float32 chunk sums of dA and
   * dStateOffset, and their float64 totals (two f64x2 each: lanes 0-1, then 2-3).
   */
  bwdRec: { bytes: 144, A: 0, off: 16, g: 32, dA32: 48, dOff32: 64, dA: 80, dOff: 112 },
  /** Backward parameters: D and deltaBias lanes, float64 totals of dD and ddeltaBias. */
  bwdPrm: { bytes: 96, D: 0, bias: 16, dD: 32, dBias: 64 },
  /** Backward rows. */
  bwdRows: { u: 0, delta: 4, z: 8, dout: 12, du: 16, ddelta: 20, dz: 24, count: 28 },
  /** Recomputed chunk, per step and state: the state after the step and its decay. */
  step: { bytes: 32, h: 0, decay: 16 },
  /** Recomputed chunk, per step: dt, d dt / d(delta + bias), pre-gate output, u, dt u, z, sigmoid(z). */
  stepv: { bytes: 112, dt: 0, dtGrad: 16, yPre: 32, u: 48, dtu: 64, z: 80, sig: 96 },
  /** Per (t, n): float32 lane sums of dB and dC over channel groups. */
  acc: { bytes: 32, dB: 0, dC: 16 },
  /** Per (t, n): float64 dB and dC, where {@link SCAN_ABI}.acc is flushed to. */
  sum: { bytes: 16 },
  /** Channel groups between flushes of the float32 dB/dC sums (8 terms per lane at most). */
  flushGroups: 8,
} as const;

/** The layout constants {@link SCAN_ABI} holds. */
export type ScanAbi = typeof SCAN_ABI;

// exp: clamp so that 2^k stays encodable; k = -126 gives a zero scale (see the file comment).
const EXP_LO = -87.4;
const EXP_HI = 89;
const LOG2E = Math.LOG2E;
/** 1.5 * 2^23: adding it rounds to an integer, which then sits in the low mantissa bits. */
const MAGIC = 12582912;
const MAGIC_BITS = 0x4b400000;
const LN2_HI = 0.693359375; // 9 significant bits: k * LN2_HI is exact
const LN2_LO = -2.1219444e-4;
/** Cephes' expf: exp(r) = 1 + r + r^2 (p5 + p4 r + ... + p0 r^5). */
const EXP_POLY = [
  1.98756915e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
  5.0000001201e-1,
];
/** 1 / (2j + 1) for j = 8..1: the atanh series of log1p. */
const ATANH_SERIES = [1 / 17, 1 / 15, 1 / 13, 1 / 11, 1 / 9, 1 / 7, 1 / 5, 1 / 3];

/** Locals the inline math functions use. */
interface MathTemps {
  readonly x: number;
  readonly t: number;
  readonly kf: number;
  readonly r: number;
  readonly v: number;
  readonly s: number;
}

function mathTemps(fn: FunctionBuilder): MathTemps {
  const [x, t, kf, r, v, s] = Array.from({ length: 6 }, () => fn.local(V128));
  return { x, t, kf, r, v, s };
}

/** A float32 constant in every lane, from a local (see `FunctionBuilder.constant`). */
const splat = (fn: FunctionBuilder, value: number): Code => fn.constant(f32x4.splatConst(value));

/** Replaces the vector on the stack by its lane-wise exp (see the file comment). */
function emitExp(fn: FunctionBuilder, { x, t, kf, r }: MathTemps): void {
  const k = (value: number) => splat(fn, value);
  fn.emit(k(EXP_LO), f32x4.pmax, k(EXP_HI), f32x4.pmin, tee(x));
  fn.emit(k(LOG2E), f32x4.mul, k(MAGIC), f32x4.add, tee(t), k(MAGIC), f32x4.sub, set(kf));
  fn.emit(get(x), get(kf), k(LN2_HI), f32x4.mul, f32x4.sub);
  fn.emit(get(kf), k(LN2_LO), f32x4.mul, f32x4.sub, set(r));
  // Estrin's scheme, (p5 + p4 r) + z ((p3 + p2 r) + z (p1 + p0 r)) with z = r^2: fewer
  // dependent steps than Horner's.
  const [p0, p1, p2, p3, p4, p5] = EXP_POLY;
  fn.emit(get(r), get(r), f32x4.mul, set(x)); // z (x is free now)
  fn.emit(k(p0), get(r), f32x4.mul, k(p1), f32x4.add, get(x), f32x4.mul);
  fn.emit(k(p2), get(r), f32x4.mul, k(p3), f32x4.add, f32x4.add, get(x), f32x4.mul);
  fn.emit(k(p4), get(r), f32x4.mul, k(p5), f32x4.add, f32x4.add);
  fn.emit(get(x), f32x4.mul, get(r), f32x4.add, k(1), f32x4.add);
  // 2 p times 2^(k-1), built from the bits of t = MAGIC + k: k = 128 still encodes, k = -126
  // gives 0, and doubling first keeps the product normal wherever the result is.
  fn.emit(k(2), f32x4.mul, get(t), fn.constant(i32x4.splatConst(MAGIC_BITS - 126)), i32x4.sub);
  fn.emit(i32.const(23), i32x4.shl, f32x4.mul);
}

/** Replaces the vector on the stack by its lane-wise softplus (see the file comment). */
function emitSoftplus(fn: FunctionBuilder, temps: MathTemps): void {
  const { v, s } = temps;
  const k = (value: number) => splat(fn, value);
  fn.emit(tee(v), f32x4.abs, f32x4.neg);
  emitExp(fn, temps); // e = exp(-|v|)
  fn.emit(tee(s), k(2), get(s), f32x4.add, f32x4.div, tee(s)); // s = e / (2 + e)
  fn.emit(get(s), f32x4.mul, set(temps.x), k(ATANH_SERIES[0])); // w = s^2 in x
  for (const c of ATANH_SERIES.slice(1)) fn.emit(get(temps.x), f32x4.mul, k(c), f32x4.add);
  fn.emit(get(temps.x), f32x4.mul, k(1), f32x4.add, get(s), get(s), f32x4.add, f32x4.mul);
  fn.emit(get(v), k(0), f32x4.pmax, f32x4.add, set(s));
  fn.emit(get(v), get(s), get(v), k(20), f32x4.gt, v128.bitselect);
}

/** Replaces the vector on the stack by its lane-wise logistic sigmoid `1 / (1 + exp(-v))`. */
function emitSigmoid(fn: FunctionBuilder, temps: MathTemps): void {
  fn.emit(f32x4.neg);
  emitExp(fn, temps);
  fn.emit(splat(fn, 1), f32x4.add, set(temps.v), splat(fn, 1), get(temps.v), f32x4.div);
}

/** Four lanes from four rows `stride` bytes apart, at `base + tb`. */
interface Rows {
  readonly stride: number;
  readonly stride2: number;
  readonly stride3: number;
  readonly addr: number;
  readonly tmp: number;
}

function rowLocals(fn: FunctionBuilder, stride: number): Rows {
  const rows = {
    stride,
    stride2: fn.local(I32),
    stride3: fn.local(I32),
    addr: fn.local(I32),
    tmp: fn.local(V128),
  };
  fn.emit(get(stride), i32.const(2), i32.mul, set(rows.stride2));
  fn.emit(get(stride), i32.const(3), i32.mul, set(rows.stride3));
  return rows;
}

/** Pushes the vector of lanes `base[tb], base[stride + tb], ...`. */
function gather(fn: FunctionBuilder, r: Rows, base: number, tb: number): void {
  fn.emit(get(base), get(tb), i32.add, tee(r.addr), v128.load32Zero(), set(r.tmp));
  [r.stride, r.stride2, r.stride3].forEach((s, i) => {
    fn.emit(get(r.addr), get(s), i32.add, get(r.tmp), v128.load32Lane(i + 1));
    if (i < 2) fn.emit(set(r.tmp));
  });
}

/** Stores the lanes of local `value` to `base[tb], base[stride + tb], ...`. */
function scatter(fn: FunctionBuilder, r: Rows, base: number, tb: number, value: number): void {
  fn.emit(get(base), get(tb), i32.add, tee(r.addr), get(value), v128.store32Lane(0));
  [r.stride, r.stride2, r.stride3].forEach((s, i) => {
    fn.emit(get(r.addr), get(s), i32.add, get(value), v128.store32Lane(i + 1));
  });
}

/** `*(ptr + offset) += value`, for an f32x4 in memory; `value` is code pushing a vector. */
function addTo(fn: FunctionBuilder, ptr: number, offset: number, value: Code[]): void {
  fn.emit(get(ptr), get(ptr), v128.load(offset), ...value, f32x4.add, v128.store(offset));
}

/** `if (flags & bit) { then } else { otherwise }`. */
function ifFlag(
  fn: FunctionBuilder,
  flags: number,
  bit: number,
  then: () => void,
  otherwise?: () => void,
): void {
  fn.emit(get(flags), i32.const(bit), i32.and, ifThen());
  then();
  if (otherwise) {
    fn.emit(orElse);
    otherwise();
  }
  fn.emit(end);
}

/** `ptr += bytes`. */
function advance(fn: FunctionBuilder, ptr: number, bytes: number): void {
  fn.emit(get(ptr), i32.const(bytes), i32.add, set(ptr));
}

/** Closes a loop that runs while `(ptr += bytes) < limit` (unsigned). */
function loopWhileBelow(fn: FunctionBuilder, ptr: number, bytes: number, limit: number): void {
  fn.emit(get(ptr), i32.const(bytes), i32.add, tee(ptr), get(limit), i32.ltU, brIf(0), end);
}

/** `out = base + index * scale`. */
function address(fn: FunctionBuilder, out: number, base: number, index: number, scale: number) {
  fn.emit(get(base), get(index), i32.const(scale), i32.mul, i32.add, set(out));
}

/** `out = rowsBase + first * stride`: the first of a quantity's four lane rows. */
function rowBase(
  fn: FunctionBuilder,
  out: number,
  rowsBase: number,
  stride: number,
  first: number,
) {
  fn.emit(get(rowsBase), get(stride), i32.const(first), i32.mul, i32.add, set(out));
}

/**
 * `forward(L, N, chunk, flags, rows, stride, bc, rec, prm, ck, scratch)`: the scan of four
 * channels over `L` steps. Reads the `u, delta, z` rows, `bc` (L x N records), `rec` (N
 * records, `h` holding the initial state) and `prm`; writes the `y` rows, the last state
 * into `rec`, and with the `save` flag the state entering each chunk of `chunk` steps to
 * `ck` (N vectors per chunk). `scratch` holds `fwdBlock` step records and `fwdBlock * N`
 * decays. Needs `L, N >= 1`.
 */
function forwardFunction(): FunctionBuilder {
  const ABI = SCAN_ABI;
  const R = ABI.fwdRec;
  const S = ABI.fwdStep;
  const BLOCK = ABI.fwdBlock;
  const fn = new FunctionBuilder(new Array<number>(11).fill(I32));
  const [L, N, chunk, flags, rowsBase, stride, bc, rec, prm, ck, scratch] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
  ];
  const i32s = Array.from({ length: 15 }, () => fn.local(I32));
  const [t, tt, cEnd, bEnd, tb, p, q, e, sv, recEnd, cp, decays, pU, pD, pZ] = i32s;
  const pY = fn.local(I32);
  const [dSkip, bias, dt, uu, acc, h, y] = Array.from({ length: 7 }, () => fn.local(V128));
  const temps = mathTemps(fn);
  const rows = rowLocals(fn, stride);
  rowBase(fn, pU, rowsBase, stride, ABI.fwdRows.u);
  rowBase(fn, pD, rowsBase, stride, ABI.fwdRows.delta);
  rowBase(fn, pZ, rowsBase, stride, ABI.fwdRows.z);
  rowBase(fn, pY, rowsBase, stride, ABI.fwdRows.y);
  fn.emit(get(prm), v128.load(ABI.fwdPrm.D), set(dSkip));
  fn.emit(get(prm), v128.load(ABI.fwdPrm.bias), set(bias));
  address(fn, recEnd, rec, N, R.bytes);
  fn.emit(get(scratch), i32.const(BLOCK * S.bytes), i32.add, set(decays));
  fn.emit(i32.const(0), set(t), get(ck), set(cp));
  /** `out = min(get(a) + add, limit)`. */
  const minEnd = (out: number, a: number, add: Code, limit: number) => {
    fn.emit(get(a), add, i32.add, tee(out), get(limit), get(out), get(limit), i32.ltS, select);
    fn.emit(set(out));
  };
  /** Loop over the steps [t, bEnd) of the block, `sv` walking the step records. */
  const eachStep = (body: () => void) => {
    fn.emit(get(t), set(tt), get(scratch), set(sv), loop());
    body();
    advance(fn, sv, S.bytes);
    fn.emit(get(tt), i32.const(1), i32.add, tee(tt), get(bEnd), i32.ltS, brIf(0), end);
  };

  fn.emit(loop()); // chunks
  minEnd(cEnd, t, get(chunk), L);
  ifFlag(fn, flags, ABI.flags.save, () => {
    fn.emit(get(rec), set(p), loop());
    fn.emit(get(cp), get(p), v128.load(R.h), v128.store());
    advance(fn, cp, 16);
    loopWhileBelow(fn, p, R.bytes, recEnd);
  });
  fn.emit(loop()); // blocks of the chunk
  minEnd(bEnd, t, i32.const(BLOCK), cEnd);

  // Pass 1: dt, dt u, u and the gate silu(z) of each step.
  eachStep(() => {
    fn.emit(get(tt), i32.const(2), i32.shl, set(tb));
    gather(fn, rows, pD, tb);
    fn.emit(get(bias), f32x4.add, set(dt));
    ifFlag(fn, flags, ABI.flags.softplus, () => {
      fn.emit(get(dt));
      emitSoftplus(fn, temps);
      fn.emit(set(dt));
    });
    fn.emit(get(sv), get(dt), v128.store(S.dt));
    gather(fn, rows, pU, tb);
    fn.emit(set(uu), get(sv), get(uu), v128.store(S.u));
    fn.emit(get(sv), get(uu), get(dt), f32x4.mul, v128.store(S.dtu));
    ifFlag(
      fn,
      flags,
      ABI.flags.gate,
      () => {
        gather(fn, rows, pZ, tb);
        fn.emit(tee(y));
        emitSigmoid(fn, temps);
        fn.emit(get(y), f32x4.mul, set(y), get(sv), get(y), v128.store(S.gate));
      },
      () => fn.emit(get(sv), splat(fn, 1), v128.store(S.gate)),
    );
  });

  // Pass 2: the decays exp(dt A) of every step and state.
  fn.emit(get(decays), set(e));
  eachStep(() => {
    fn.emit(get(sv), v128.load(S.dt), set(dt), get(rec), set(p), loop());
    fn.emit(get(e), get(dt), get(p), v128.load(R.A), f32x4.mul);
    emitExp(fn, temps);
    fn.emit(v128.store());
    advance(fn, e, 16);
    loopWhileBelow(fn, p, R.bytes, recEnd);
  });

  // Pass 3: the recurrence and the output.
  fn.emit(get(decays), set(e));
  eachStep(() => {
    fn.emit(get(sv), v128.load(S.dtu), set(uu), v128.zero, set(acc));
    fn.emit(get(bc), get(tt), get(N), i32.mul, i32.const(ABI.bc.bytes), i32.mul, i32.add, set(q));
    fn.emit(get(rec), set(p));
    const states = (withOffset: boolean) => {
      fn.emit(loop());
      fn.emit(get(e), v128.load(), get(p), v128.load(R.h), f32x4.mul);
      fn.emit(get(uu), get(q), v128.load32Splat(ABI.bc.B), f32x4.mul, f32x4.add, set(h));
      fn.emit(get(p), get(h), v128.store(R.h));
      fn.emit(get(acc), get(q), v128.load32Splat(ABI.bc.C), get(h));
      if (withOffset) fn.emit(get(p), v128.load(R.off), f32x4.add);
      fn.emit(f32x4.mul, f32x4.add, set(acc));
      advance(fn, e, 16);
      advance(fn, q, ABI.bc.bytes);
      loopWhileBelow(fn, p, R.bytes, recEnd);
    };
    ifFlag(
      fn,
      flags,
      ABI.flags.offset,
      () => states(true),
      () => states(false),
    );
    fn.emit(get(acc), get(dSkip), get(sv), v128.load(S.u), f32x4.mul, f32x4.add);
    fn.emit(get(sv), v128.load(S.gate), f32x4.mul, set(y));
    fn.emit(get(tt), i32.const(2), i32.shl, set(tb));
    scatter(fn, rows, pY, tb, y);
  });
  fn.emit(get(bEnd), tee(t), get(cEnd), i32.ltS, brIf(0), end);
  fn.emit(get(t), get(L), i32.ltS, brIf(0), end);
  return fn;
}

/**
 * `backward(L, N, chunk, flags, rows, stride, bc, rec, prm, ck, steps, stepv, acc)`: the
 * adjoint scan of four channels. Reads the `u, delta, z, dout` rows, `bc`, `rec` (A, offset,
 * and `g` = dL/d lastState), `prm`, and the chunk checkpoints `ck` saved by the forward;
 * writes the `du, ddelta, dz` rows and `g` = dL/dh0, adds the float64 sums of dA,
 * dStateOffset, dD and ddeltaBias in `rec` and `prm`, and adds dB, dC terms to `acc` (L x N
 * records). `steps` holds `chunk + 1` rows of N step records, `stepv` `chunk` records.
 * Needs `L, N >= 1`.
 */
function backwardFunction(): FunctionBuilder {
  const ABI = SCAN_ABI;
  const R = ABI.bwdRec;
  const S = ABI.step;
  const V = ABI.stepv;
  const fn = new FunctionBuilder(new Array<number>(13).fill(I32));
  const [L, N, chunk, flags, rowsBase, stride, bc, rec, prm, ck, steps, stepv, accBase] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
  ];
  const i32s = Array.from({ length: 15 }, () => fn.local(I32));
  const [c, t0, len, kk, tb, p, q, r, s, s1, sv, recEnd, rowBytes, src, pU] = i32s;
  const [pD, pZ, pO, pDu, pDd, pDz] = Array.from({ length: 6 }, () => fn.local(I32));
  const v128s = Array.from({ length: 16 }, () => fn.local(V128));
  const [dSkip, bias, dt, uu, dtu, yAcc, dy, zz, sg, gn, a, gha, dtSum, dBu, dD32, dBias32] = v128s;
  const [out, cn] = [fn.local(V128), fn.local(V128)];
  const temps = mathTemps(fn);
  const rows = rowLocals(fn, stride);
  const rowsOf = ABI.bwdRows;
  rowBase(fn, pU, rowsBase, stride, rowsOf.u);
  rowBase(fn, pD, rowsBase, stride, rowsOf.delta);
  rowBase(fn, pZ, rowsBase, stride, rowsOf.z);
  rowBase(fn, pO, rowsBase, stride, rowsOf.dout);
  rowBase(fn, pDu, rowsBase, stride, rowsOf.du);
  rowBase(fn, pDd, rowsBase, stride, rowsOf.ddelta);
  rowBase(fn, pDz, rowsBase, stride, rowsOf.dz);
  fn.emit(get(prm), v128.load(ABI.bwdPrm.D), set(dSkip));
  fn.emit(get(prm), v128.load(ABI.bwdPrm.bias), set(bias));
  address(fn, recEnd, rec, N, R.bytes);
  fn.emit(get(N), i32.const(S.bytes), i32.mul, set(rowBytes));
  // c = ceil(L / chunk) - 1, walked down to 0.
  fn.emit(get(L), get(chunk), i32.add, i32.const(1), i32.sub, get(chunk), i32.divU);
  fn.emit(i32.const(1), i32.sub, set(c));
  /** Loop over the steps 0..len-1 of the chunk, `sv` walking the step records. */
  const eachStep = (body: () => void) => {
    fn.emit(i32.const(0), set(kk), get(stepv), set(sv), loop());
    body();
    advance(fn, sv, V.bytes);
    fn.emit(get(kk), i32.const(1), i32.add, tee(kk), get(len), i32.ltS, brIf(0), end);
  };
  const setTb = () => fn.emit(get(t0), get(kk), i32.add, i32.const(2), i32.shl, set(tb));
  const setQ = () => {
    fn.emit(get(bc), get(t0), get(kk), i32.add, get(N), i32.mul, i32.const(ABI.bc.bytes));
    fn.emit(i32.mul, i32.add, set(q));
  };

  fn.emit(loop()); // chunks, last first
  fn.emit(get(c), get(chunk), i32.mul, tee(t0), get(chunk), i32.add, get(L), i32.ltS);
  fn.emit(ifThen(I32), get(chunk), orElse, get(L), get(t0), i32.sub, end, set(len));
  // Step row 0 is the checkpoint: the state entering the chunk.
  fn.emit(get(steps), set(s));
  fn.emit(get(ck), get(c), get(N), i32.mul, i32.const(16), i32.mul, i32.add, set(src));
  fn.emit(get(rec), set(p), loop());
  fn.emit(get(s), get(src), v128.load(), v128.store(S.h));
  advance(fn, s, S.bytes);
  advance(fn, src, 16);
  loopWhileBelow(fn, p, R.bytes, recEnd);

  // Recompute pass 1: per-step values.
  eachStep(() => {
    setTb();
    gather(fn, rows, pD, tb);
    fn.emit(get(bias), f32x4.add, set(yAcc)); // v = delta + bias, in yAcc for now
    ifFlag(
      fn,
      flags,
      ABI.flags.softplus,
      () => {
        fn.emit(get(yAcc));
        emitSoftplus(fn, temps);
        fn.emit(set(dt), get(sv), get(yAcc));
        emitSigmoid(fn, temps);
        fn.emit(v128.store(V.dtGrad));
      },
      () => fn.emit(get(yAcc), set(dt), get(sv), splat(fn, 1), v128.store(V.dtGrad)),
    );
    fn.emit(get(sv), get(dt), v128.store(V.dt));
    gather(fn, rows, pU, tb);
    fn.emit(set(uu), get(sv), get(uu), v128.store(V.u));
    fn.emit(get(sv), get(uu), get(dt), f32x4.mul, v128.store(V.dtu));
    ifFlag(fn, flags, ABI.flags.gate, () => {
      gather(fn, rows, pZ, tb);
      fn.emit(set(zz), get(sv), get(zz), v128.store(V.z), get(sv), get(zz));
      emitSigmoid(fn, temps);
      fn.emit(v128.store(V.sig));
    });
  });
  // Recompute pass 2: decays, into the decay fields of step rows 1..len.
  fn.emit(get(steps), get(rowBytes), i32.add, set(s1));
  eachStep(() => {
    fn.emit(get(sv), v128.load(V.dt), set(dt), get(rec), set(p), loop());
    fn.emit(get(s1), get(dt), get(p), v128.load(R.A), f32x4.mul);
    emitExp(fn, temps);
    fn.emit(v128.store(S.decay));
    advance(fn, s1, S.bytes);
    loopWhileBelow(fn, p, R.bytes, recEnd);
  });
  // Recompute pass 3: states into step rows 1..len (row k + 1 after step k), and the
  // pre-gate output when there is a gate.
  fn.emit(get(steps), tee(s), get(rowBytes), i32.add, set(s1));
  eachStep(() => {
    setQ();
    fn.emit(get(sv), v128.load(V.dtu), set(dtu), get(rec), set(p));
    fn.emit(get(sv), v128.load(V.u), get(dSkip), f32x4.mul, set(yAcc));
    const recompute = (withY: boolean, withOffset: boolean) => {
      fn.emit(loop());
      fn.emit(get(s1), v128.load(S.decay), get(s), v128.load(S.h), f32x4.mul);
      fn.emit(get(dtu), get(q), v128.load32Splat(ABI.bc.B), f32x4.mul, f32x4.add, set(out));
      fn.emit(get(s1), get(out), v128.store(S.h));
      if (withY) {
        fn.emit(get(yAcc), get(q), v128.load32Splat(ABI.bc.C), get(out));
        if (withOffset) fn.emit(get(p), v128.load(R.off), f32x4.add);
        fn.emit(f32x4.mul, f32x4.add, set(yAcc));
      }
      advance(fn, q, ABI.bc.bytes);
      advance(fn, s, S.bytes);
      advance(fn, s1, S.bytes);
      loopWhileBelow(fn, p, R.bytes, recEnd);
    };
    ifFlag(
      fn,
      flags,
      ABI.flags.gate,
      () => {
        ifFlag(
          fn,
          flags,
          ABI.flags.offset,
          () => recompute(true, true),
          () => recompute(true, false),
        );
        fn.emit(get(sv), get(yAcc), v128.store(V.yPre));
      },
      () => recompute(false, false),
    );
  });

  // The chunk's float32 sums start at zero.
  fn.emit(v128.zero, set(dD32), v128.zero, set(dBias32), get(rec), set(p), loop());
  fn.emit(get(p), v128.zero, v128.store(R.dA32), get(p), v128.zero, v128.store(R.dOff32));
  loopWhileBelow(fn, p, R.bytes, recEnd);

  // The adjoint scan through the chunk, last step first.
  fn.emit(get(len), set(kk), loop());
  fn.emit(get(kk), i32.const(1), i32.sub, set(kk));
  setTb();
  address(fn, sv, stepv, kk, V.bytes);
  fn.emit(get(sv), v128.load(V.u), set(uu), get(sv), v128.load(V.dt), set(dt));
  gather(fn, rows, pO, tb);
  fn.emit(set(dy));
  ifFlag(fn, flags, ABI.flags.gate, () => {
    fn.emit(get(sv), v128.load(V.z), set(zz), get(sv), v128.load(V.sig), set(sg));
    // dz = dy * yPre * sg * (1 + z (1 - sg)); then dy *= z sg.
    fn.emit(get(dy), get(sv), v128.load(V.yPre), f32x4.mul, get(sg), f32x4.mul);
    fn.emit(splat(fn, 1), get(zz), splat(fn, 1), get(sg), f32x4.sub, f32x4.mul, f32x4.add);
    fn.emit(f32x4.mul, set(out));
    scatter(fn, rows, pDz, tb, out);
    fn.emit(get(dy), get(zz), f32x4.mul, get(sg), f32x4.mul, set(dy));
  });
  fn.emit(get(dD32), get(dy), get(uu), f32x4.mul, f32x4.add, set(dD32));
  fn.emit(v128.zero, set(dtSum), v128.zero, set(dBu), get(sv), v128.load(V.dtu), set(dtu));
  setQ();
  fn.emit(get(t0), get(kk), i32.add, get(N), i32.mul, i32.const(ABI.acc.bytes), i32.mul);
  fn.emit(get(accBase), i32.add, set(r));
  fn.emit(get(steps), get(kk), get(rowBytes), i32.mul, i32.add, tee(s), get(rowBytes), i32.add);
  fn.emit(set(s1), get(rec), set(p));
  const adjoint = (withOffset: boolean) => {
    fn.emit(loop());
    fn.emit(get(q), v128.load32Splat(ABI.bc.C), set(cn));
    fn.emit(get(p), v128.load(R.g), get(dy), get(cn), f32x4.mul, f32x4.add, set(gn));
    // dC += dy (h_t + offset); dStateOffset += dy C; dB += g dt u.
    const hOut: Code[] = [get(dy), get(s1), v128.load(S.h)];
    if (withOffset) hOut.push(get(p), v128.load(R.off), f32x4.add);
    addTo(fn, r, ABI.acc.dC, [...hOut, f32x4.mul]);
    if (withOffset) addTo(fn, p, R.dOff32, [get(dy), get(cn), f32x4.mul]);
    addTo(fn, r, ABI.acc.dB, [get(gn), get(dtu), f32x4.mul]);
    fn.emit(get(dBu), get(gn), get(q), v128.load32Splat(ABI.bc.B), f32x4.mul, f32x4.add);
    fn.emit(set(dBu), get(s1), v128.load(S.decay), set(a));
    fn.emit(get(gn), get(s), v128.load(S.h), f32x4.mul, get(a), f32x4.mul, set(gha));
    fn.emit(get(dtSum), get(gha), get(p), v128.load(R.A), f32x4.mul, f32x4.add, set(dtSum));
    addTo(fn, p, R.dA32, [get(gha), get(dt), f32x4.mul]);
    fn.emit(get(p), get(gn), get(a), f32x4.mul, v128.store(R.g));
    advance(fn, q, ABI.bc.bytes);
    advance(fn, r, ABI.acc.bytes);
    advance(fn, s, S.bytes);
    advance(fn, s1, S.bytes);
    loopWhileBelow(fn, p, R.bytes, recEnd);
  };
  ifFlag(
    fn,
    flags,
    ABI.flags.offset,
    () => adjoint(true),
    () => adjoint(false),
  );
  fn.emit(get(dtSum), get(dBu), get(uu), f32x4.mul, f32x4.add, set(dtSum));
  fn.emit(get(dy), get(dSkip), f32x4.mul, get(dBu), get(dt), f32x4.mul, f32x4.add, set(out));
  scatter(fn, rows, pDu, tb, out);
  fn.emit(get(dtSum), get(sv), v128.load(V.dtGrad), f32x4.mul, set(out));
  scatter(fn, rows, pDd, tb, out);
  fn.emit(get(dBias32), get(out), f32x4.add, set(dBias32));
  fn.emit(get(kk), brIf(0), end);

  // Chunk sums into the float64 totals: lanes 0-1 at `to`, lanes 2-3 at `to + 16`.
  const high = shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);
  const widenInto = (ptr: number, to: number, value: number) => {
    fn.emit(get(ptr), get(ptr), v128.load(to), get(value), f64x2.promoteLow, f64x2.add);
    fn.emit(v128.store(to), get(ptr), get(ptr), v128.load(to + 16), get(value), get(value));
    fn.emit(high, f64x2.promoteLow, f64x2.add, v128.store(to + 16));
  };
  fn.emit(get(rec), set(p), loop());
  fn.emit(get(p), v128.load(R.dA32), set(out));
  widenInto(p, R.dA, out);
  fn.emit(get(p), v128.load(R.dOff32), set(out));
  widenInto(p, R.dOff, out);
  loopWhileBelow(fn, p, R.bytes, recEnd);
  widenInto(prm, ABI.bwdPrm.dD, dD32);
  widenInto(prm, ABI.bwdPrm.dBias, dBias32);
  fn.emit(get(c), i32.const(1), i32.sub, tee(c), i32.const(0), i32.geS, brIf(0), end);
  return fn;
}

/**
 * `flush(acc, sum, count)`: for each of `count` vectors at `acc`, adds the sum of its four
 * lanes (in float64, lanes 0+2 and 1+3 first) to the float64 at `sum`, and zeroes it.
 */
function flushFunction(): FunctionBuilder {
  const fn = new FunctionBuilder([I32, I32, I32]);
  const [acc, sum, count] = [0, 1, 2];
  const [x, w] = [fn.local(V128), fn.local(V128)];
  const high = shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);
  fn.emit(block(), get(count), i32.eqz, brIf(0), loop());
  fn.emit(get(acc), v128.load(), tee(x), f64x2.promoteLow, get(x), get(x), high);
  fn.emit(f64x2.promoteLow, f64x2.add, set(w));
  fn.emit(get(sum), get(sum), f64.load(), get(w), f64x2.extractLane(0), get(w));
  fn.emit(f64x2.extractLane(1), f64.add, f64.add, f64.store());
  fn.emit(get(acc), v128.zero, v128.store());
  advance(fn, acc, 16);
  advance(fn, sum, 8);
  fn.emit(get(count), i32.const(1), i32.sub, tee(count), brIf(0), end, end);
  return fn;
}

/**
 * `(ptr, count)`: replaces `count` vectors at `ptr` by their lane-wise exp or softplus, with
 * the very instructions the kernels inline (for tests).
 */
function mapFunction(math: (fn: FunctionBuilder, temps: MathTemps) => void): FunctionBuilder {
  const fn = new FunctionBuilder([I32, I32]);
  const [ptr, count] = [0, 1];
  const temps = mathTemps(fn);
  fn.emit(block(), get(count), i32.eqz, brIf(0), loop());
  fn.emit(get(ptr), get(ptr), v128.load());
  math(fn, temps);
  fn.emit(v128.store());
  advance(fn, ptr, 16);
  fn.emit(get(count), i32.const(1), i32.sub, tee(count), brIf(0), end, end);
  return fn;
}

/**
 * Assembles the scan module: imports `env.mem`, exports `forward`, `backward` and `flush`.
 * It is ~6 KiB, within the 8 MiB Chrome compiles synchronously on the main thread (before
 * Chrome 115 the limit was 4 KiB; there the JS kernel runs).
 */
export function buildScanWasm(): Uint8Array {
  return assembleModule(1, [
    { fn: forwardFunction(), exportName: 'forward' },
    { fn: backwardFunction(), exportName: 'backward' },
    { fn: flushFunction(), exportName: 'flush' },
  ]);
}

/**
 * For tests: a module that imports `env.mem` and exports `vexp(ptr, count)` and
 * `vsoftplus(ptr, count)`, which replace `count` vectors at byte `ptr` by their lane-wise
 * exp and softplus with the instruction sequences the kernels inline.
 */
export function buildScanMathWasm(): Uint8Array {
  return assembleModule(1, [
    { fn: mapFunction(emitExp), exportName: 'vexp' },
    { fn: mapFunction(emitSoftplus), exportName: 'vsoftplus' },
  ]);
}
