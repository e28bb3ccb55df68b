import {
  AdamW,
  type Backend,
  CpuBackend,
  crossEntropy,
  Embedding,
  Generator,
  getBackend,
  Linear,
  linear,
  Module,
  RMSNorm,
  selectiveScan,
  setBackend,
  type Tensor,
  tensor,
  tidy,
} from '@statetune/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { testBackend } from './gpu.js';

// Training end to end past the storage binding limit: a one-layer Mamba-shaped model whose
// tied embedding (lookup table and LM head) is larger than one binding, trained with AdamW
// on webgpu and on the CPU from the same weights. The LM head's weight gradient is where a
// transposed view of a large matrix used to reach the elementwise kernels.
const LIMIT = 16384;
const gpu = await testBackend({ maxBindingBytes: LIMIT });
const cpu = new CpuBackend();

const [VOCAB, DIM, INNER, STATE, RANK, BATCH, LEN] = [512, 16, 32, 4, 2, 2, 8];

/** The LM head of a tied model: x @ E^T with the embedding's own tensor. */
class TiedHead extends Module {
  readonly weight: Tensor;
  constructor(weight: Tensor) {
    super();
    this.weight = this.registerParameter('weight', weight);
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight);
  }
}

/** Embedding, RMSNorm, a selective-scan mixer with a residual, final norm, tied head. */
class TinyMamba extends Module {
  readonly embed: Embedding;
  readonly norm: RMSNorm;
  readonly inProj: Linear;
  readonly xProj: Linear;
  readonly dtProj: Linear;
  readonly outProj: Linear;
  readonly normF: RMSNorm;
  readonly head: TiedHead;
  readonly aLog: Tensor;
  readonly d: Tensor;

  constructor(seed: number) {
    super();
    const generator = new Generator(seed);
    this.embed = this.registerModule('embed', new Embedding(VOCAB, DIM, { generator }));
    this.norm = this.registerModule('norm', new RMSNorm(DIM));
    this.inProj = this.registerModule(
      'in_proj',
      new Linear(DIM, 2 * INNER, { bias: false, generator }),
    );
    this.xProj = this.registerModule(
      'x_proj',
      new Linear(INNER, RANK + 2 * STATE, { bias: false, generator }),
    );
    this.dtProj = this.registerModule('dt_proj', new Linear(RANK, INNER, { generator }));
    this.outProj = this.registerModule(
      'out_proj',
      new Linear(INNER, DIM, { bias: false, generator }),
    );
    this.normF = this.registerModule('norm_f', new RMSNorm(DIM));
    this.head = this.registerModule('lm_head', new TiedHead(this.embed.weight));
    const a = Array.from({ length: INNER * STATE }, (_, i) => Math.log(1 + (i % STATE)));
    this.aLog = this.registerParameter('A_log', tensor(a, { shape: [INNER, STATE] }));
    this.d = this.registerParameter('D', tensor(new Array(INNER).fill(1), { shape: [INNER] }));
  }

  forward(ids: Tensor): Tensor {
    const residual = this.embed.forward(ids);
    const xz = this.inProj.forward(this.norm.forward(residual));
    const x = xz.narrow(-1, 0, INNER);
    const z = xz.narrow(-1, INNER, INNER);
    const xdbl = this.xProj.forward(x);
    const dt = this.dtProj.forward(xdbl.narrow(-1, 0, RANK));
    const { y } = selectiveScan({
      u: x.transpose(1, 2),
      delta: dt.transpose(1, 2),
      A: this.aLog.exp().neg(),
      B: xdbl.narrow(-1, RANK, STATE).transpose(1, 2),
      C: xdbl.narrow(-1, RANK + STATE, STATE).transpose(1, 2),
      D: this.d,
      z: z.transpose(1, 2),
      deltaSoftplus: true,
    });
    const h = this.outProj.forward(y.transpose(1, 2)).add(residual);
    return this.head.forward(this.normF.forward(h));
  }
}

const ids = Array.from({ length: BATCH * LEN }, (_, i) => (i * 97 + 5) % VOCAB);
const targets = Array.from({ length: BATCH * LEN }, (_, i) => (i * 131 + 17) % VOCAB);

/** A model on `backend` holding the CPU model's weights. */
async function modelOn(backend: Backend, weights: TinyMamba | null): Promise<TinyMamba> {
  const before = getBackend();
  await setBackend(backend);
  try {
    const m = new TinyMamba(7);
    if (weights) m.loadStateDict(weights.stateDict());
    return m;
  } finally {
    await setBackend(before);
  }
}

function trainStep(model: TinyMamba, opt: AdamW, backend: Backend): Tensor {
  const inputs = tensor(ids, { backend, dtype: 'int32', shape: [BATCH, LEN] });
  const tg = tensor(targets, { backend, dtype: 'int32', shape: [BATCH * LEN] });
  const loss = tidy(() => {
    const l = crossEntropy(model.forward(inputs).reshape(BATCH * LEN, VOCAB), tg);
    l.backward();
    return l;
  });
  opt.step();
  opt.zeroGrad();
  inputs.dispose();
  tg.dispose();
  return loss;
}

describe.skipIf(!gpu)('training a tied-embedding model past the binding limit', () => {
  afterAll(() => gpu?.destroy());

  it('matches the CPU step by step, with no host round trip inside a step', async () => {
    const ref = await modelOn(cpu, null);
    const dev = await modelOn(gpu!, ref);
    expect(dev.embed.weight.backend).toBe(gpu);
    expect(dev.embed.weight.size).toBeGreaterThan(gpu!.runtime.maxBindingElements);
    const options = { lr: 1e-2, weightDecay: 0.01 };
    const refOpt = new AdamW(ref.parameters(), options);
    const devOpt = new AdamW(dev.parameters(), options);
    const rt = gpu!.runtime;
    for (let step = 0; step < 3; step++) {
      const want = await trainStep(ref, refOpt, cpu).data();
      const [reads, submits, dispatched] = [rt.reads, rt.submits, rt.dispatched];
      const loss = trainStep(dev, devOpt, gpu!);
      // Forward, backward and the optimizer step only record work: nothing is read back, and
      // commands go out in batches (plus the submits the scan makes before its own kernels).
      expect(rt.reads).toBe(reads);
      const steps = rt.dispatched - dispatched;
      expect(steps).toBeGreaterThan(50);
      expect(rt.submits - submits).toBeLessThanOrEqual(Math.ceil(steps / 64) + 4);
      const got = await loss.data();
      expect(rt.reads).toBe(reads + 1);
      expect(Math.abs(got[0] - want[0])).toBeLessThan(1e-4 * (1 + Math.abs(want[0])));
      loss.dispose();
    }
    const refParams = ref.namedParameters();
    const devParams = new Map(dev.namedParameters());
    for (const [name, p] of refParams) {
      const w = await p.data();
      const g = await (devParams.get(name) as Tensor).data();
      let worst = 0;
      for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(g[i] - w[i]));
      expect(worst, name).toBeLessThan(1e-4);
    }
    ref.dispose();
    dev.dispose();
  });
});
