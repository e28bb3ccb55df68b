import { describe, expect, it } from 'vitest';
import {
  BINARY_OPS,
  type BinaryOp,
  clamp,
  maximum,
  minimum,
  type Tensor,
  tensor,
  UNARY_OPS,
  type UnaryOp,
  where,
} from '../../src/index.js';
import { binaryOp } from '../../src/ops/binary.js';
import { unaryOp } from '../../src/ops/unary.js';
import { gradcheck } from '../helpers.js';
import {
  arr,
  expectClose,
  expectTensorError,
  f32,
  gradOf,
  indices,
  readBroadcast,
  spread,
} from './util.js';

/** erf by composite Simpson's rule on 2/sqrt(pi) e^(-t^2): slow, simple, ~1e-13 accurate. */
function erfSimpson(x: number): number {
  const n = 4000;
  const h = x / n;
  let s = 1 + Math.exp(-x * x);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return ((s * h) / 3) * (2 / Math.sqrt(Math.PI));
}

type Domain = 'any' | 'positive' | 'nonzero' | 'aboveMinusOne';

interface UnaryRef {
  readonly f: (x: number) => number;
  /** Inputs the forward and gradient checks use. */
  readonly domain: Domain;
  /** Piecewise constant: the gradient is 0 everywhere it exists. */
  readonly flat?: boolean;
}

/**
 * Independent plain-JS references, one per entry of UNARY_OPS. The test below fails when
 * the table gains an op that is missing here.
 */
const UNARY_REFS: Record<string, UnaryRef> = {
  neg: { f: (x) => -x, domain: 'any' },
  abs: { f: (x) => (x < 0 ? -x : x), domain: 'nonzero' },
  sign: { f: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0), domain: 'nonzero', flat: true },
  square: { f: (x) => x ** 2, domain: 'any' },
  relu: { f: (x) => Math.max(x, 0), domain: 'nonzero' },
  exp: { f: Math.exp, domain: 'any' },
  expm1: { f: (x) => Math.exp(x) - 1, domain: 'any' },
  log: { f: Math.log, domain: 'positive' },
  log1p: { f: (x) => Math.log(1 + x), domain: 'aboveMinusOne' },
  sqrt: { f: (x) => x ** 0.5, domain: 'positive' },
  rsqrt: { f: (x) => x ** -0.5, domain: 'positive' },
  reciprocal: { f: (x) => 1 / x, domain: 'nonzero' },
  sin: { f: Math.sin, domain: 'any' },
  cos: { f: Math.cos, domain: 'any' },
  sigmoid: { f: (x) => 1 / (1 + Math.exp(-x)), domain: 'any' },
  tanh: { f: (x) => (Math.exp(2 * x) - 1) / (Math.exp(2 * x) + 1), domain: 'any' },
  silu: { f: (x) => x / (1 + Math.exp(-x)), domain: 'any' },
  softplus: { f: (x) => Math.log(1 + Math.exp(x)), domain: 'any' },
  gelu: { f: (x) => 0.5 * x * (1 + erfSimpson(x / Math.SQRT2)), domain: 'any' },
  gelu_tanh: {
    f: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
    domain: 'any',
  },
  floor: { f: Math.floor, domain: 'any', flat: true },
  ceil: { f: Math.ceil, domain: 'any', flat: true },
  round: { f: Math.round, domain: 'any', flat: true }, // no .5 in the inputs below
};

/** Inputs inside an op's domain, away from 0, from integers and from half-integers. */
function inputsFor(domain: Domain, n: number, seed = 1): number[] {
  const base = spread(n, seed).map((v) => v * 2.7); // |v| in [0.13, 2.6]
  const offInteger = (v: number) => {
    const frac = v - Math.floor(v);
    return Math.abs(frac - 0.5) < 0.05 || frac < 0.05 || frac > 0.95 ? v + 0.13 : v;
  };
  const vals = base.map(offInteger);
  switch (domain) {
    case 'any':
    case 'nonzero':
      return vals;
    case 'positive':
      return vals.map((v) => Math.abs(v) + 0.1);
    case 'aboveMinusOne':
      return vals.map((v) => (v < 0 ? v / 3 : v));
  }
}

