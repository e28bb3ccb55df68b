import type { BinaryOp, UnaryOp } from '@statetune/tensor';

/**
 * The elementwise ops of the tensor core's table (`UNARY_OPS`, `BINARY_OPS`) in WGSL, with
 * the same keys: a test checks that every op of the core has an entry here. Expressions use
 * the helpers of `math.wgsl`.
 */

/** One unary op in WGSL. */
export interface WgslUnary {
  /** Forward over `x: f32`. */
  readonly f: string;
  /** Forward over `x: i32` for the ops that keep int32. */
  readonly i?: string;
  /** Backward over `x`, `y`, `dy` (f32), giving dx. */
  readonly grad: string;
}

/** Unary ops in WGSL, keyed as `UNARY_OPS`. */
export const WGSL_UNARY: Record<UnaryOp, WgslUnary> = {
  neg: { f: '-x', i: '-x', grad: '-dy' },
  abs: { f: 'abs(x)', i: 'abs(x)', grad: 'dy * sgn(x)' },
  sign: { f: 'sgn(x)', i: 'sign(x)', grad: '0.0' },
  square: { f: 'x * x', i: 'x * x', grad: '2.0 * x * dy' },
  relu: { f: 'select(x, 0.0, x <= 0.0)', i: 'max(x, 0)', grad: 'select(0.0, dy, x > 0.0)' },
  exp: { f: 'exp(x)', grad: 'dy * y' },
  expm1: { f: 'expm1F(x)', grad: 'dy * (y + 1.0)' },
  log: { f: 'log(x)', grad: 'dy / x' },
  log1p: { f: 'log1pF(x)', grad: 'dy / (1.0 + x)' },
  sqrt: { f: 'sqrt(x)', grad: '0.5 * dy / y' },
  rsqrt: { f: '1.0 / sqrt(x)', grad: '-0.5 * dy * y * y * y' },
  reciprocal: { f: '1.0 / x', grad: '-dy * y * y' },
  sin: { f: 'sin(x)', grad: 'dy * cos(x)' },
  cos: { f: 'cos(x)', grad: '-dy * sin(x)' },
  sigmoid: { f: 'sigmoidF(x)', grad: 'dy * y * (1.0 - y)' },
  tanh: { f: 'tanhF(x)', grad: 'dy * (1.0 - y * y)' },
  silu: { f: 'siluF(x)', grad: 'dy * siluGradF(x)' },
  softplus: { f: 'softplusF(x)', grad: 'dy * softplusGradF(x)' },
  gelu: { f: 'geluF(x)', grad: 'dy * geluGradF(x)' },
  gelu_tanh: { f: 'geluTanhF(x)', grad: 'dy * geluTanhGradF(x)' },
  floor: { f: 'floor(x)', i: 'x', grad: '0.0' },
  ceil: { f: 'ceil(x)', i: 'x', grad: '0.0' },
  // WGSL's round() rounds half to even, as torch.round.
  round: { f: 'round(x)', i: 'x', grad: '0.0' },
};

/** One binary op in WGSL. */
export interface WgslBinary {
  /** Over `a`, `b: f32`; a bool for comparisons. */
  readonly f: string;
  /** Over `a`, `b: i32`; absent for float-only ops. */
  readonly i?: string;
}

/** Binary ops in WGSL, keyed as `BINARY_OPS`. */
export const WGSL_BINARY: Record<BinaryOp, WgslBinary> = {
  add: { f: 'a + b', i: 'a + b' },
  sub: { f: 'a - b', i: 'a - b' },
  mul: { f: 'a * b', i: 'a * b' },
  div: { f: 'a / b' },
  pow: { f: 'powF(a, b)', i: 'powI(a, b)' },
  maximum: { f: 'select(b, a, isNan(a) || a > b)', i: 'max(a, b)' },
  minimum: { f: 'select(b, a, isNan(a) || a < b)', i: 'min(a, b)' },
  eq: { f: 'a == b && !isNan(a)', i: 'a == b' },
  ne: { f: 'a != b || isNan(a) || isNan(b)', i: 'a != b' },
  lt: { f: 'a < b', i: 'a < b' },
  le: { f: 'a <= b', i: 'a <= b' },
  gt: { f: 'a > b', i: 'a > b' },
  ge: { f: 'a >= b', i: 'a >= b' },
};
