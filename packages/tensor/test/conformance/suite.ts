import { describe, expect, it } from 'vitest';
import {
  AdamW,
  type Backend,
  BINARY_OPS,
  type BinaryOp,
  CpuBackend,
  causalConv1d,
  concat,
  crossEntropy,
  type DType,
  dropout,
  embedding,
  Generator,
  indexSelect,
  linear,
  logSoftmax,
  matmul,
  rand,
  randn,
  rmsNorm,
  SGD,
  softmax,
  stack,
  type Tensor,
  tensor,
  UNARY_OPS,
  type UnaryOp,
  where,
} from '../../src/index.js';
import { expectClose, ints, read, sameAsCpu, type Tolerance, values } from './compare.js';

/** Options of {@link defineConformanceSuite}. */
export interface ConformanceOptions {
  /** The backend under test; null skips the suite (the caller prints why). */
  readonly backend: Backend | null;
  /** Tolerance of float32 comparisons with the CPU (default rtol 2e-5, atol 1e-5). */
  readonly tolerance?: Tolerance;
}

/** Inputs each unary op is tested on (inside its domain). */
const UNARY_DOMAIN: Partial<Record<UnaryOp, [number, number]>> = {
  log: [0.1, 4],
  log1p: [-0.9, 4],
  sqrt: [0.1, 4],
  rsqrt: [0.1, 4],
  reciprocal: [0.5, 4],
};

/** Ops whose float32 results may differ by more than the default (transcendentals on GPUs). */
const UNARY_TOL: Partial<Record<UnaryOp, Tolerance>> = {
  sin: { rtol: 1e-4, atol: 1e-5 },
  cos: { rtol: 1e-4, atol: 1e-5 },
  gelu: { rtol: 1e-4, atol: 1e-5 },
  gelu_tanh: { rtol: 1e-4, atol: 1e-5 },
};

/**
 * The tensor core's op suite, run against one backend: every op of the public API on small
 * inputs with odd strides, compared with the CPU backend's float32 results (and closed forms
 * where they are simple), values read with `await t.data()`. Run for `cpu` from the tensor
 * package and for each device backend from its own package.
 */
