import { record } from '../autograd.js';
import { type DType, isFloat, promoteTypes } from '../dtype.js';
import { TensorError } from '../errors.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { BINARY_OPS, type BinaryOp } from './table.js';
import { cast } from './unary.js';
import { broadcastView, sameBackend, sumToShape, wrap } from './util.js';

/** A binary op's backward before reduction to the input shapes: [da, db]. */
type BinaryGrad = (a: Tensor, b: Tensor, out: Tensor, g: Tensor) => [Tensor | null, Tensor | null];

/** Backward of each differentiable binary op, beside the forward in `table.ts`. */
const BINARY_GRADS: Partial<Record<BinaryOp, BinaryGrad>> = {
  add: (a, b, _o, g) => [a.requiresGrad ? g : null, b.requiresGrad ? g : null],
  sub: (a, b, _o, g) => [a.requiresGrad ? g : null, b.requiresGrad ? g.neg() : null],
  mul: (a, b, _o, g) => [a.requiresGrad ? g.mul(b) : null, b.requiresGrad ? g.mul(a) : null],
  div: (a, b, out, g) => [
    a.requiresGrad ? g.div(b) : null,
    b.requiresGrad ? g.mul(out).div(b).neg() : null,
  ],
  pow: (a, b, out, g) => [
    // b a^(b-1), taken as 0 where b == 0 (0 * 0^-1 would be NaN), as PyTorch does.
    a.requiresGrad ? where(b.eq(0), 0, g.mul(b).mul(a.pow(b.sub(1)))) : null,
    // d/db a^b = a^b log a, taken as 0 where a == 0 and b >= 0, as PyTorch does.
    b.requiresGrad ? where(a.eq(0).mul(b.ge(0)), 0, g.mul(out).mul(a.log())) : null,
  ],
  maximum: (a, b, _o, g) => tieSplit(a.gt(b), a.eq(b), a, b, g),
  minimum: (a, b, _o, g) => tieSplit(a.lt(b), a.eq(b), a, b, g),
};

/** Gradient of max/min: all to the winner, split evenly on ties (torch.maximum's rule). */
function tieSplit(
  wins: Tensor,
  ties: Tensor,
  a: Tensor,
  b: Tensor,
  g: Tensor,
): [Tensor | null, Tensor | null] {
  const share = wins.cast(g.dtype).add(ties.cast(g.dtype).mul(0.5));
  return [a.requiresGrad ? g.mul(share) : null, b.requiresGrad ? g.mul(share.neg().add(1)) : null];
}

/**
 * The dtype of an op over two tensors, as PyTorch decides it: a 0-d tensor beside a tensor
 * with axes changes the category (int to float) but never the width.
 */
export function resultType(a: Tensor, b: Tensor): DType {
  if ((a.rank === 0) === (b.rank === 0)) return promoteTypes(a.dtype, b.dtype);
  const [dim, zero] = a.rank === 0 ? [b, a] : [a, b];
  if (isFloat(dim.dtype) || !isFloat(zero.dtype)) return dim.dtype;
  return 'float32';
}

/** Turns a plain number into a scalar tensor matching `like` (numbers never widen a dtype). */
export function scalarLike(value: number, like: Tensor): Tensor {
  const dtype: DType = like.dtype === 'int32' && !Number.isInteger(value) ? 'float32' : like.dtype;
  const data = like.backend.fill(dtype, 1, value);
  return wrap(like.backend, data, [], dtype);
}

function operands(op: string, a: Tensor | number, b: Tensor | number): [Tensor, Tensor] {
  if (typeof a === 'number' && typeof b === 'number') {
    throw new TensorError(op, 'needs at least one tensor operand');
  }
  const ta = typeof a === 'number' ? scalarLike(a, b as Tensor) : a;
  const tb = typeof b === 'number' ? scalarLike(b, ta) : b;
  return [ta, tb];
}

