import type { Tensor } from '../tensor.js';
import { unaryOp } from './unary.js';

/** Elementwise functions, the free-function form of the Tensor methods. */

/** -x */
export const neg = (x: Tensor): Tensor => unaryOp('neg', x);
/** |x| */
export const abs = (x: Tensor): Tensor => unaryOp('abs', x);
/** e^x */
export const exp = (x: Tensor): Tensor => unaryOp('exp', x);
/** Natural logarithm. */
export const log = (x: Tensor): Tensor => unaryOp('log', x);
/** Square root. */
export const sqrt = (x: Tensor): Tensor => unaryOp('sqrt', x);
/** 1 / sqrt(x) */
export const rsqrt = (x: Tensor): Tensor => unaryOp('rsqrt', x);
/** Logistic sigmoid. */
export const sigmoid = (x: Tensor): Tensor => unaryOp('sigmoid', x);
/** Hyperbolic tangent. */
export const tanh = (x: Tensor): Tensor => unaryOp('tanh', x);
/** max(x, 0) */
export const relu = (x: Tensor): Tensor => unaryOp('relu', x);
/** x * sigmoid(x) */
export const silu = (x: Tensor): Tensor => unaryOp('silu', x);
/** log(1 + e^x), the identity above 20 (PyTorch's threshold). */
export const softplus = (x: Tensor): Tensor => unaryOp('softplus', x);
/** GELU, exact (erf) or with PyTorch's tanh approximation. */
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor =>
  unaryOp(approximate === 'tanh' ? 'gelu_tanh' : 'gelu', x);
/** x * x */
export const square = (x: Tensor): Tensor => unaryOp('square', x);
/** 1 / x */
export const reciprocal = (x: Tensor): Tensor => unaryOp('reciprocal', x);
/** -1, 0 or 1 (NaN stays NaN). */
export const sign = (x: Tensor): Tensor => unaryOp('sign', x);
/** e^x - 1, exact near 0. */
export const expm1 = (x: Tensor): Tensor => unaryOp('expm1', x);
/** log(1 + x), exact near 0. */
export const log1p = (x: Tensor): Tensor => unaryOp('log1p', x);
/** Sine. */
export const sin = (x: Tensor): Tensor => unaryOp('sin', x);
/** Cosine. */
export const cos = (x: Tensor): Tensor => unaryOp('cos', x);
/** Rounds down. */
export const floor = (x: Tensor): Tensor => unaryOp('floor', x);
/** Rounds up. */
export const ceil = (x: Tensor): Tensor => unaryOp('ceil', x);
/** Rounds half to even, as torch.round. */
export const round = (x: Tensor): Tensor => unaryOp('round', x);
