// Benchmarks of the tensor core on the CPU backend: matmul GFLOP/s at 512, 1024 and 2048 and
// the selective scan at a Mamba-130m layer shape. When Debian's python3-torch is installed,
// the same matmuls run in PyTorch side by side, and the table reports our time / theirs.
import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { matmul, noGrad, randn, selectiveScan, tidy } from '@statetune/tensor';
import { measure, report } from '../../../bench/harness.mjs';

const rows = [];
const threads = availableParallelism();

function torchMatmulMs(n) {
  const code = `
import json, time, torch
torch.set_num_threads(${threads})
a = torch.randn(${n}, ${n}); b = torch.randn(${n}, ${n})
for _ in range(2): a @ b
ts = []
t0 = time.perf_counter()
while len(ts) < 5 or time.perf_counter() - t0 < 0.3:
    s = time.perf_counter(); a @ b; ts.append((time.perf_counter() - s) * 1000)
ts.sort(); print(json.dumps(ts[len(ts) // 2]))`;
  const r = spawnSync(torchPython, ['-c', code], { encoding: 'utf8', timeout: 120_000 });
  return r.status === 0 ? Number(r.stdout.trim()) : null;
}

// Debian's python3-torch installs for the system interpreter, which may not be first on PATH.
const torchPython = ['python3', '/usr/bin/python3'].find(
  (py) => spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0,
);
const torchAvailable = torchPython !== undefined;

for (const n of [512, 1024, 2048]) {
  const a = randn([n, n]);
  const b = randn([n, n]);
  const { median } = await measure(() => tidy(() => void matmul(a, b)), {
    repeats: n >= 2048 ? 3 : 5,
  });
  const gflops = (2 * n ** 3) / (median * 1e6);
  const torchMs = torchAvailable ? torchMatmulMs(n) : null;
  rows.push({
    name: 'matmul',
    shape: `${n}x${n}x${n}`,
    backend: 'cpu',
    ms: median,
    throughput: gflops,
    unit: 'GFLOP/s',
    ratio: torchMs ? median / torchMs : undefined,
  });
  if (torchMs) {
    rows.push({
      name: 'matmul',
      shape: `${n}x${n}x${n}`,
      backend: 'torch-cpu (reference)',
      ms: torchMs,
      throughput: (2 * n ** 3) / (torchMs * 1e6),
      unit: 'GFLOP/s',
      ratio: 1,
    });
  }
}

// Mamba-130m layer: batch 4, d_inner 1536, seqlen 256, d_state 16.
const [B, D, L, N] = [4, 1536, 256, 16];
const inputs = () => ({
  u: randn([B, D, L]),
  delta: randn([B, D, L], { std: 0.5 }),
  A: randn([D, N]).abs().neg(),
  B: randn([B, N, L]),
  C: randn([B, N, L]),
  D: randn([D]),
  z: randn([B, D, L]),
  deltaBias: randn([D], { std: 0.1 }),
  deltaSoftplus: true,
});
const shape = `b${B} d${D} l${L} n${N}`;
const states = B * D * L * N;
const x = inputs();
const fwd = await measure(() => tidy(() => void noGrad(() => selectiveScan(x))), { repeats: 3 });
rows.push({
  name: 'selective scan forward',
  shape,
  backend: 'cpu',
  ms: fwd.median,
  throughput: states / (fwd.median * 1e3),
  unit: 'Mstate-steps/s',
});
for (const k of ['u', 'delta', 'A', 'B', 'C', 'D', 'z', 'deltaBias']) x[k].requiresGrad = true;
const both = await measure(
  () =>
    tidy(() => {
      const { y } = selectiveScan(x);
      y.sum().backward();
      for (const k of ['u', 'delta', 'A', 'B', 'C', 'D', 'z', 'deltaBias']) {
        x[k].grad?.dispose();
        x[k].grad = null;
      }
    }),
  { repeats: 3 },
);
rows.push({
  name: 'selective scan forward+backward',
  shape,
  backend: 'cpu',
  ms: both.median,
  throughput: states / (both.median * 1e3),
  unit: 'Mstate-steps/s',
});
rows.push({
  name: 'selective scan backward (difference)',
  shape,
  backend: 'cpu',
  ms: both.median - fwd.median,
  throughput: states / ((both.median - fwd.median) * 1e3),
  unit: 'Mstate-steps/s',
});

report('tensor-cpu', rows, {
  cpu: cpus()[0]?.model,
  threads,
  torch: torchAvailable
    ? `PyTorch via ${torchPython}`
    : 'python3-torch not installed: no reference rows',
});
process.exit(0);