const UNARY_NAMES = Object.keys(UNARY_OPS) as UnaryOp[];

describe('unary ops (UNARY_OPS)', () => {
  it('has an independent reference for every op in the table', () => {
    expect(Object.keys(UNARY_REFS).sort()).toEqual([...UNARY_NAMES].sort());
  });

  for (const op of UNARY_NAMES) {
    describe(op, () => {
      const ref = UNARY_REFS[op];

      it('forward matches the reference in float32 and float64', () => {
        const xs = inputsFor(ref.domain, 24);
        const want = xs.map(ref.f);
        const y64 = unaryOp(op, tensor(xs, { dtype: 'float64', shape: [4, 6] }));
        expect(y64.dtype).toBe('float64');
        expect(y64.shape).toEqual([4, 6]);
        expectClose(arr(y64), want, 1e-12);
        const y32 = unaryOp(op, tensor(xs, { shape: [4, 6] }));
        expect(y32.dtype).toBe('float32');
        // The kernel computes in float64 from the float32 input and rounds once.
        expectClose(arr(y32), f32(f32(xs).map(ref.f)), 1e-6);
      });

      it('gradient matches finite differences', () => {
        const x = tensor(inputsFor(ref.domain, 12, 3), {
          dtype: 'float64',
          shape: [3, 4],
          requiresGrad: true,
        });
        if (ref.flat) {
          unaryOp(op, x).sum().backward();
          expect(gradOf(x)).toEqual(new Array(12).fill(0));
        } else {
          expect(gradcheck((t) => unaryOp(op, t), [x])).toBeLessThan(1e-6);
        }
      });

      it(`int32 input ${'keepsInt' in UNARY_OPS[op] ? 'stays int32' : 'computes as float32'}`, () => {
        const ints =
          ref.domain === 'any' || ref.domain === 'nonzero' ? [-3, -1, 2, 5] : [1, 2, 3, 7];
        const x = tensor(ints, { dtype: 'int32' });
        const y = unaryOp(op, x);
        if ('keepsInt' in UNARY_OPS[op]) {
          expect(y.dtype).toBe('int32');
          expect(arr(y)).toEqual(ints.map(ref.f));
        } else {
          expect(y.dtype).toBe('float32');
          expectClose(arr(y), f32(ints.map(ref.f)), 1e-6);
        }
        expect(y.requiresGrad).toBe(false);
      });
    });
  }

  it('keeps float32 and float64 outputs in their dtype and records only float inputs', () => {
    const x = tensor([0.5, 1.5], { requiresGrad: true });
    const y = x.exp();
    expect(y.dtype).toBe('float32');
    expect(y.requiresGrad).toBe(true);
    expect(y.gradFn?.op).toBe('exp');
  });

  it('gelu (erf) matches golden values to the last bit or nearly', () => {
    const golden: [number, number][] = [
      // x, x * Phi(x) from mpmath at 50 digits
      [1, 0.8413447460685429],
      [-1, -0.15865525393145705],
      [0.5, 0.34573123063700656],
      [-0.5, -0.15426876936299344],
      [2, 1.9544997361036416],
      [-2, -0.04550026389635842],
      [3, 2.99595030590511],
      [-3, -0.0040496940948902835],
      [0.1, 0.053982783727702904],
      [-4, -0.0001266849673324797],
      [5, 4.999998566742141],
    ];
    const y = tensor(
      golden.map((g) => g[0]),
      { dtype: 'float64' },
    ).gelu();
    const got = arr(y);
    expect(got[0]).toBe(0.8413447460685429);
    golden.forEach(([, want], i) => {
      expect(Math.abs(got[i] - want) / Math.abs(want), `gelu(${golden[i][0]})`).toBeLessThan(2e-15);
    });
    expect(arr(tensor([0, -0, 40, -40], { dtype: 'float64' }).gelu())).toEqual([0, -0, 40, -0]);
  });

  it('gelu with approximate=tanh matches golden values', () => {
    const golden: [number, number][] = [
      [1, 0.8411919906082767],
      [-1, -0.1588080093917233],
      [2, 1.954597694087775],
      [-3, -0.003637392081773019],
      [-4, -7.024594819237271e-5],
    ];
    const got = arr(
      tensor(
        golden.map((g) => g[0]),
        { dtype: 'float64' },
      ).gelu('tanh'),
    );
    golden.forEach(([, want], i) => {
      expect(Math.abs(got[i] - want) / Math.abs(want)).toBeLessThan(1e-13);
    });
  });

  it('softplus switches to the identity above 20, as PyTorch', () => {
    const y = arr(tensor([25, 20.5, 20, -30, -100, 0], { dtype: 'float64' }).softplus());
    expect(y[0]).toBe(25);
    expect(y[1]).toBe(20.5);
    // At 20 itself the threshold is not passed: log1p(e^20).
    expect(y[2]).toBeCloseTo(20.000000002061153, 14);
    // log(1 + e^-30) = e^-30 - e^-60 / 2 + ...: nothing lost to 1 + tiny.
    const e30 = Math.exp(-30);
    expect(Math.abs(y[3] - (e30 - (e30 * e30) / 2)) / e30).toBeLessThan(1e-15);
    expect(y[4]).toBeCloseTo(3.720075976020836e-44, 56);
    expect(y[5]).toBeCloseTo(Math.LN2, 15);
    // The gradient follows the same threshold: exactly 1 above 20, sigmoid below.
    const x = tensor([25, 1], { dtype: 'float64', requiresGrad: true });
    x.softplus().sum().backward();
    expect(gradOf(x)[0]).toBe(1);
    expect(gradOf(x)[1]).toBeCloseTo(1 / (1 + Math.exp(-1)), 14);
  });

  it('sigmoid, silu and tanh stay finite for large inputs', () => {
    const y = tensor([-800, 800]).sigmoid();
    expect(arr(y)).toEqual([0, 1]);
    expect(arr(tensor([-800, 800]).silu())).toEqual([-0, 800]);
    expect(arr(tensor([-800, 800]).tanh())).toEqual([-1, 1]);
  });

  it('round halves to even, as torch.round', () => {
    const y = unaryOp('round', tensor([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6]));
    expect(arr(y)).toEqual([0, 2, 2, -0, -2, -2, 2, -3]);
  });

  it('relu and abs pass NaN through and have zero gradient at 0', () => {
    expect(arr(tensor([Number.NaN]).relu())[0]).toBeNaN();
    expect(arr(tensor([Number.NaN]).abs())[0]).toBeNaN();
    const x = tensor([0, 0], { dtype: 'float64', requiresGrad: true });
    x.relu().add(x.abs()).sum().backward();
    expect(gradOf(x)).toEqual([0, 0]);
  });
});

