/**
 * A restricted unpickler for the `data.pkl` of a `torch.save` state dict.
 *
 * Python's pickle is a small stack machine whose GLOBAL and REDUCE opcodes import and call
 * arbitrary functions, which is how malicious checkpoints run code. This reader interprets
 * only the opcodes a state dict needs, resolves only an allow-list of globals to inert
 * tokens, and "calls" only the tensor-rebuilding functions and `OrderedDict`, each of which
 * it implements itself by building plain descriptions. Nothing in the file is ever executed;
 * anything else is refused with an error naming the opcode or global, its byte position and
 * the file.
 *
 * @packageDocumentation
 */

import type { CheckpointDType } from './convert.js';
import { CheckpointError } from './errors.js';

/** A storage a tensor points into: `<archive>/data/<key>` in the zip. */
export interface StorageRef {
  readonly key: string;
  /** The element type, or the unsupported torch type name (e.g. `LongStorage`). */
  readonly dtype: CheckpointDType | { readonly unsupported: string };
  /** Number of elements of the storage. */
  readonly numel: number;
}

/** A tensor as `torch._utils._rebuild_tensor_v2` describes it: a strided view of a storage. */
export interface TensorRef {
  readonly storage: StorageRef;
  /** Offset of the first element, in elements. */
  readonly offset: number;
  readonly shape: readonly number[];
  /** Strides in elements. */
  readonly stride: readonly number[];
}

/** Inert stand-in for an allowed Python global. */
class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  toString(): string {
    return `${this.module}.${this.name}`;
  }
}

/** Python dicts (plain and `OrderedDict`). */
class PyDict extends Map<unknown, unknown> {}

class Tensor {
  constructor(readonly ref: TensorRef) {}
}

const STORAGE_TYPES: Record<string, CheckpointDType | { unsupported: string }> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
};
for (const name of [
  'LongStorage',
  'IntStorage',
  'ShortStorage',
  'CharStorage',
  'ByteStorage',
  'BoolStorage',
  'ComplexFloatStorage',
  'ComplexDoubleStorage',
]) {
  STORAGE_TYPES[name] = { unsupported: name };
}

const CALLABLES = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
]);

function allowedGlobal(module: string, name: string): boolean {
  const full = `${module}.${name}`;
  return CALLABLES.has(full) || (module === 'torch' && Object.hasOwn(STORAGE_TYPES, name));
}

/** Names of the opcodes this reader refuses, for messages. */
const REFUSED: Record<number, string> = {
  105: 'INST',
  111: 'OBJ',
  129: 'NEWOBJ',
  146: 'NEWOBJ_EX',
  80: 'PERSID',
  73: 'INT',
  76: 'LONG',
  139: 'LONG4',
  70: 'FLOAT',
  83: 'STRING',
  86: 'UNICODE',
  112: 'PUT',
  103: 'GET',
  130: 'EXT1',
  131: 'EXT2',
  132: 'EXT4',
  66: 'BINBYTES',
  67: 'SHORT_BINBYTES',
  142: 'BINBYTES8',
  143: 'EMPTY_SET',
  144: 'ADDITEMS',
  145: 'FROZENSET',
  150: 'BYTEARRAY8',
  151: 'NEXT_BUFFER',
  152: 'READONLY_BUFFER',
  50: 'DUP',
  49: 'POP_MARK',
};

const ALLOWED_LIST =
  'collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and the torch.*Storage types';

function describe(value: unknown): string {
  if (value instanceof PyGlobal) return value.toString();
  if (value instanceof Tensor) return 'a tensor';
  if (value instanceof PyDict) return 'a dict';
  if (Array.isArray(value)) return 'a tuple or list';
  if (value === null) return 'None';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  return String(value);
}

/**
 * Unpickles a torch state dict.
 *
 * @param bytes - the content of `data.pkl`.
 * @param file - names the file in errors (e.g. `model/pytorch_model.bin (archive/data.pkl)`).
 * @returns the tensors by name, in file order.
 * @throws {@link CheckpointError} for any opcode, global, call or structure outside what a
 *   state dict of float tensors needs, and for a truncated or malformed pickle.
 */
