import type { Backend } from '../backend.js';
import { allocHost, assertDType, type DType, dtypeOfArray, type HostArray } from '../dtype.js';
import { findBackend, getBackend } from '../engine.js';
import { fmtShape, TensorError } from '../errors.js';
import { blocksFor, defaultGenerator, type Generator } from '../random.js';
import { checkShape, sizeOf } from '../shape.js';
import { type NestedArray, Tensor } from '../tensor.js';

/** Where and how a new tensor is made. */
export interface CreateOptions {
  /** Element type (default float32, or the typed array's type). */
  readonly dtype?: DType;
  /** A backend or the name of a started one (default: the current backend). */
  readonly backend?: Backend | string;
  /** Make a leaf that collects gradients. */
  readonly requiresGrad?: boolean;
}

/** Options of random creation functions. */
export interface RandomOptions extends CreateOptions {
  /** The stream to draw from (default: the global generator, see manualSeed). */
  readonly generator?: Generator;
}

function resolveBackend(option: Backend | string | undefined): Backend {
  if (option === undefined) return getBackend();
  if (typeof option !== 'string') return option;
  const found = findBackend(option);
  if (!found)
    throw new TensorError(
      'tensor',
      `backend "${option}" has not been started: await setBackend("${option}") first`,
    );
  return found;
}

function finish(t: Tensor, options: CreateOptions): Tensor {
  if (options.requiresGrad) t.requiresGrad = true;
  return t;
}

function fromHost(values: HostArray, shape: readonly number[], options: CreateOptions): Tensor {
  const backend = resolveBackend(options.backend);
  const dtype = dtypeOfArray(values);
  return finish(Tensor.fromData(backend.upload(values), shape, dtype, backend), options);
}

function inferShape(values: NestedArray, path: string): number[] {
  if (typeof values === 'number') return [];
  if (!Array.isArray(values)) {
    throw new TensorError(
      'tensor',
      `expected numbers or nested arrays, got ${typeof values} at ${path}`,
    );
  }
  if (values.length === 0) return [0];
  return [values.length, ...inferShape(values[0], `${path}[0]`)];
}

function flattenInto(
  values: NestedArray,
  shape: readonly number[],
  axis: number,
  out: HostArray,
  pos: { i: number },
  path: string,
): void {
  if (axis === shape.length) {
    if (typeof values !== 'number') {
      throw new TensorError(
        'tensor',
        `ragged nested array: expected a number at ${path}, got an array`,
      );
    }
    out[pos.i++] = values;
    return;
  }
  if (!Array.isArray(values) || values.length !== shape[axis]) {
    throw new TensorError(
      'tensor',
      `ragged nested array: expected ${shape[axis]} elements at ${path || 'the top level'} (shape ${fmtShape(shape)}), got ${Array.isArray(values) ? values.length : typeof values}`,
    );
  }
  values.forEach((v, i) => {
    flattenInto(v, shape, axis + 1, out, pos, `${path}[${i}]`);
  });
}

/**
 * A tensor from a number, nested arrays or a typed array. Typed arrays keep their dtype
 * unless `dtype` says otherwise and give a 1-D tensor unless `shape` is given.
 */
export function tensor(
  values: NestedArray | HostArray | readonly number[],
  options: CreateOptions & { readonly shape?: readonly number[] } = {},
): Tensor {
  if (options.dtype !== undefined) assertDType(options.dtype, 'tensor');
  if (ArrayBuffer.isView(values)) {
    const shape = options.shape ? checkShape('tensor', options.shape) : [values.length];
    if (sizeOf(shape) !== values.length) {
      throw new TensorError(
        'tensor',
        `${values.length} values do not fill shape ${fmtShape(shape)}`,
      );
    }
    let host: HostArray = values;
    if (options.dtype && options.dtype !== dtypeOfArray(values)) {
      host = allocHost(options.dtype, values.length);
      host.set(values);
    } else {
      host = values.slice();
    }
    return fromHost(host, shape, options);
  }
  const shape = inferShape(values as NestedArray, '');
  const host = allocHost(options.dtype ?? 'float32', sizeOf(shape));
  flattenInto(values as NestedArray, shape, 0, host, { i: 0 }, '');
  const target = options.shape ? checkShape('tensor', options.shape) : shape;
  if (sizeOf(target) !== host.length) {
    throw new TensorError('tensor', `${host.length} values do not fill shape ${fmtShape(target)}`);
  }
  return fromHost(host, target, options);
}

