/**
 * Philox-4x32-10 blocks in WebAssembly, for the CPU draws of `random.ts`. JavaScript has no
 * 32x32 -> 64-bit multiply, so the JS `philox` builds each high word from four 16-bit
 * partial products (~90 ns per block in V8); `i64.mul` gives both words of the product at
 * once (~10 ns per block). The words are the same: the tests check them against `philox`
 * and Random123's known answers.
 *
 * Module: imports `env.mem` (one page) and exports `blocks(c0, c1, k0, k1, count, dst)`,
 * all i32: the four words of blocks `(c0, c1, 0, 0)`, `(c0 + 1, c1, 0, 0)`, ... (the
 * counter's 64 bits carried across c0 and c1) under key `(k0, k1)`, `count` blocks stored as
 * `4 * count` u32 words from byte `dst`. It is a few hundred bytes, so compiling it
 * synchronously is allowed everywhere.
 */

import {
  assembleModule,
  brIf,
  type Code,
  end,
  FunctionBuilder,
  get,
  I32,
  i32,
  ifThen,
  loop,
  set,
  tee,
} from './wasm-asm.js';

const I64 = 0x7e;
const i64 = {
  extendI32U: [0xad] as Code,
  mul: [0x7e] as Code,
  shrU: [0x88] as Code,
  const32: (v: number): Code => [0x42, ...i64Leb(v)],
};
const i32WrapI64: Code = [0xa7];
const i32Xor: Code = [0x73];
const i32Store = (offset: number): Code => [0x36, 2, offset];

/** Signed LEB128 of a non-negative integer below 2^53 (an i64 immediate). */
function i64Leb(value: number): number[] {
  const bytes: number[] = [];
  for (;;) {
    const byte = value % 128;
    value = Math.floor(value / 128);
    if (value === 0 && (byte & 0x40) === 0) {
      bytes.push(byte);
      return bytes;
    }
    bytes.push(byte | 0x80);
  }
}

/** Philox multipliers and Weyl increments (Salmon et al.). */
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** Blocks the one-page memory holds (16 bytes each). */
export const PHILOX_WASM_BLOCKS = 4096;

/** Assembles the module described at the top of this file. */
export function buildPhiloxWasm(): Uint8Array {
  const fn = new FunctionBuilder([I32, I32, I32, I32, I32, I32]);
  const [c0, c1, k0, k1, count, dst] = [0, 1, 2, 3, 4, 5];
  const [x0, x1, x2, x3, key0, key1] = Array.from({ length: 6 }, () => fn.local(I32));
  const [p0, p1] = [fn.local(I64), fn.local(I64)];
  const emit = (...parts: Code[]) => fn.emit(...parts);
  const hi = (p: number): Code[] => [get(p), i64.const32(32), i64.shrU, i32WrapI64];
  const lo = (p: number): Code[] => [get(p), i32WrapI64];

  emit(get(count), i32.eqz, brIf(0));
  emit(loop());
  emit(get(c0), set(x0), get(c1), set(x1), i32.const(0), set(x2), i32.const(0), set(x3));
  emit(get(k0), set(key0), get(k1), set(key1));
  for (let r = 0; r < 10; r++) {
    emit(get(x0), i64.extendI32U, i64.const32(M0), i64.mul, set(p0));
    emit(get(x2), i64.extendI32U, i64.const32(M1), i64.mul, set(p1));
    emit(...hi(p1), get(x1), i32Xor, get(key0), i32Xor, set(x0));
    emit(...lo(p1), set(x1));
    emit(...hi(p0), get(x3), i32Xor, get(key1), i32Xor, set(x2));
    emit(...lo(p0), set(x3));
    if (r < 9) {
      emit(get(key0), i32.const(W0 | 0), i32.add, set(key0));
      emit(get(key1), i32.const(W1 | 0), i32.add, set(key1));
    }
  }
  emit(get(dst), get(x0), i32Store(0));
  emit(get(dst), get(x1), i32Store(4));
  emit(get(dst), get(x2), i32Store(8));
  emit(get(dst), get(x3), i32Store(12));
  emit(get(dst), i32.const(16), i32.add, set(dst));
  // The next counter: c0 + 1, carrying into c1 when c0 wraps to 0.
  emit(get(c0), i32.const(1), i32.add, tee(c0), i32.eqz, ifThen());
  emit(get(c1), i32.const(1), i32.add, set(c1));
  emit(end);
  emit(get(count), i32.const(1), i32.sub, tee(count), brIf(0));
  emit(end);
  return assembleModule(1, [{ fn, exportName: 'blocks' }]);
}

/** The part of the WebAssembly JS API used here (the package's lib has no DOM types). */
interface WasmApi {
  Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

/** An instance of the module: its `blocks` function and its memory as u32 words. */
export interface PhiloxWasm {
  readonly blocks: (
    c0: number,
    c1: number,
    k0: number,
    k1: number,
    count: number,
    dst: number,
  ) => void;
  readonly words: Uint32Array;
}

let instance: PhiloxWasm | null | undefined;
let disabled = false;

/**
 * @internal Turns the WebAssembly path off (`true`) or back on, so that tests can check the
 * JS fallback against it.
 */
export function disablePhiloxWasm(off: boolean): void {
  disabled = off;
}

/**
 * The module's instance, made on first use; null where WebAssembly is missing or not
 * allowed (a content security policy), in which case callers use the JS `philox`.
 */
export function philoxWasm(): PhiloxWasm | null {
  if (disabled) return null;
  if (instance !== undefined) return instance;
  instance = null;
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (api === undefined) return instance;
  try {
    const memory = new api.Memory({ initial: 1 });
    const inst = new api.Instance(new api.Module(buildPhiloxWasm()), { env: { mem: memory } });
    instance = {
      blocks: inst.exports.blocks as PhiloxWasm['blocks'],
      words: new Uint32Array(memory.buffer, 0, 4 * PHILOX_WASM_BLOCKS),
    };
  } catch {
    // WebAssembly compilation refused here; the JS path serves.
  }
  return instance;
}