// Binary ops.

interface BinaryRef {
  readonly f: (a: number, b: number) => number;
  /** int32 comparison output. */
  readonly compare?: boolean;
}

const BINARY_REFS: Record<string, BinaryRef> = {
  add: { f: (a, b) => a + b },
  sub: { f: (a, b) => a - b },
  mul: { f: (a, b) => a * b },
  div: { f: (a, b) => a / b },
  pow: { f: (a, b) => a ** b },
  maximum: { f: Math.max }, // NaN wins, as in torch.maximum
  minimum: { f: Math.min },
  eq: { f: (a, b) => Number(a === b), compare: true },
  ne: { f: (a, b) => Number(a !== b), compare: true },
  lt: { f: (a, b) => Number(a < b), compare: true },
  le: { f: (a, b) => Number(a <= b), compare: true },
  gt: { f: (a, b) => Number(a > b), compare: true },
  ge: { f: (a, b) => Number(a >= b), compare: true },
};

const BINARY_NAMES = Object.keys(BINARY_OPS) as BinaryOp[];

/** Shape pairs and the broadcast shape they must give. */
const BROADCAST_CASES: { name: string; a: number[]; b: number[]; out: number[] }[] = [
  { name: 'same shape', a: [2, 3], b: [2, 3], out: [2, 3] },
  { name: 'scalar tensor', a: [2, 3], b: [], out: [2, 3] },
  { name: 'scalar on the left', a: [], b: [2, 3], out: [2, 3] },
  { name: 'row', a: [2, 3], b: [3], out: [2, 3] },
  { name: 'column', a: [2, 3], b: [2, 1], out: [2, 3] },
  { name: 'leading axes', a: [4, 2, 3], b: [2, 3], out: [4, 2, 3] },
  { name: 'both sides', a: [3, 1], b: [1, 4], out: [3, 4] },
  { name: 'both sides, different ranks', a: [2, 1, 3], b: [4, 1], out: [2, 4, 3] },
];

