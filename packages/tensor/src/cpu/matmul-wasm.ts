/**
 * The WebAssembly SIMD block kernel of the float32 matmul, assembled here byte by byte (no
 * toolchain, no downloaded binary). It computes exactly what `jsBlock` in `matmul-kernel.ts`
 * computes, on the same packed layout, about eight times faster on x86-64 with V8 (~38
 * against ~4.7 GFLOP/s on one core): four lanes per instruction, and the 4x8 micro-tile's
 * eight `f32x4` accumulators, two B vectors and one broadcast A value fit in the sixteen
 * SIMD registers.
 *
 * Module: imports `env.mem` (a memory of at least one page) and exports
 * `block(kc, mPanels, nPanels, ap, bp, c, ldc, first)`, all arguments i32 and every
 * offset and stride counted in float32 elements (see `jsBlock` for the contract). It is
 * under 1 KiB, so it may be compiled synchronously even on a browser's main thread (Chrome
 * refuses that above 4 KiB).
 */

const I32 = 0x7f;
const V128 = 0x7b;
const VOID = 0x40;

/** Micro-tile rows and columns: the panel shape `matmul-kernel.ts` packs. */
const MR = 4;
const NR = 8;

function uleb(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

function sleb(value: number): number[] {
  const bytes: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    if ((value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0)) {
      bytes.push(byte);
      return bytes;
    }
    bytes.push(byte | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

// Instructions (https://webassembly.github.io/spec/core/binary/instructions.html).
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const tee = (i: number) => [0x22, ...uleb(i)];
const i32 = (v: number) => [0x41, ...sleb(v)];
const add = [0x6a];
const sub = [0x6b];
const mul = [0x6c];
const shl = [0x74];
const ltS = [0x48];
const loop = [0x03, VOID];
const ifThen = [0x04, VOID];
const orElse = [0x05];
const end = [0x0b];
const brIf = (depth: number) => [0x0d, ...uleb(depth)];
const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
const v128Load = (offset: number) => simd(0x00, 4, ...uleb(offset));
const v128Store = (offset: number) => simd(0x0b, 4, ...uleb(offset));
const load32Splat = (offset: number) => simd(0x09, 2, ...uleb(offset));
const v128Zero = simd(0x0c, ...new Array<number>(16).fill(0));
const f32x4Add = simd(0xe4);
const f32x4Mul = simd(0xe6);

/** Assembles the module described at the top of this file. */
export function buildMatmulWasm(): Uint8Array {
  const NV = NR / 4; // f32x4 vectors per micro-tile row
  // Parameters, then i32 locals, then v128 locals.
  const [kc, mPanels, nPanels, ap, bp, c, ldc, first] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [jr, ir, aPtr, bPtr, cPtr, kLeft, aPanel, bPanel, cPanel] = [
    8, 9, 10, 11, 12, 13, 14, 15, 16,
  ];
  const i32Locals = 9;
  const accBase = 8 + i32Locals;
  const acc = (i: number, j: number) => accBase + i * NV + j;
  const bVec = (j: number) => accBase + MR * NV + j;
  const aVec = accBase + MR * NV + NV;
  const v128Locals = MR * NV + NV + 1;

  const code: number[] = [];
  const emit = (...parts: number[][]) => {
    for (const part of parts) code.push(...part);
  };
  const toBytes = (local: number) => emit(get(local), i32(2), shl, set(local));
  // Walks the micro-tile's rows in C, `cPtr` moving by one row stride.
  const eachCRow = (perRow: (row: number) => void) => {
    for (let i = 0; i < MR; i++) {
      perRow(i);
      if (i < MR - 1) emit(get(cPtr), get(ldc), add, set(cPtr));
    }
  };

  toBytes(ap);
  toBytes(bp);
  toBytes(c);
  toBytes(ldc);
  emit(get(bp), set(bPanel), get(c), set(cPanel), i32(0), set(jr));
  emit(loop); // over B panels (column blocks of 8)
  emit(get(ap), set(aPanel), i32(0), set(ir));
  emit(loop); // over A panels (row blocks of 4)
  for (let i = 0; i < MR; i++) for (let j = 0; j < NV; j++) emit(v128Zero, set(acc(i, j)));
  emit(get(aPanel), set(aPtr), get(bPanel), set(bPtr), get(kc), set(kLeft));
  emit(loop); // over k: one rank-1 update of the 4x8 tile
  for (let j = 0; j < NV; j++) emit(get(bPtr), v128Load(16 * j), set(bVec(j)));
  for (let i = 0; i < MR; i++) {
    emit(get(aPtr), load32Splat(4 * i), set(aVec));
    for (let j = 0; j < NV; j++) {
      emit(get(acc(i, j)), get(aVec), get(bVec(j)), f32x4Mul, f32x4Add, set(acc(i, j)));
    }
  }
  emit(get(aPtr), i32(4 * MR), add, set(aPtr));
  emit(get(bPtr), i32(4 * NR), add, set(bPtr));
  emit(get(kLeft), i32(1), sub, tee(kLeft), brIf(0));
  emit(end);
  // Store the tile (first k block) or add it to what earlier k blocks left.
  emit(get(cPanel), get(ir), i32(MR), mul, get(ldc), mul, add, set(cPtr));
  emit(get(first), ifThen);
  eachCRow((i) => {
    for (let j = 0; j < NV; j++) emit(get(cPtr), get(acc(i, j)), v128Store(16 * j));
  });
  emit(orElse);
  eachCRow((i) => {
    for (let j = 0; j < NV; j++) {
      emit(get(cPtr), get(cPtr), v128Load(16 * j), get(acc(i, j)), f32x4Add, v128Store(16 * j));
    }
  });
  emit(end);
  emit(get(aPanel), get(kc), i32(4 * MR), mul, add, set(aPanel));
  emit(get(ir), i32(1), add, tee(ir), get(mPanels), ltS, brIf(0));
  emit(end);
  emit(get(bPanel), get(kc), i32(4 * NR), mul, add, set(bPanel));
  emit(get(cPanel), i32(4 * NR), add, set(cPanel));
  emit(get(jr), i32(1), add, tee(jr), get(nPanels), ltS, brIf(0));
  emit(end);
  emit(end);

  const body = [
    ...vec([
      [...uleb(i32Locals), I32],
      [...uleb(v128Locals), V128],
    ]),
    ...code,
  ];
  const blockType = [0x60, ...vec(new Array<number[]>(8).fill([I32])), ...vec([])];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([blockType])),
    ...section(2, vec([[...name('env'), ...name('mem'), 0x02, 0x00, ...uleb(1)]])),
    ...section(3, vec([uleb(0)])),
    ...section(7, vec([[...name('block'), 0x00, 0x00]])),
    ...section(10, vec([[...uleb(body.length), ...body]])),
  ]);
}