/** Applies a binary op from the table with broadcasting and dtype promotion. */
export function binaryOp(op: BinaryOp, a: Tensor | number, b: Tensor | number): Tensor {
  const spec = BINARY_OPS[op];
  let [ta, tb] = operands(op, a, b);
  const backend = sameBackend(op, ta, tb);
  const shape = broadcastShapes(op, ta.shape, tb.shape);
  let dtype = resultType(ta, tb);
  if ('floatOnly' in spec && spec.floatOnly && dtype === 'int32') dtype = 'float32';
  ta = cast(ta, dtype);
  tb = cast(tb, dtype);
  const compare = 'compare' in spec && spec.compare;
  const outDtype: DType = compare ? 'int32' : dtype;
  const data = backend.binary(
    op,
    broadcastView(ta, shape),
    broadcastView(tb, shape),
    shape,
    outDtype,
  );
  const out = wrap(backend, data, shape, outDtype);
  const grad = BINARY_GRADS[op];
  if (compare || !grad || !isFloat(dtype)) return out;
  const [x, y] = [ta, tb];
  return record(op, [x, y], out, (g) => {
    const [gx, gy] = grad(x, y, out, g);
    return [gx && sumToShape(gx, x.shape), gy && sumToShape(gy, y.shape)];
  });
}

/** a + b */
export const add = (a: Tensor | number, b: Tensor | number): Tensor => binaryOp('add', a, b);
/** a - b */
export const sub = (a: Tensor | number, b: Tensor | number): Tensor => binaryOp('sub', a, b);
/** a * b */
export const mul = (a: Tensor | number, b: Tensor | number): Tensor => binaryOp('mul', a, b);
/** a / b (true division: int32 operands give float32) */
export const div = (a: Tensor | number, b: Tensor | number): Tensor => binaryOp('div', a, b);
/** a ** b */
export const pow = (a: Tensor | number, b: Tensor | number): Tensor => binaryOp('pow', a, b);
/** Elementwise maximum (NaN propagates). */
export const maximum = (a: Tensor | number, b: Tensor | number): Tensor =>
  binaryOp('maximum', a, b);
/** Elementwise minimum (NaN propagates). */
export const minimum = (a: Tensor | number, b: Tensor | number): Tensor =>
  binaryOp('minimum', a, b);

/** An elementwise comparison giving int32 0/1. */
export function compare(
  op: 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge',
  a: Tensor | number,
  b: Tensor | number,
): Tensor {
  return binaryOp(op, a, b);
}

/** Limits values to [min, max]; the gradient passes where min <= x <= max, as torch.clamp's. */
export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  if (min === undefined && max === undefined) {
    throw new TensorError('clamp', 'needs min, max or both');
  }
  if (min !== undefined && max !== undefined && min > max) {
    throw new TensorError('clamp', `min ${min} is greater than max ${max}`);
  }
  const inner = (t: Tensor): Tensor => {
    let r = t;
    if (min !== undefined) r = binaryOp('maximum', r, min);
    if (max !== undefined) r = binaryOp('minimum', r, max);
    return r;
  };
  const out = inner(x.detach());
  if (!isFloat(x.dtype)) return out;
  return record('clamp', [x], out, (g) => {
    let mask = g;
    if (min !== undefined) mask = mask.mul(x.ge(min));
    if (max !== undefined) mask = mask.mul(x.le(max));
    return [mask];
  });
}

/** Picks `a` where `cond` is non-zero and `b` elsewhere, with broadcasting. */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  if (isFloat(cond.dtype)) {
    throw new TensorError(
      'where',
      `cond must be an int32 mask (from a comparison), got ${cond.dtype}`,
    );
  }
  // Numbers are weak as in binary ops, but a fraction beside int32 values makes float32.
  const given = [a, b].filter((v): v is Tensor => typeof v !== 'number');
  let dtype: DType =
    given.length === 2 ? resultType(given[0], given[1]) : (given[0]?.dtype ?? 'float32');
  if (dtype === 'int32' && [a, b].some((v) => typeof v === 'number' && !Number.isInteger(v))) {
    dtype = 'float32';
  }
  const operand = (v: Tensor | number): Tensor =>
    typeof v === 'number'
      ? wrap(cond.backend, cond.backend.fill(dtype, 1, v), [], dtype)
      : cast(v, dtype);
  const ta = operand(a);
  const tb = operand(b);
  const backend = sameBackend('where', cond, ta, tb);
  const shape = broadcastShapes('where', cond.shape, ta.shape, tb.shape);
  const data = backend.where(
    broadcastView(cond, shape),
    broadcastView(ta, shape),
    broadcastView(tb, shape),
    shape,
    dtype,
  );
  const out = wrap(backend, data, shape, dtype);
  if (!isFloat(dtype)) return out;
  const [x, y] = [ta, tb];
  return record('where', [x, y], out, (g) => [
    x.requiresGrad ? sumToShape(where(cond, g, 0), x.shape) : null,
    y.requiresGrad ? sumToShape(where(cond, 0, g), y.shape) : null,
  ]);
}
