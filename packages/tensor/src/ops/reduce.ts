import { record } from '../autograd.js';
import { isFloat } from '../dtype.js';
import { fmtShape, TensorError } from '../errors.js';
import { normalizeAxes, normalizeReduceAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';
import type { ReduceOp } from './table.js';
import { wrap } from './util.js';

function keptShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function dropAxes(
  t: Tensor,
  shape: readonly number[],
  axes: readonly number[],
  keepdim: boolean,
): Tensor {
  return keepdim ? t : t.reshape(shape.filter((_, i) => !axes.includes(i)));
}

function reduceRaw(op: ReduceOp, x: Tensor, axes: number[]): Tensor {
  if ((op === 'max' || op === 'min') && axes.some((a) => x.shape[a] === 0)) {
    throw new TensorError(op, `cannot reduce over an empty axis of shape ${fmtShape(x.shape)}`);
  }
  return wrap(
    x.backend,
    x.backend.reduce(op, x.kernelView(), axes),
    keptShape(x.shape, axes),
    x.dtype,
  );
}

/** Sum over axes (all when omitted). */
export function sum(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const ax = normalizeAxes('sum', axes, x.rank);
  const kept = reduceRaw('sum', x, ax);
  if (isFloat(x.dtype)) {
    record('sum', [x], kept, (g) => [g.expand(x.shape)]);
  }
  return dropAxes(kept, x.shape, ax, keepdim);
}

/** Mean over axes (all when omitted); int32 inputs give float32. */
export function mean(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const ax = normalizeAxes('mean', axes, x.rank);
  const count = ax.reduce((p, a) => p * x.shape[a], 1);
  const src = isFloat(x.dtype) ? x : x.cast('float32');
  return sum(src, ax, keepdim).div(count);
}

function extremum(
  op: 'max' | 'min',
  x: Tensor,
  axes: number | readonly number[] | undefined,
  keepdim: boolean,
): Tensor {
  const ax = normalizeAxes(op, axes, x.rank);
  const kept = reduceRaw(op, x, ax);
  if (isFloat(x.dtype)) {
    // The gradient is shared evenly among the elements that reach the extremum.
    record(op, [x], kept, (g) => {
      const hits = x.eq(kept).cast(x.dtype);
      return [hits.mul(g.div(hits.sum(ax, true)))];
    });
  }
  return dropAxes(kept, x.shape, ax, keepdim);
}

/** Maximum over axes (all when omitted). */
export function max(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  return extremum('max', x, axes, keepdim);
}

/** Minimum over axes (all when omitted). */
export function min(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  return extremum('min', x, axes, keepdim);
}

/** Index of the first maximum along one axis, int32. */
export function argmax(x: Tensor, axis = -1, keepdim = false): Tensor {
  const a = normalizeReduceAxis('argmax', axis, x.rank);
  // A tensor without axes holds its own maximum, as torch.argmax gives for one.
  if (x.rank === 0) return wrap(x.backend, x.backend.fill('int32', 1, 0), [], 'int32');
  if (x.shape[a] === 0) {
    throw new TensorError(
      'argmax',
      `cannot take argmax over an empty axis of shape ${fmtShape(x.shape)}`,
    );
  }
  const out = wrap(
    x.backend,
    x.backend.argmax(x.kernelView(), a),
    keptShape(x.shape, [a]),
    'int32',
  );
  return dropAxes(out, x.shape, [a], keepdim);
}