export function unpickleStateDict(bytes: Uint8Array, file: string): Map<string, TensorRef> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let pos = 0;
  let opAt = 0;
  let opName = '';
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();
  const storages = new WeakSet<object>();

  const fail = (problem: string): never => {
    throw new CheckpointError(
      file,
      `pickle ${opName ? `opcode ${opName} ` : ''}at byte ${opAt}: ${problem}`,
    );
  };
  const need = (n: number): number => {
    if (pos + n > bytes.length)
      fail(`the pickle is truncated (needs ${n} more bytes, ${bytes.length - pos} left)`);
    const at = pos;
    pos += n;
    return at;
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail('the stack is empty');
    return stack.pop();
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const previous = marks.pop();
    if (previous === undefined) fail('no MARK to pop to');
    stack = previous as unknown[];
    return items;
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('the stack is empty');
    return stack[stack.length - 1];
  };
  const str = (n: number): string => {
    const at = need(n);
    try {
      return utf8.decode(bytes.subarray(at, at + n));
    } catch {
      return fail('a string is not valid UTF-8');
    }
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('the pickle is truncated (unterminated line)');
    const text = new TextDecoder('latin1').decode(bytes.subarray(pos, end));
    pos = end + 1;
    return text;
  };
  const resolveGlobal = (module: string, name: string): PyGlobal => {
    if (!allowedGlobal(module, name)) {
      fail(`global "${module}.${name}" is not allowed; a state dict may only use ${ALLOWED_LIST}`);
    }
    return new PyGlobal(module, name);
  };
  const int = (value: unknown, what: string): number => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      fail(`${what} must be a non-negative integer, got ${describe(value)}`);
    }
    return value as number;
  };
  const ints = (value: unknown, what: string): number[] => {
    if (!Array.isArray(value)) fail(`${what} must be a tuple of integers, got ${describe(value)}`);
    return (value as unknown[]).map((v, i) => int(v, `${what}[${i}]`));
  };
  const setItem = (dict: unknown, key: unknown, value: unknown): void => {
    if (!(dict instanceof PyDict)) fail(`can only set items of a dict, not of ${describe(dict)}`);
    (dict as PyDict).set(key, value);
  };
  const persistentLoad = (pid: unknown): StorageRef => {
    if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') {
      fail(`persistent id must be ('storage', type, key, location, numel), got ${describe(pid)}`);
    }
    const [, type, key, location, count] = pid as unknown[];
    if (
      !(type instanceof PyGlobal) ||
      type.module !== 'torch' ||
      !Object.hasOwn(STORAGE_TYPES, type.name)
    ) {
      fail(`persistent id names storage type ${describe(type)}, expected a torch.*Storage type`);
    }
    if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(key) || key.includes('..')) {
      fail(`persistent id has storage key ${describe(key)}, expected a plain name`);
    }
    if (typeof location !== 'string')
      fail(`persistent id has location ${describe(location)}, expected a string`);
    const ref: StorageRef = {
      key: key as string,
      dtype: STORAGE_TYPES[(type as PyGlobal).name],
      numel: int(count, 'storage numel'),
    };
    storages.add(ref);
    return ref;
  };
  const reduce = (callable: unknown, args: unknown): unknown => {
    const name = callable instanceof PyGlobal ? callable.toString() : '';
    if (!CALLABLES.has(name)) {
      fail(
        `REDUCE may only call collections.OrderedDict or torch._utils._rebuild_tensor_v2/_rebuild_parameter, not ${describe(callable)}`,
      );
    }
    if (!Array.isArray(args)) fail(`arguments of ${name} must be a tuple, got ${describe(args)}`);
    const a = args as unknown[];
    if (name === 'collections.OrderedDict') {
      const dict = new PyDict();
      if (a.length === 0) return dict;
      if (a.length === 1 && Array.isArray(a[0])) {
        for (const pair of a[0] as unknown[]) {
          if (!Array.isArray(pair) || pair.length !== 2)
            fail('OrderedDict items must be (key, value) pairs');
          dict.set((pair as unknown[])[0], (pair as unknown[])[1]);
        }
        return dict;
      }
      return fail(`OrderedDict called with unsupported arguments (${a.length})`);
    }
    if (name === 'torch._utils._rebuild_parameter') {
      if (a.length !== 3 || !(a[0] instanceof Tensor))
        fail('_rebuild_parameter expects (tensor, requires_grad, hooks)');
      checkHooks(a[2]);
      return a[0];
    }
    // torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    if (a.length !== 6 && a.length !== 7)
      fail(`_rebuild_tensor_v2 expects 6 or 7 arguments, got ${a.length}`);
    const [storage, offset, size, stride, , hooks] = a;
    if (typeof storage !== 'object' || storage === null || !storages.has(storage)) {
      fail(`_rebuild_tensor_v2 expects a storage as first argument, got ${describe(storage)}`);
    }
    checkHooks(hooks);
    const shape = ints(size, 'tensor size');
    const strides = ints(stride, 'tensor stride');
    if (shape.length !== strides.length) {
      fail(`tensor size [${shape.join(', ')}] and stride [${strides.join(', ')}] differ in length`);
    }
    return new Tensor({
      storage: storage as StorageRef,
      offset: int(offset, 'storage offset'),
      shape,
      stride: strides,
    });
  };
  const checkHooks = (hooks: unknown): void => {
    if (hooks !== null && !(hooks instanceof PyDict && hooks.size === 0)) {
      fail(`tensor backward hooks must be an empty OrderedDict, got ${describe(hooks)}`);
    }
  };

  for (;;) {
    if (pos >= bytes.length) {
      opName = '';
      opAt = pos;
      fail('the pickle is truncated (no STOP opcode)');
    }
    opAt = pos;
    const op = bytes[need(1)];
    opName = '';
    switch (op) {
      case 0x80: // PROTO
        opName = 'PROTO';
        if (bytes[need(1)] < 2) fail('protocol versions below 2 are not supported');
        break;
      case 0x95: // FRAME: a length hint only
        opName = 'FRAME';
        need(8);
        break;
      case 0x2e: {
        opName = 'STOP';
        const result = pop();
        return toStateDict(result, fail);
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x29: // EMPTY_TUPLE
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x74: // TUPLE
      case 0x6c: // LIST
        opName = op === 0x74 ? 'TUPLE' : 'LIST';
        {
          // popMark replaces `stack`, so it must run before `stack` is read.
          const items = popMark();
          stack.push(items);
        }
        break;
      case 0x64: {
        opName = 'DICT';
        const items = popMark();
        if (items.length % 2 !== 0) fail('odd number of items');
        const dict = new PyDict();
        for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
        stack.push(dict);
        break;
      }
      case 0x85:
        opName = 'TUPLE1';
        stack.push([pop()]);
        break;
      case 0x86: {
        opName = 'TUPLE2';
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        opName = 'TUPLE3';
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x71: // BINPUT
        opName = 'BINPUT';
        memo.set(bytes[need(1)], top());
        break;
      case 0x72: // LONG_BINPUT
        opName = 'LONG_BINPUT';
        memo.set(view.getUint32(need(4), true), top());
        break;
      case 0x94: // MEMOIZE
        opName = 'MEMOIZE';
        memo.set(memo.size, top());
        break;
      case 0x68:
      case 0x6a: {
        opName = op === 0x68 ? 'BINGET' : 'LONG_BINGET';
        const index = op === 0x68 ? bytes[need(1)] : view.getUint32(need(4), true);
        if (!memo.has(index)) fail(`memo entry ${index} was never stored`);
        stack.push(memo.get(index));
        break;
      }
      case 0x63: {
        opName = 'GLOBAL';
        const module = line();
        const name = line();
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x93: {
        opName = 'STACK_GLOBAL';
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string')
          fail('module and name must be strings');
        stack.push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x58: // BINUNICODE
        opName = 'BINUNICODE';
        stack.push(str(view.getUint32(need(4), true)));
        break;
      case 0x8c:
        opName = 'SHORT_BINUNICODE';
        stack.push(str(bytes[need(1)]));
        break;
      case 0x8d: {
        opName = 'BINUNICODE8';
        const at = need(8);
        const n = view.getUint32(at + 4, true) * 2 ** 32 + view.getUint32(at, true);
        stack.push(str(n));
        break;
      }
      case 0x55: // SHORT_BINSTRING (Python 2 str)
      case 0x54: {
        opName = op === 0x55 ? 'SHORT_BINSTRING' : 'BINSTRING';
        const n = op === 0x55 ? bytes[need(1)] : view.getInt32(need(4), true);
        if (n < 0) fail('negative string length');
        const at = need(n);
        stack.push(new TextDecoder('latin1').decode(bytes.subarray(at, at + n)));
        break;
      }
      case 0x4a:
        opName = 'BININT';
        stack.push(view.getInt32(need(4), true));
        break;
      case 0x4b:
        opName = 'BININT1';
        stack.push(bytes[need(1)]);
        break;
      case 0x4d:
        opName = 'BININT2';
        stack.push(view.getUint16(need(2), true));
        break;
      case 0x8a: {
        opName = 'LONG1';
        const n = bytes[need(1)];
        const at = need(n);
        let value = 0n;
        for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[at + i]);
        if (n > 0 && bytes[at + n - 1] & 0x80) value -= 1n << BigInt(8 * n);
        if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
          fail(`integer ${value} is too large`);
        }
        stack.push(Number(value));
        break;
      }
      case 0x47:
        opName = 'BINFLOAT';
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x4e:
        stack.push(null);
        break;
      case 0x30: // POP
        opName = 'POP';
        pop();
        break;
      case 0x51: {
        opName = 'BINPERSID';
        stack.push(persistentLoad(pop()));
        break;
      }
      case 0x52: {
        opName = 'REDUCE';
        const args = pop();
        const callable = pop();
        stack.push(reduce(callable, args));
        break;
      }
      case 0x73: {
        opName = 'SETITEM';
        const value = pop();
        const key = pop();
        setItem(top(), key, value);
        break;
      }
      case 0x75: {
        opName = 'SETITEMS';
        const items = popMark();
        if (items.length % 2 !== 0) fail('odd number of items');
        const dict = top();
        for (let i = 0; i < items.length; i += 2) setItem(dict, items[i], items[i + 1]);
        break;
      }
      case 0x61: {
        opName = 'APPEND';
        const value = pop();
        const list = top();
        if (!Array.isArray(list)) fail(`can only append to a list, not to ${describe(list)}`);
        (list as unknown[]).push(value);
        break;
      }
      case 0x65: {
        opName = 'APPENDS';
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) fail(`can only append to a list, not to ${describe(list)}`);
        // One at a time: spreading a long MARK run into push() overflows the call stack.
        for (const item of items) (list as unknown[]).push(item);
        break;
      }
      case 0x62: {
        opName = 'BUILD';
        // Only the attribute dict torch attaches to a state dict (`_metadata`) is accepted,
        // and it is read as data, never applied.
        const state = pop();
        const target = top();
        if (!(target instanceof PyDict))
          fail(`BUILD is only allowed on a dict, not on ${describe(target)}`);
        if (state !== null && !(state instanceof PyDict)) {
          fail(`BUILD state must be a dict of attributes, got ${describe(state)}`);
        }
        for (const key of (state as PyDict | null)?.keys() ?? []) {
          if (key !== '_metadata')
            fail(`BUILD may only set "_metadata" on a state dict, not ${describe(key)}`);
        }
        break;
      }
      default: {
        const refused = REFUSED[op];
        opName = '';
        fail(
          refused === undefined
            ? `unknown opcode 0x${op.toString(16).padStart(2, '0')}; this is not a torch state dict pickle`
            : `opcode ${refused} (0x${op.toString(16)}) is not allowed in a state dict`,
        );
      }
    }
  }
}

function toStateDict(result: unknown, fail: (problem: string) => never): Map<string, TensorRef> {
  if (!(result instanceof PyDict))
    fail(`the pickle holds ${describe(result)}, expected a state dict (a dict of tensors)`);
  const out = new Map<string, TensorRef>();
  for (const [key, value] of result as PyDict) {
    if (typeof key !== 'string') fail(`state dict key ${describe(key)} is not a string`);
    if (!(value instanceof Tensor))
      fail(`state dict entry "${key as string}" is ${describe(value)}, not a tensor`);
    out.set(key as string, (value as Tensor).ref);
  }
  return out;
}