/** A tensor filled with `value`. */
export function full(shape: readonly number[], value: number, options: CreateOptions = {}): Tensor {
  checkShape('full', shape);
  const dtype = options.dtype ?? 'float32';
  assertDType(dtype, 'full');
  const backend = resolveBackend(options.backend);
  return finish(
    Tensor.fromData(backend.fill(dtype, sizeOf(shape), value), shape, dtype, backend),
    options,
  );
}

/** A tensor of zeros. */
export function zeros(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return full(shape, 0, options);
}

/** A tensor of ones. */
export function ones(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return full(shape, 1, options);
}

function like(t: Tensor, options: CreateOptions): CreateOptions {
  return { dtype: t.dtype, backend: t.backend, ...options };
}

/** Zeros with another tensor's shape, dtype and backend. */
export function zerosLike(t: Tensor, options: CreateOptions = {}): Tensor {
  return full(t.shape, 0, like(t, options));
}

/** Ones with another tensor's shape, dtype and backend. */
export function onesLike(t: Tensor, options: CreateOptions = {}): Tensor {
  return full(t.shape, 1, like(t, options));
}

/** `value` with another tensor's shape, dtype and backend. */
export function fullLike(t: Tensor, value: number, options: CreateOptions = {}): Tensor {
  return full(t.shape, value, like(t, options));
}

/**
 * start, start + step, ... below end (one argument: 0 .. end - 1). int32 when every argument
 * is an integer and no dtype is given, as torch.arange.
 */
export function arange(start: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0 || !Number.isFinite(step) || !Number.isFinite(start) || !Number.isFinite(end)) {
    throw new TensorError(
      'arange',
      `needs finite bounds and a non-zero step, got (${start}, ${end}, ${step})`,
    );
  }
  const n = Math.max(0, Math.ceil((end - start) / step));
  const dtype = options.dtype ?? ([start, end, step].every(Number.isInteger) ? 'int32' : 'float32');
  const host = allocHost(dtype, n);
  for (let i = 0; i < n; i++) host[i] = start + i * step;
  return fromHost(host, [n], options);
}

function draw(
  kind: 'uniform' | 'normal',
  shape: readonly number[],
  options: RandomOptions,
): Tensor {
  checkShape(kind === 'uniform' ? 'rand' : 'randn', shape);
  const dtype = options.dtype ?? 'float32';
  if (dtype === 'int32')
    throw new TensorError(
      kind === 'uniform' ? 'rand' : 'randn',
      'random values need a float dtype',
    );
  const backend = resolveBackend(options.backend);
  const n = sizeOf(shape);
  const key = (options.generator ?? defaultGenerator).take(blocksFor(kind, n));
  return Tensor.fromData(backend.random(kind, dtype, n, key), shape, dtype, backend);
}

/** Uniform values in [low, high) (default [0, 1)) from a seeded counter-based generator. */
export function rand(
  shape: readonly number[],
  options: RandomOptions & { readonly low?: number; readonly high?: number } = {},
): Tensor {
  const { low = 0, high = 1 } = options;
  let t = draw('uniform', shape, options);
  if (low !== 0 || high !== 1) t = t.mul(high - low).add(low);
  return finish(t, options);
}

/** Normal values (default mean 0, std 1) from a seeded counter-based generator. */
export function randn(
  shape: readonly number[],
  options: RandomOptions & { readonly mean?: number; readonly std?: number } = {},
): Tensor {
  const { mean = 0, std = 1 } = options;
  let t = draw('normal', shape, options);
  if (mean !== 0 || std !== 1) t = t.mul(std).add(mean);
  return finish(t, options);
}