export function defineConformanceSuite(name: string, options: ConformanceOptions): void {
  const backend = options.backend;
  const tol = options.tolerance ?? { rtol: 2e-5, atol: 1e-5 };
  const cpu = new CpuBackend();
  const check = (build: (b: Backend) => Tensor | (Tensor | null)[], t: Tolerance = tol) =>
    sameAsCpu(cpu, backend as Backend, build, t);
  const f32 = (b: Backend, shape: number[], seed: number, lo = -2, hi = 2) =>
    tensor(
      values(
        shape.reduce((p, d) => p * d, 1),
        seed,
        lo,
        hi,
      ),
      { backend: b, shape },
    );
  const i32 = (b: Backend, shape: number[], seed: number, lo = -5, hi = 5) =>
    tensor(
      ints(
        shape.reduce((p, d) => p * d, 1),
        seed,
        lo,
        hi,
      ),
      {
        backend: b,
        shape,
        dtype: 'int32',
      },
    );
  const leaf = (t: Tensor) => t.requiresGrad_(true);

  describe.skipIf(!backend)(`conformance: ${name}`, () => {
    describe('unary ops (every key of UNARY_OPS)', () => {
      for (const op of Object.keys(UNARY_OPS) as UnaryOp[]) {
        it(`${op}: forward and gradient on a transposed view`, async () => {
          const [lo, hi] = UNARY_DOMAIN[op] ?? [-3, 3];
          await check((b) => {
            const x = leaf(f32(b, [3, 4], 11, lo, hi));
            const xt = x.transpose(0, 1);
            const y =
              op === 'gelu_tanh' ? xt.gelu('tanh') : (xt[op] as (this: Tensor) => Tensor).call(xt);
            y.mul(f32(b, [4, 3], 12))
              .sum()
              .backward();
            return [y, x.grad];
          }, UNARY_TOL[op] ?? tol);
        });
      }

      it('int32 inputs: int-preserving ops stay int32, others compute in float32', async () => {
        await check((b) => {
          const x = i32(b, [2, 5], 3);
          return [
            x.neg(),
            x.abs(),
            x.sign(),
            x.square(),
            x.relu(),
            x.floor(),
            x.exp(),
            x.abs().sqrt(),
          ];
        });
      });

      it('closed forms', async () => {
        const b = backend as Backend;
        const x = tensor([-1.5, -0.5, 0, 0.5, 2.5], { backend: b });
        expectClose(await x.round().data(), [-2, -0, 0, 0, 2]);
        expectClose(await x.relu().data(), [0, 0, 0, 0.5, 2.5]);
        expectClose(await x.exp().data(), [-1.5, -0.5, 0, 0.5, 2.5].map(Math.exp));
        expectClose(await x.tanh().data(), [-1.5, -0.5, 0, 0.5, 2.5].map(Math.tanh));
        expectClose(await tensor([100, -100], { backend: b }).sigmoid().data(), [1, 0]);
      });
    });

    describe('binary ops (every key of BINARY_OPS)', () => {
      for (const op of Object.keys(BINARY_OPS) as BinaryOp[]) {
        it(`${op}: float32 with broadcasting, and its gradient`, async () => {
          await check((b) => {
            const positive = op === 'pow';
            const a = leaf(f32(b, [2, 3, 4], 21, positive ? 0.2 : -2, 2));
            const c = leaf(f32(b, [3, 1], 22, positive ? -2 : -2, 2));
            const y = binaryApply(op, a, c);
            if (!('compare' in BINARY_OPS[op])) {
              y.mul(f32(b, [2, 3, 4], 23))
                .sum()
                .backward();
              return [y, a.grad, c.grad];
            }
            return [y];
          });
        });
        if (op !== 'div') {
          it(`${op}: int32`, async () => {
            await check((b) => {
              const a = i32(b, [2, 6], 31);
              const c = op === 'pow' ? i32(b, [6], 32, 0, 4) : i32(b, [6], 32);
              return [binaryApply(op, a, c)];
            });
          });
        }
      }

      it('scalar operands, NaN propagation and ties', async () => {
        await check((b) => {
          const a = tensor([1, Number.NaN, 3, 2], { backend: b });
          const c = tensor([1, 2, Number.NaN, 2], { backend: b });
          return [
            a.maximum(c),
            a.minimum(c),
            a.eq(c),
            a.ne(c),
            a.add(0.5),
            a.div(2),
            a.clamp(1.5, 2.5),
          ];
        });
      });

      it('where with broadcasting', async () => {
        await check((b) => {
          const cond = i32(b, [2, 1, 4], 41, 0, 2);
          const x = leaf(f32(b, [3, 4], 42));
          const y = where(cond, x, f32(b, [4], 43));
          y.sum().backward();
          return [y, x.grad, where(cond.gt(0), 1, -1)];
        });
      });
    });

    describe('reductions', () => {
      it('sum, mean, max, min over axes of a permuted view', async () => {
        await check((b) => {
          const x = leaf(f32(b, [3, 4, 5], 51));
          const v = x.permute(2, 0, 1);
          const outs = [
            v.sum(),
            v.sum(0),
            v.sum([1, 2], true),
            v.mean(1),
            v.max(2),
            v.min([0, 2]),
            v.slice(0, 0, 5, 2).sum(1),
          ];
          outs[1]
            .mul(f32(b, [3, 4], 52))
            .sum()
            .add(outs[4].sum())
            .backward();
          return [...outs, x.grad];
        });
      });

      it('argmax and int32 sums', async () => {
        await check((b) => {
          const x = f32(b, [4, 6], 61);
          const k = i32(b, [4, 6], 62);
          return [
            x.argmax(1),
            x.argmax(0, true),
            x.transpose(0, 1).argmax(-1),
            k.sum(1),
            k.max(0),
            k.sum(),
          ];
        });
        const t = tensor([1, 5, 5, 2], { backend: backend as Backend });
        expect(Array.from(await t.argmax().data())).toEqual([1]);
      });
    });

    describe('views and copies', () => {
      it('odd strides, offsets and stride-0 views materialise correctly', async () => {
        await check((b) => {
          const x = f32(b, [4, 5, 6], 71);
          return [
            x.permute(2, 0, 1).contiguous(),
            x.slice(2, 1, 6, 2).contiguous(),
            x.select(1, 3).contiguous(),
            x.narrow(0, 1, 2).transpose(0, 2).contiguous(),
            x.slice(0, 1, 2).expand(3, 5, 6).contiguous(),
            x.reshape(20, 6).slice(0, 3, 17, 3).clone(),
            x.cast('int32'),
            x.slice(2, 0, 6, 2).cast('int32').cast('float32'),
          ];
        });
      });

      it('concat, stack, split and assign into a strided region', async () => {
        await check((b) => {
          const a = leaf(f32(b, [2, 3], 81));
          const c = leaf(f32(b, [2, 5], 82));
          const cat = concat([a, c.slice(1, 0, 5, 2)], 1);
          cat
            .mul(f32(b, [2, 6], 83))
            .sum()
            .backward();
          const st = stack([a, a.neg()], 1);
          const target = f32(b, [3, 4], 84);
          target.slice(1, 0, 4, 2).assign(f32(b, [3, 2], 85));
          const self = f32(b, [4], 86);
          self.slice(0, 0, 2).assign(self.slice(0, 2, 4));
          return [cat, a.grad, c.grad, st, target, self, ...c.split(2, 1)];
        });
      });
    });

    describe('matmul', () => {
      it('2-D, batched, transposed and broadcast operands with gradients', async () => {
        await check(
          (b) => {
            const a = leaf(f32(b, [2, 3, 5, 7], 91));
            const w = leaf(f32(b, [3, 7, 4], 92));
            const y = matmul(a, w);
            const t = matmul(
              f32(b, [7, 5], 93).transpose(0, 1),
              f32(b, [6, 7], 94).transpose(0, 1),
            );
            const v = matmul(f32(b, [7], 95), f32(b, [2, 7, 3], 96));
            const big = matmul(f32(b, [70, 33], 97), f32(b, [33, 65], 98));
            y.mul(f32(b, [2, 3, 5, 4], 99))
              .sum()
              .backward();
            return [y, t, v, big, a.grad, w.grad];
          },
          { rtol: 1e-4, atol: 1e-4 },
        );
      });

      it('linear with bias and a closed form', async () => {
        await check(
          (b) => {
            const x = leaf(f32(b, [2, 3, 8], 101));
            const w = leaf(f32(b, [5, 8], 102));
            const bias = leaf(f32(b, [5], 103));
            const y = linear(x, w, bias);
            y.square().sum().backward();
            return [y, x.grad, w.grad, bias.grad];
          },
          { rtol: 1e-4, atol: 1e-4 },
        );
        const b = backend as Backend;
        const m = matmul(
          tensor(
            [
              [1, 2],
              [3, 4],
            ],
            { backend: b },
          ),
          tensor(
            [
              [5, 6],
              [7, 8],
            ],
            { backend: b },
          ),
        );
        expectClose(await read(m), [19, 22, 43, 50]);
      });
    });

    describe('indexing', () => {
      it('indexSelect and embedding with repeated indices, and their scatter-add gradient', async () => {
        await check((b) => {
          const table = leaf(f32(b, [7, 5], 111));
          const ids = tensor(
            [
              [3, 0, 3],
              [6, 3, 1],
            ],
            { backend: b, dtype: 'int32' },
          );
          const e = embedding(table, ids);
          const s = indexSelect(table, 1, tensor([4, 4, 0], { backend: b, dtype: 'int32' }));
          e.mul(f32(b, [2, 3, 5], 112))
            .sum()
            .add(s.sum())
            .backward();
          const it = indexSelect(
            i32(b, [4, 3], 113),
            0,
            tensor([2, 2, 0], { backend: b, dtype: 'int32' }),
          );
          return [e, s, table.grad, it];
        });
      });
    });

    describe('fused neural-network ops', () => {
      it('softmax and logSoftmax along the last and a middle axis, with gradients', async () => {
        await check((b) => {
          const x = leaf(f32(b, [3, 4, 9], 121, -4, 4));
          const s = softmax(x, -1);
          const l = logSoftmax(x, 1);
          s.mul(f32(b, [3, 4, 9], 122))
            .sum()
            .add(l.mul(f32(b, [3, 4, 9], 123)).sum())
            .backward();
          return [s, l, x.grad];
        });
      });

      it('crossEntropy with ignoreIndex and every reduction, with gradients', async () => {
        for (const reduction of ['mean', 'sum', 'none'] as const) {
          await check((b) => {
            const logits = leaf(f32(b, [2, 3, 6], 131, -3, 3));
            const targets = tensor(
              [
                [0, 5, -100],
                [2, -100, 1],
              ],
              { backend: b, dtype: 'int32' },
            );
            const loss = crossEntropy(logits, targets, { reduction });
            (reduction === 'none' ? loss.sum() : loss).backward();
            return [loss, logits.grad];
          });
        }
      });

      it('rmsNorm with and without a weight, with gradients', async () => {
        await check((b) => {
          const x = leaf(f32(b, [3, 2, 70], 141));
          const w = leaf(f32(b, [70], 142));
          const y = rmsNorm(x, w, 1e-5);
          const z = rmsNorm(x, null, 1e-6);
          y.mul(f32(b, [3, 2, 70], 143))
            .sum()
            .add(z.mul(f32(b, [3, 2, 70], 144)).sum())
            .backward();
          return [y, z, x.grad, w.grad];
        });
      });

      it('causalConv1d with a bias and (channels, 1, width) weights, with gradients', async () => {
        await check((b) => {
          const x = leaf(f32(b, [2, 3, 7], 151));
          const w = leaf(f32(b, [3, 1, 4], 152));
          const bias = leaf(f32(b, [3], 153));
          const y = causalConv1d(x, w, bias);
          const y2 = causalConv1d(x, w.reshape(3, 4));
          y.mul(f32(b, [2, 3, 7], 154))
            .sum()
            .add(y2.sum())
            .backward();
          return [y, y2, x.grad, w.grad, bias.grad];
        });
      });
    });

    describe('random numbers', () => {
      it('rand, randn and dropout draw the same numbers as the CPU', async () => {
        await check(
          (b) => {
            const g = new Generator(1234);
            const x = leaf(f32(b, [5, 7], 161));
            const d = dropout(x, 0.3, { generator: g });
            d.sum().backward();
            return [
              rand([37], { backend: b, generator: g }),
              randn([3, 11], { backend: b, generator: g }),
              rand([2, 3], { backend: b, generator: g, low: -1, high: 3 }),
              d,
              x.grad,
            ];
          },
          { rtol: 1e-5, atol: 1e-5 },
        );
      });

      it('uniform draws are exact', async () => {
        const g1 = new Generator(7);
        const g2 = new Generator(7);
        const want = await rand([9], { backend: cpu, generator: g1 }).data();
        const got = await rand([9], { backend: backend as Backend, generator: g2 }).data();
        expect(Array.from(got)).toEqual(Array.from(want));
      });
    });

    describe('optimizers', () => {
      for (const kind of ['adamw', 'sgd', 'sgd-nesterov'] as const) {
        it(`${kind}: steps stay on the backend and match the CPU`, async () => {
          await check(
            (b) => {
              const p = leaf(f32(b, [4, 6], 171));
              const q = leaf(f32(b, [6], 172));
              const opt =
                kind === 'adamw'
                  ? new AdamW([p, q], { lr: 0.05, weightDecay: 0.1 })
                  : new SGD([p, q], {
                      lr: 0.02,
                      momentum: 0.9,
                      weightDecay: 0.01,
                      nesterov: kind === 'sgd-nesterov',
                    });
              for (let step = 0; step < 3; step++) {
                opt.zeroGrad();
                matmul(p, q).square().sum().backward();
                opt.step();
              }
              return [p, q];
            },
            { rtol: 1e-4, atol: 1e-5 },
          );
        });
      }
    });

    describe('autograd', () => {
      it('backward of a small composite (MLP with cross-entropy)', async () => {
        await check(
          (b) => {
            const x = f32(b, [6, 5], 181);
            const w1 = leaf(f32(b, [8, 5], 182, -0.5, 0.5));
            const w2 = leaf(f32(b, [4, 8], 183, -0.5, 0.5));
            const h = linear(x, w1).silu();
            const logits = linear(rmsNorm(h, null), w2);
            const loss = crossEntropy(
              logits,
              tensor([0, 3, 1, -100, 2, 2], { backend: b, dtype: 'int32' }),
            );
            loss.backward();
            return [loss, w1.grad, w2.grad];
          },
          { rtol: 1e-4, atol: 1e-5 },
        );
      });
    });

    describe('int32 paths', () => {
      it('arithmetic, comparisons, casts and reductions stay exact', async () => {
        await check((b) => {
          const a = i32(b, [3, 4], 191, -100, 100);
          const c = i32(b, [4], 192, 1, 9);
          const dtypes: DType[] = ['float32', 'int32'];
          return [
            a.add(c),
            a.mul(c),
            a.sub(3),
            a.div(c),
            a.pow(2),
            a.lt(c),
            a.ge(0).sum(),
            a.cast(dtypes[0]).cast(dtypes[1]),
            tensor([2.7, -2.7, 1e10], { backend: b }).cast('int32'),
            a.argmax(1),
          ];
        });
      });
    });
  });
}

function binaryApply(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  switch (op) {
    case 'eq':
    case 'ne':
    case 'lt':
    case 'le':
    case 'gt':
    case 'ge':
      return a[op](b);
    default:
      return a[op](b);
  }
}
