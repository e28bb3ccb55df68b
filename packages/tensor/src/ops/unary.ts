import { record } from '../autograd.js';
import type { DType } from '../dtype.js';
import { assertDType, isFloat } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { UNARY_OPS, type UnaryOp } from './table.js';
import { wrap } from './util.js';

/** Applies a unary op from the table; int32 inputs of float ops compute as float32. */
export function unaryOp(op: UnaryOp, x: Tensor): Tensor {
  const spec = UNARY_OPS[op];
  const keepsInt = 'keepsInt' in spec && spec.keepsInt;
  const outDtype: DType = x.dtype === 'int32' && !keepsInt ? 'float32' : x.dtype;
  const out = wrap(x.backend, x.backend.unary(op, x.kernelView(), outDtype), x.shape, outDtype);
  if (!isFloat(x.dtype)) return out;
  return record(op, [x], out, (g) => [
    wrap(
      x.backend,
      x.backend.unaryGrad(op, x.kernelView(), out.kernelView(), g.kernelView()),
      x.shape,
      x.dtype,
    ),
  ]);
}

/** A copy converted to `dtype` (the tensor itself when it already has it). Float to int truncates toward zero. */
export function cast(x: Tensor, dtype: DType): Tensor {
  assertDType(dtype, 'cast');
  if (x.dtype === dtype) return x;
  const out = wrap(x.backend, x.backend.copy(x.kernelView(), dtype), x.shape, dtype);
  if (!isFloat(dtype) || !isFloat(x.dtype)) return out;
  return record('cast', [x], out, (g) => [cast(g, x.dtype)]);
}
