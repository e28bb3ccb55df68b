// Benchmarks of the tensor core on the CPU backend: matmul GFLOP/s at 512, 1024 and 2048,
// the decoding shapes of Mamba-130m (few rows times a weight used transposed) on the skinny
// path against the packed path, the selective scan at a Mamba-130m layer shape, and a
// normal draw the size of the 50280 x 768 embedding. When Debian's python3-torch is
// installed, the square matmuls run in PyTorch side by side, and the table reports our time
// / theirs; the decoding rows report skinny time / packed time.
import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Embedding, linear, matmul, noGrad, randn, selectiveScan, tidy } from '@statetune/tensor';
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

/**
 * The CPU matmul module built from the sources, for its internal switch between the skinny
 * and the packed path (the public API always takes the skinny one for few rows). Null when
 * esbuild is not installed.
 */
async function matmulInternals() {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    return null;
  }
  const entry = fileURLToPath(new URL('../src/cpu/matmul.ts', import.meta.url));
  const built = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'node',
    write: false,
    logLevel: 'error',
  });
  const code = built.outputFiles[0].text;
  return import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
}

// Decoding, one token per sequence: x (m, k) @ W^T with W (n, k) as Linear stores it; the
// tied 50280 x 768 head and Mamba-130m's in_proj (3072 x 768) at batch 4.
const internals = await matmulInternals();
for (const [m, n, k] of [
  [1, 50280, 768],
  [4, 3072, 768],
]) {
  const shape = `[${m},${k}] x [${n},${k}]^T`;
  const flops = 2 * m * n * k;
  const x = randn([m, k]);
  const w = randn([n, k]);
  const api = await measure(() => tidy(() => void noGrad(() => linear(x, w, null))), {
    repeats: 10,
  });
  rows.push({
    name: 'linear (decode)',
    shape,
    backend: 'cpu',
    ms: api.median,
    throughput: flops / (api.median * 1e6),
    unit: 'GFLOP/s',
  });
  if (internals === null) continue;
  const a = new Float32Array(x.dataSync());
  const b = new Float32Array(w.dataSync());
  const out = new Float32Array(m * n);
  const call = () => internals.matmulF32(out, 0, a, [0], false, b, [0], true, m, n, k);
  const time = async (mode) => {
    internals.setSkinnyMatmul(mode);
    const { median } = await measure(call, { repeats: 10 });
    internals.setSkinnyMatmul('auto');
    return median;
  };
  const packed = await time('off');
  const skinny = await time('always');
  rows.push({
    name: 'matmulF32 skinny path',
    shape,
    backend: 'cpu',
    ms: skinny,
    throughput: flops / (skinny * 1e6),
    unit: 'GFLOP/s',
    ratio: skinny / packed,
  });
  rows.push({
    name: 'matmulF32 packed path (before)',
    shape,
    backend: 'cpu',
    ms: packed,
    throughput: flops / (packed * 1e6),
    unit: 'GFLOP/s',
    ratio: 1,
  });
}

// Loading: the default (random) initialisation of the 50280 x 768 table against init: 'zeros'.
for (const init of ['default', 'zeros']) {
  const { median } = await measure(
    () => void new Embedding(50280, 768, { init }).weight.dispose(),
    {
      warmup: 0,
      repeats: init === 'zeros' ? 5 : 1,
      minMs: 0,
    },
  );
  rows.push({
    name: `Embedding init: '${init}'`,
    shape: '50280x768',
    backend: 'cpu',
    ms: median,
    throughput: (50280 * 768) / (median * 1e3),
    unit: 'Mvalues/s',
  });
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
