/**
 * A minimal WebAssembly assembler: the binary encoding of the handful of instructions the CPU
 * kernels use, a function builder that hands out locals, and the module layout (one imported
 * memory, functions, exports). The kernels are assembled at run time from TypeScript, so
 * the package needs no toolchain and ships no binary.
 *
 * Instructions are byte arrays (`Code`); a kernel is written as a sequence of them, in the
 * order of the stack machine (operands first). Opcodes follow the core and SIMD
 * specifications (https://webassembly.github.io/spec/core/binary/instructions.html).
 */

/** Encoded instructions, in stack-machine order. */
export type Code = readonly number[];

/** Value type: 32-bit integer. */
export const I32 = 0x7f;
/** Value type: 128-bit vector. */
export const V128 = 0x7b;
/** The empty block type. */
export const VOID = 0x40;

/** Unsigned LEB128. */
export function uleb(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

/** Signed LEB128. */
export function sleb(value: number): number[] {
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

const vec = (items: Code[]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const section = (id: number, body: Code): number[] => [id, ...uleb(body.length), ...body];
const simd = (op: number, ...imm: number[]): number[] => [0xfd, ...uleb(op), ...imm];
/** Memory argument: alignment exponent and constant byte offset. */
const memarg = (align: number, offset: number) => [align, ...uleb(offset)];

/** `local.get`: pushes local `i`. */
export const get = (i: number): Code => [0x20, ...uleb(i)];
/** `local.set`: pops into local `i`. */
export const set = (i: number): Code => [0x21, ...uleb(i)];
/** `local.tee`: copies the top of the stack into local `i`. */
export const tee = (i: number): Code => [0x22, ...uleb(i)];

/** `block` (a `br` to it exits), with a block type (default: no result). */
export const block = (type = VOID): Code => [0x02, type];
/** `loop` (a `br` to it repeats), with a block type (default: no result). */
export const loop = (type = VOID): Code => [0x03, type];
/** `if` on an i32 condition, with a block type (default: no result). */
export const ifThen = (type = VOID): Code => [0x04, type];
/** `else` of an `if`. */
export const orElse: Code = [0x05];
/** Ends a block, loop or if (and a function body, which `FunctionBuilder` adds). */
export const end: Code = [0x0b];
/** `br_if`: branches to the enclosing block `depth` levels out when the i32 is non-zero. */
export const brIf = (depth: number): Code => [0x0d, ...uleb(depth)];
/** `select`: the first operand when the i32 condition is non-zero, else the second. */
export const select: Code = [0x1b];

/** 32-bit integer instructions. */
export const i32 = {
  const: (v: number): Code => [0x41, ...sleb(v)],
  eqz: [0x45] as Code,
  ltS: [0x48] as Code,
  ltU: [0x49] as Code,
  gtS: [0x4a] as Code,
  geS: [0x4e] as Code,
  add: [0x6a] as Code,
  sub: [0x6b] as Code,
  mul: [0x6c] as Code,
  divU: [0x6e] as Code,
  and: [0x71] as Code,
  shl: [0x74] as Code,
};

/** Scalar float64 loads and stores (offset in bytes; 8-byte alignment hint). */
export const f64 = {
  load: (offset = 0): Code => [0x2b, ...memarg(3, offset)],
  store: (offset = 0): Code => [0x39, ...memarg(3, offset)],
  add: [0xa0] as Code,
};

/** 128-bit vector memory access and bitwise instructions. */
export const v128 = {
  load: (offset = 0): Code => simd(0x00, ...memarg(4, offset)),
  store: (offset = 0): Code => simd(0x0b, ...memarg(4, offset)),
  /** One float32 from memory into all four lanes. */
  load32Splat: (offset = 0): Code => simd(0x09, ...memarg(2, offset)),
  /** One float32 from memory into lane 0, the others zero. */
  load32Zero: (offset = 0): Code => simd(0x5c, ...memarg(2, offset)),
  /** Operands `(address, vector)`: replaces `lane` with the float32 at the address. */
  load32Lane: (lane: number, offset = 0): Code => simd(0x56, ...memarg(2, offset), lane),
  /** Operands `(address, vector)`: stores `lane` at the address. */
  store32Lane: (lane: number, offset = 0): Code => simd(0x5a, ...memarg(2, offset), lane),
  const: (bytes: readonly number[]): Code => simd(0x0c, ...bytes),
  zero: simd(0x0c, ...new Array<number>(16).fill(0)) as Code,
  and: simd(0x4e) as Code,
  /** `a & ~b`. */
  andnot: simd(0x4f) as Code,
  /** Operands `(a, b, mask)`: bits of `a` where the mask is set, else of `b`. */
  bitselect: simd(0x52) as Code,
};

function f32Bytes(v: number): number[] {
  return Array.from(new Uint8Array(new Float32Array([v]).buffer));
}

/** Four-lane float32 instructions. */
export const f32x4 = {
  /** A constant with `v` (rounded to float32) in every lane. */
  splatConst: (v: number): Code => v128.const([0, 1, 2, 3].flatMap(() => f32Bytes(v))),
  gt: simd(0x44) as Code,
  lt: simd(0x43) as Code,
  abs: simd(0xe0) as Code,
  neg: simd(0xe1) as Code,
  add: simd(0xe4) as Code,
  sub: simd(0xe5) as Code,
  mul: simd(0xe6) as Code,
  div: simd(0xe7) as Code,
  /** `b < a ? b : a` (one instruction on x86; NaN in `a` is kept). */
  pmin: simd(0xea) as Code,
  /** `a < b ? b : a` (one instruction on x86; NaN in `a` is kept). */
  pmax: simd(0xeb) as Code,
};

/** Four-lane int32 instructions. */
export const i32x4 = {
  /** A constant with `v` in every lane. */
  splatConst: (v: number): Code =>
    v128.const([0, 1, 2, 3].flatMap(() => Array.from(new Uint8Array(new Int32Array([v]).buffer)))),
  /** Operands `(vector, i32 count)`. */
  shl: simd(0xab) as Code,
  add: simd(0xae) as Code,
  sub: simd(0xb1) as Code,
};

/** Two-lane float64 instructions. */
export const f64x2 = {
  add: simd(0xf0) as Code,
  /** Lanes 0 and 1 of a float32 vector, widened. */
  promoteLow: simd(0x5f) as Code,
  extractLane: (lane: number): Code => simd(0x21, lane),
};

/** Byte shuffle of two vectors: `lanes[i]` picks byte i of the result (0-15 first, 16-31 second). */
export const shuffle = (lanes: readonly number[]): Code => simd(0x0d, ...lanes);

/** A function under construction: parameters, locals handed out on demand, and its code. */
export class FunctionBuilder {
  readonly code: number[] = [];
  private readonly localTypes: number[] = [];
  private readonly prologue: number[] = [];
  private readonly constants = new Map<string, number>();

  /** @param params Parameter types; parameter `i` is local `i`. */
  constructor(
    readonly params: readonly number[],
    readonly results: readonly number[] = [],
  ) {}

  /** A fresh local of `type`; returns its index. */
  local(type: number): number {
    this.localTypes.push(type);
    return this.params.length + this.localTypes.length - 1;
  }

  /**
   * Reads `value` (a constant instruction such as `v128.const`) from a local that the
   * function sets once on entry. V8 rebuilds a `v128.const` from immediates wherever it is
   * used (several instructions), and does not hoist it out of loops; a local stays in a
   * register or is one load from the stack.
   */
  constant(value: Code): Code {
    const key = value.join(',');
    let index = this.constants.get(key);
    if (index === undefined) {
      index = this.local(V128);
      this.constants.set(key, index);
      this.prologue.push(...value, ...set(index));
    }
    return get(index);
  }

  /** Appends instructions. */
  emit(...parts: Code[]): void {
    for (const part of parts) for (const byte of part) this.code.push(byte);
  }

  /** The function's local declarations (runs of one type) followed by its code. */
  body(): number[] {
    const runs: Code[] = [];
    for (let i = 0; i < this.localTypes.length; ) {
      let j = i;
      while (j < this.localTypes.length && this.localTypes[j] === this.localTypes[i]) j++;
      runs.push([...uleb(j - i), this.localTypes[i]]);
      i = j;
    }
    return [...vec(runs), ...this.prologue, ...this.code, ...end];
  }
}

/** A function of a module: its builder and, when exported, the export name. */
export interface ModuleFunction {
  readonly fn: FunctionBuilder;
  readonly exportName?: string;
}

/**
 * A module that imports `env.mem` (at least `minPages` pages of 64 KiB) and defines
 * `functions`, which call each other by their index in that list.
 */
export function assembleModule(minPages: number, functions: readonly ModuleFunction[]): Uint8Array {
  const types: string[] = [];
  const typeOf = functions.map(({ fn }) => {
    const sig = [0x60, ...vec(fn.params.map((t) => [t])), ...vec(fn.results.map((t) => [t]))];
    const key = sig.join(',');
    let index = types.indexOf(key);
    if (index < 0) index = types.push(key) - 1;
    return index;
  });
  const exported = functions.flatMap(({ exportName }, i) =>
    exportName === undefined ? [] : [[...name(exportName), 0x00, ...uleb(i)]],
  );
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types.map((key) => key.split(',').map(Number)))),
    ...section(2, vec([[...name('env'), ...name('mem'), 0x02, 0x00, ...uleb(minPages)]])),
    ...section(3, vec(typeOf.map((t) => uleb(t)))),
    ...section(7, vec(exported)),
    ...section(
      10,
      vec(
        functions.map(({ fn }) => {
          const body = fn.body();
          return [...uleb(body.length), ...body];
        }),
      ),
    ),
  ]);
}