/** Operand values for an op: positive bases for pow, no zero divisors, some equal pairs. */
function operandValues(op: BinaryOp, n: number, seed: number): number[] {
  const v = spread(n, seed).map((x) => Math.round(x * 40) / 8); // multiples of 1/8: ties happen
  if (op === 'pow' && seed === 1) return v.map((x) => Math.abs(x) + 0.5);
  if (op === 'div' && seed === 2) return v.map((x) => (x === 0 ? 0.5 : x));
  return v;
}

describe('binary ops (BINARY_OPS)', () => {
  it('has an independent reference for every op in the table', () => {
    expect(Object.keys(BINARY_REFS).sort()).toEqual([...BINARY_NAMES].sort());
  });

  for (const op of BINARY_NAMES) {
    const ref = BINARY_REFS[op];
    describe(op, () => {
      for (const c of BROADCAST_CASES) {
        it(`broadcasts: ${c.name} ${JSON.stringify(c.a)} with ${JSON.stringify(c.b)}`, () => {
          const na = c.a.reduce((p, d) => p * d, 1);
          const nb = c.b.reduce((p, d) => p * d, 1);
          const av = operandValues(op, na, 1);
          const bv = operandValues(op, nb, 2);
          const y = binaryOp(
            op,
            tensor(av, { shape: c.a, dtype: 'float64' }),
            tensor(bv, { shape: c.b, dtype: 'float64' }),
          );
          expect(y.shape).toEqual(c.out);
          expect(y.dtype).toBe(ref.compare ? 'int32' : 'float64');
          const want = indices(c.out).map((idx) =>
            ref.f(readBroadcast(av, c.a, idx), readBroadcast(bv, c.b, idx)),
          );
          expectClose(arr(y), want, 1e-14);
        });
      }

      it('takes a JS number on either side', () => {
        const a = tensor([1.5, 2, 3.25]);
        const right = binaryOp(op, a, 2);
        const left = binaryOp(op, 2, a);
        expect(right.dtype).toBe(ref.compare ? 'int32' : 'float32');
        expectClose(arr(right), f32([1.5, 2, 3.25].map((x) => ref.f(x, 2))), 1e-6);
        expectClose(arr(left), f32([1.5, 2, 3.25].map((x) => ref.f(2, x))), 1e-6);
      });

      it('names the op and both shapes when shapes do not broadcast', () => {
        expectTensorError(
          () => binaryOp(op, tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3] }), tensor([1, 2, 3, 4])),
          op,
          '[2, 3]',
          '[4]',
        );
        expectTensorError(
          () =>
            binaryOp(
              op,
              tensor(new Float32Array(12), { shape: [4, 3] }),
              tensor(new Float32Array(12), { shape: [2, 2, 3] }),
            ),
          op,
          '[4, 3]',
          '[2, 2, 3]',
        );
      });
    });
  }

  it('rejects two JS numbers', () => {
    expectTensorError(() => binaryOp('add', 1, 2), 'add', 'tensor');
  });

  describe('gradients, with broadcast gradients summed back to each input shape', () => {
    const cases: [number[], number[]][] = [
      [
        [2, 3],
        [2, 3],
      ],
      [[2, 3], [3]],
      [
        [2, 3],
        [2, 1],
      ],
      [
        [3, 1],
        [1, 4],
      ],
      [
        [2, 1, 3],
        [4, 1],
      ],
      [[], [2, 3]],
    ];
    const ops: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'];
    for (const op of ops) {
      for (const [sa, sb] of cases) {
        it(`${op} ${JSON.stringify(sa)} with ${JSON.stringify(sb)}`, () => {
          const na = sa.reduce((p, d) => p * d, 1);
          const nb = sb.reduce((p, d) => p * d, 1);
          // Distinct values on each side (no ties for maximum/minimum), positive bases for pow.
          let av = spread(na, 5);
          let bv = spread(nb, 6).map((v) => v * 0.9 + 0.013);
          if (op === 'pow') av = av.map((v) => Math.abs(v) + 0.5);
          if (op === 'div') bv = bv.map((v) => (Math.abs(v) < 0.2 ? v + 0.5 : v));
          const a = tensor(av, { shape: sa, dtype: 'float64', requiresGrad: true });
          const b = tensor(bv, { shape: sb, dtype: 'float64', requiresGrad: true });
          expect(gradcheck((x, y) => binaryOp(op, x, y), [a, b])).toBeLessThan(1e-6);
          expect(a.grad?.shape).toEqual(sa);
          expect(b.grad?.shape).toEqual(sb);
        });
      }
    }

    it('sums the gradient of a broadcast operand by hand-computed values', () => {
      const a = tensor(
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
        { dtype: 'float64', requiresGrad: true },
      );
      const b = tensor([10, 20, 30], { dtype: 'float64', requiresGrad: true });
      a.mul(b).sum().backward();
      expect(gradOf(a)).toEqual([10, 20, 30, 10, 20, 30]);
      expect(gradOf(b)).toEqual([5, 7, 9]);
    });

    it('pow: d/db a^b is 0 where a == 0 and b >= 0, as PyTorch', () => {
      const a = tensor([0, 0, 2], { dtype: 'float64', requiresGrad: true });
      const b = tensor([2, 0, 3], { dtype: 'float64', requiresGrad: true });
      a.pow(b).sum().backward();
      expect(gradOf(b)).toEqual([0, 0, 8 * Math.log(2)]);
      expect(gradOf(a)).toEqual([0, 0, 12]);
    });

    it('gives a gradient to a tensor used twice (x * x)', () => {
      const x = tensor([1.5, -2], { dtype: 'float64', requiresGrad: true });
      x.mul(x).sum().backward();
      expect(gradOf(x)).toEqual([3, -4]);
    });

    it('maximum/minimum split the gradient evenly on ties', () => {
      const a = tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
      const b = tensor([1, 0, 5], { dtype: 'float64', requiresGrad: true });
      maximum(a, b).sum().backward();
      expect(gradOf(a)).toEqual([0.5, 1, 0]);
      expect(gradOf(b)).toEqual([0.5, 0, 1]);
      a.grad = null;
      b.grad = null;
      minimum(a, b).sum().backward();
      expect(gradOf(a)).toEqual([0.5, 0, 1]);
      expect(gradOf(b)).toEqual([0.5, 1, 0]);
    });

    it('maximum ties against a broadcast scalar sum their halves', () => {
      const a = tensor([2, 2, 1, 3], { dtype: 'float64', requiresGrad: true });
      const s = tensor(2, { dtype: 'float64', requiresGrad: true });
      maximum(a, s).sum().backward();
      expect(gradOf(a)).toEqual([0.5, 0.5, 0, 1]);
      expect(gradOf(s)).toEqual([0.5 + 0.5 + 1]);
    });

    it('does not record comparisons', () => {
      const a = tensor([1, 2], { requiresGrad: true });
      const y = a.gt(1.5);
      expect(y.requiresGrad).toBe(false);
      expect(y.gradFn).toBeNull();
    });
  });

  describe('dtypes', () => {
    const i32 = tensor([7, -3, 4], { dtype: 'int32' });
    const f = tensor([0.5, 0.25, 2]);
    const d = tensor([0.5, 0.25, 2], { dtype: 'float64' });

    it('promotes int32 with float32 to float32 and float32 with float64 to float64', () => {
      expect(i32.add(f).dtype).toBe('float32');
      expect(f.add(i32).dtype).toBe('float32');
      expect(arr(i32.add(f))).toEqual([7.5, -2.75, 6]);
      expect(f.add(d).dtype).toBe('float64');
      expect(d.mul(f).dtype).toBe('float64');
      expect(i32.sub(d).dtype).toBe('float64');
      expect(arr(i32.sub(d))).toEqual([6.5, -3.25, 2]);
    });

    it('a JS number never widens float32 (the scalar is rounded to float32)', () => {
      const y = f.add(0.1);
      expect(y.dtype).toBe('float32');
      expect(arr(y)).toEqual(f32([0.5, 0.25, 2].map((v) => v + Math.fround(0.1))));
      expect(f.mul(1e10).dtype).toBe('float32');
      expect(tensor([1], { dtype: 'float64' }).add(0.1).dtype).toBe('float64');
      expect(arr(tensor([1], { dtype: 'float64' }).add(0.1))).toEqual([1.1]);
    });

    it('int32 with an integer number stays int32; with a fraction it becomes float32', () => {
      expect(i32.add(2).dtype).toBe('int32');
      expect(arr(i32.add(2))).toEqual([9, -1, 6]);
      expect(i32.mul(2.5).dtype).toBe('float32');
      expect(arr(i32.mul(2.5))).toEqual([17.5, -7.5, 10]);
    });

    it('int32 / int32 is true division giving float32', () => {
      const y = i32.div(tensor([2, 2, 3], { dtype: 'int32' }));
      expect(y.dtype).toBe('float32');
      expect(arr(y)).toEqual(f32([3.5, -1.5, 4 / 3]));
      expect(i32.div(2).dtype).toBe('float32');
    });

    it('int32 products are exact and wrap at 32 bits', () => {
      const y = tensor([100000, 46341, 3], { dtype: 'int32' }).mul(
        tensor([30000, 46341, -5], { dtype: 'int32' }),
      );
      expect(y.dtype).toBe('int32');
      expect(arr(y)).toEqual([3_000_000_000 - 2 ** 32, 46341 * 46341 - 2 ** 32, -15]);
    });

    it('comparisons give int32 0/1 for every operand dtype', () => {
      for (const [a, b] of [
        [i32, f],
        [f, d],
        [i32, i32],
      ] as [Tensor, Tensor][]) {
        const y = a.ge(b);
        expect(y.dtype).toBe('int32');
        const av = arr(a);
        const bv = arr(b);
        expect(arr(y)).toEqual(av.map((v, i) => (v >= bv[i] ? 1 : 0)));
      }
      expect(arr(f.eq(0.25))).toEqual([0, 1, 0]);
      expect(arr(f.ne(0.25))).toEqual([1, 0, 1]);
      expect(arr(f.lt(0.5))).toEqual([0, 1, 0]);
      expect(arr(f.le(0.5))).toEqual([1, 1, 0]);
      expect(arr(f.gt(0.5))).toEqual([0, 0, 1]);
      // NaN compares false except with ne.
      const nan = tensor([Number.NaN]);
      expect([nan.eq(nan), nan.lt(1), nan.ge(1), nan.ne(nan)].map((t) => arr(t)[0])).toEqual([
        0, 0, 0, 1,
      ]);
    });

    it('a float32 operand requiring grad gets a float32 gradient through promotion', () => {
      const a = tensor([1, 2], { requiresGrad: true });
      const y = a.mul(tensor([3, 4], { dtype: 'float64' }));
      expect(y.dtype).toBe('float64');
      y.sum().backward();
      expect(a.grad?.dtype).toBe('float32');
      expect(gradOf(a)).toEqual([3, 4]);
    });
  });

  it('maximum and minimum propagate NaN from either side', () => {
    const a = tensor([Number.NaN, 1, 2, Number.NaN]);
    const b = tensor([0, Number.NaN, 1, Number.NaN]);
    const mx = arr(maximum(a, b));
    const mn = arr(minimum(a, b));
    expect(mx.map(Number.isNaN)).toEqual([true, true, false, true]);
    expect(mn.map(Number.isNaN)).toEqual([true, true, false, true]);
    expect(mx[2]).toBe(2);
    expect(mn[2]).toBe(1);
  });
});

