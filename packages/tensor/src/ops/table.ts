/**
 * Elementwise ops declared once, as data. Each unary op gives its forward and its
 * derivative as scalar expressions; the CPU backend compiles them into loops, and a device
 * backend keeps a table with the same keys in its own shading language. Binary ops give
 * their forward here and their backward (a tensor expression) in `binary.ts`.
 *
 * Expressions are JavaScript over float64 numbers: `x` is the input, `y` the op's output,
 * `dy` the upstream gradient; `M` holds the helpers of `math.ts`.
 */

/** One unary op. */
export interface UnarySpec {
  /** Forward: an expression of `x`. */
  readonly js: string;
  /** Backward: an expression of `x`, `y` and `dy` giving dx. */
  readonly grad: string;
  /** int32 inputs keep int32 (neg, abs, ...); otherwise they are computed as float32. */
  readonly keepsInt?: boolean;
}

/** The unary ops. */
export const UNARY_OPS = {
  neg: { js: '-x', grad: '-dy', keepsInt: true },
  abs: { js: 'Math.abs(x)', grad: 'dy * M.sign(x)', keepsInt: true },
  sign: { js: 'M.sign(x)', grad: '0', keepsInt: true },
  square: { js: 'x * x', grad: '2 * x * dy', keepsInt: true },
  relu: { js: 'x <= 0 ? 0 : x', grad: 'x > 0 ? dy : 0', keepsInt: true },
  exp: { js: 'Math.exp(x)', grad: 'dy * y' },
  expm1: { js: 'Math.expm1(x)', grad: 'dy * (y + 1)' },
  log: { js: 'Math.log(x)', grad: 'dy / x' },
  log1p: { js: 'Math.log1p(x)', grad: 'dy / (1 + x)' },
  sqrt: { js: 'Math.sqrt(x)', grad: '0.5 * dy / y' },
  rsqrt: { js: '1 / Math.sqrt(x)', grad: '-0.5 * dy * y * y * y' },
  reciprocal: { js: '1 / x', grad: '-dy * y * y' },
  sin: { js: 'Math.sin(x)', grad: 'dy * Math.cos(x)' },
  cos: { js: 'Math.cos(x)', grad: '-dy * Math.sin(x)' },
  sigmoid: { js: 'M.sigmoid(x)', grad: 'dy * y * (1 - y)' },
  tanh: { js: 'Math.tanh(x)', grad: 'dy * (1 - y * y)' },
  silu: { js: 'M.silu(x)', grad: 'dy * M.siluGrad(x)' },
  softplus: { js: 'M.softplus(x)', grad: 'dy * M.softplusGrad(x)' },
  gelu: { js: 'M.gelu(x)', grad: 'dy * M.geluGrad(x)' },
  gelu_tanh: { js: 'M.geluTanh(x)', grad: 'dy * M.geluTanhGrad(x)' },
  floor: { js: 'Math.floor(x)', grad: '0', keepsInt: true },
  ceil: { js: 'Math.ceil(x)', grad: '0', keepsInt: true },
  round: { js: 'M.roundHalfEven(x)', grad: '0', keepsInt: true },
} as const satisfies Record<string, UnarySpec>;

/** Name of a unary op. */
export type UnaryOp = keyof typeof UNARY_OPS;

/** One binary op's forward. */
export interface BinarySpec {
  /** An expression of `a` and `b`. */
  readonly js: string;
  /** The expression for int32 operands when it must differ (exact 32-bit products). */
  readonly jsInt?: string;
  /** int32 operands are computed as float32 (true division). */
  readonly floatOnly?: boolean;
  /** A comparison: int32 0/1 output, no gradient. */
  readonly compare?: boolean;
}

/** The binary ops. */
export const BINARY_OPS = {
  add: { js: 'a + b' },
  sub: { js: 'a - b' },
  mul: { js: 'a * b', jsInt: 'Math.imul(a, b)' },
  div: { js: 'a / b', floatOnly: true },
  pow: { js: 'Math.pow(a, b)' },
  // NaN wins, as in torch.maximum / torch.minimum.
  maximum: { js: 'a !== a || a > b ? a : b' },
  minimum: { js: 'a !== a || a < b ? a : b' },
  eq: { js: 'a === b ? 1 : 0', compare: true },
  ne: { js: 'a !== b ? 1 : 0', compare: true },
  lt: { js: 'a < b ? 1 : 0', compare: true },
  le: { js: 'a <= b ? 1 : 0', compare: true },
  gt: { js: 'a > b ? 1 : 0', compare: true },
  ge: { js: 'a >= b ? 1 : 0', compare: true },
} as const satisfies Record<string, BinarySpec>;

/** Name of a binary op. */
export type BinaryOp = keyof typeof BINARY_OPS;

/** Reductions a backend implements (mean is sum divided by a count). */
export type ReduceOp = 'sum' | 'max' | 'min';
