// The WebGPU backend beside the CPU backend at a Mamba-130m layer shape (batch 4, d_inner
// 1536, seqlen 256, d_state 16): the selective scan forward, forward + backward, and the
// layer's in_proj matmul (batch * seqlen x 768 @ 768 x 3072). Each row gives the median time
// and, on webgpu rows, the CPU time over the webgpu time. The adapter's vendor, architecture
// and description go into the JSON meta.
//
//   node bench/run.mjs            full repeats
//   node bench/run.mjs --quick    one timed run each (STATETUNE_BENCH_QUICK=1 does the same)
//   node bench/run.mjs --no-cpu   webgpu only
//
// On a software adapter (lavapipe, 2 cores) a full run takes about 35 s and --quick about 10 s.
import { cpus } from 'node:os';
import {
  CpuBackend,
  Generator,
  matmul,
  randn,
  selectiveScan,
  setCpuThreads,
  shutdownCpuWorkers,
  tidy,
} from '@statetune/tensor';
import { measure, report } from '../../../bench/harness.mjs';
import { createWebGpuBackend } from '../dist/index.js';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick') || process.env.STATETUNE_BENCH_QUICK === '1';
const withCpu = !args.has('--no-cpu');
const timing = quick ? { warmup: 1, repeats: 1, minMs: 0 } : { warmup: 1, repeats: 5, minMs: 1000 };
const shape = { batch: 4, dim: 1536, seqlen: 256, dstate: 16, dModel: 768 };

function inputs(backend) {
  const g = new Generator(42);
  const { batch, dim, seqlen, dstate } = shape;
  const r = (s, scale = 1, shift = 0) =>
    randn(s, { backend, generator: g, std: scale, mean: shift }).requiresGrad_(true);
  return {
    u: r([batch, dim, seqlen]),
    delta: r([batch, dim, seqlen], 0.5, -1),
    A: r([dim, dstate], 0.3, -1),
    B: r([batch, dstate, seqlen]),
    C: r([batch, dstate, seqlen]),
    D: r([dim]),
    z: r([batch, dim, seqlen]),
    deltaBias: r([dim], 0.1),
    deltaSoftplus: true,
  };
}

function clearGrads(x) {
  for (const t of Object.values(x)) {
    if (typeof t === 'object' && t?.grad) {
      t.grad.dispose();
      t.grad = null;
    }
  }
}

async function suite(backend, label) {
  const x = inputs(backend);
  const { batch, dim, seqlen, dstate, dModel } = shape;
  const states = batch * dim * seqlen * dstate;
  const out = [];
  const fwd = await measure(async () => {
    const y = tidy(() => selectiveScan(x).y.sum());
    await y.data();
    y.dispose();
  }, timing);
  out.push({
    name: 'scan forward',
    ms: fwd.median,
    throughput: states / (fwd.median * 1e3),
    unit: 'Mstate/s',
  });
  const both = await measure(async () => {
    const loss = tidy(() => {
      const y = selectiveScan(x).y.sum();
      y.backward();
      return y;
    });
    await x.u.grad.data();
    loss.dispose();
    clearGrads(x);
  }, timing);
  out.push({
    name: 'scan forward+backward',
    ms: both.median,
    throughput: states / (both.median * 1e3),
    unit: 'Mstate/s',
  });
  const g = new Generator(7);
  const h = randn([batch * seqlen, dModel], { backend, generator: g });
  const w = randn([dModel, 2 * dim], { backend, generator: g });
  const mm = await measure(async () => {
    const y = tidy(() => matmul(h, w).sum());
    await y.data();
    y.dispose();
  }, timing);
  const flops = 2 * batch * seqlen * dModel * 2 * dim;
  out.push({
    name: 'matmul in_proj',
    ms: mm.median,
    throughput: flops / (mm.median * 1e6),
    unit: 'GFLOP/s',
  });
  for (const t of Object.values(x)) if (typeof t === 'object') t.dispose();
  h.dispose();
  w.dispose();
  const shapes = {
    'scan forward': `b${batch} d${dim} l${seqlen} n${dstate}`,
    'scan forward+backward': `b${batch} d${dim} l${seqlen} n${dstate}`,
    'matmul in_proj': `${batch * seqlen}x${dModel}x${2 * dim}`,
  };
  return out.map((r) => ({ ...r, shape: shapes[r.name], backend: label }));
}

let gpu;
try {
  gpu = await createWebGpuBackend();
} catch (err) {
  // Without an adapter there is nothing to measure; CI (which must have one) fails instead.
  console.error(`webgpu bench skipped: ${err.message}`);
  process.exit(process.env.STATETUNE_REQUIRE_WEBGPU === '1' ? 1 : 0);
}
const started = performance.now();
const gpuRows = await suite(gpu, 'webgpu');
const cpuRows = withCpu ? await suite(new CpuBackend(), 'cpu') : [];
const rows = [];
for (const r of gpuRows) {
  const c = cpuRows.find((q) => q.name === r.name);
  rows.push({ ...r, ratio: c ? c.ms / r.ms : undefined });
  if (c) rows.push(c);
}
report('webgpu', rows, {
  adapter: gpu.adapter,
  features: [...gpu.features],
  maxStorageBufferBindingSize: gpu.device.limits.maxStorageBufferBindingSize,
  cpu: cpus()[0]?.model,
  quick,
  ratio: 'cpu ms / webgpu ms',
  seconds: (performance.now() - started) / 1000,
});
gpu.destroy();
setCpuThreads(1);
shutdownCpuWorkers();