describe('where', () => {
  it('picks a where cond is non-zero, with broadcasting of all three', () => {
    const cond = tensor([1, 0, 1], { dtype: 'int32' }); // [3]
    const a = tensor([[10], [20]]); // [2, 1]
    const b = tensor(-1);
    const y = where(cond, a, b);
    expect(y.shape).toEqual([2, 3]);
    expect(arr(y)).toEqual([10, -1, 10, 20, -1, 20]);
    expect(arr(where(tensor([2, 0, -7], { dtype: 'int32' }), 1, 0))).toEqual([1, 0, 1]);
  });

  it('takes numbers on either side and promotes dtypes', () => {
    const cond = tensor([1, 0], { dtype: 'int32' });
    const a = tensor([1.5, 2.5], { dtype: 'float64' });
    expect(where(cond, a, 0).dtype).toBe('float64');
    expect(arr(where(cond, 0, a))).toEqual([0, 2.5]);
    expect(where(cond, tensor([1, 2], { dtype: 'int32' }), tensor([0.5, 0.5])).dtype).toBe(
      'float32',
    );
  });

  it('does not truncate a fractional number paired with an int32 tensor', () => {
    const cond = tensor([1, 0], { dtype: 'int32' });
    const y = where(cond, tensor([1, 2], { dtype: 'int32' }), 0.5);
    expect(y.dtype).toBe('float32');
    expect(arr(y)).toEqual([1, 0.5]);
    expect(where(cond, tensor([1, 2], { dtype: 'int32' }), 3).dtype).toBe('int32');
  });

  it('routes the gradient by the mask and sums it over broadcast axes', () => {
    const cond = tensor(
      [
        [1, 0, 0],
        [0, 1, 1],
      ],
      { dtype: 'int32' },
    );
    const a = tensor(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    const b = tensor([7, 8, 9], { dtype: 'float64', requiresGrad: true });
    where(cond, a, b)
      .mul(tensor([1, 2, 3], { dtype: 'float64' }))
      .sum()
      .backward();
    expect(gradOf(a)).toEqual([1, 0, 0, 0, 2, 3]);
    expect(gradOf(b)).toEqual([1, 2 + 0, 3 + 0]);
    const a2 = tensor(spread(6, 9), { dtype: 'float64', shape: [2, 3], requiresGrad: true });
    const b2 = tensor(spread(3, 4), { dtype: 'float64', requiresGrad: true });
    expect(gradcheck((x, y) => where(cond, x, y), [a2, b2])).toBeLessThan(1e-6);
  });

  it('requires an int32 mask', () => {
    expectTensorError(() => where(tensor([1, 0]), 1, 0), 'where', 'int32', 'float32');
  });

  it('names the shapes that do not broadcast', () => {
    expectTensorError(
      () => where(tensor([1, 0, 1], { dtype: 'int32' }), tensor([1, 2]), 0),
      'where',
      '[3]',
      '[2]',
    );
  });
});

describe('clamp', () => {
  it('limits values and passes NaN', () => {
    const x = tensor([-2, -1, 0, 1, 2, Number.NaN]);
    const y = arr(clamp(x, -1, 1));
    expect(y.slice(0, 5)).toEqual([-1, -1, 0, 1, 1]);
    expect(y[5]).toBeNaN();
    expect(arr(clamp(x, 0.5)).slice(0, 5)).toEqual([0.5, 0.5, 0.5, 1, 2]);
    expect(arr(x.clamp(undefined, -0.5)).slice(0, 5)).toEqual([-2, -1, -0.5, -0.5, -0.5]);
  });

  it('keeps int32 with integer bounds', () => {
    const y = tensor([-5, 0, 5], { dtype: 'int32' }).clamp(-1, 2);
    expect(y.dtype).toBe('int32');
    expect(arr(y)).toEqual([-1, 0, 2]);
  });

  it('passes the gradient where min <= x <= max (bounds included), as torch.clamp', () => {
    const x = tensor([-2, -1, 0, 1, 2], { dtype: 'float64', requiresGrad: true });
    clamp(x, -1, 1)
      .mul(tensor([1, 2, 3, 4, 5], { dtype: 'float64' }))
      .sum()
      .backward();
    expect(gradOf(x)).toEqual([0, 2, 3, 4, 0]);
    const x2 = tensor([-0.7, -0.3, 0.2, 0.6, 0.9], { dtype: 'float64', requiresGrad: true });
    expect(gradcheck((t) => clamp(t, -0.5, 0.5), [x2])).toBeLessThan(1e-6);
  });

  it('rejects missing or crossed bounds', () => {
    expectTensorError(() => clamp(tensor([1])), 'clamp', 'min', 'max');
    expectTensorError(() => clamp(tensor([1]), 2, 1), 'clamp', '2', '1');
  });
});
