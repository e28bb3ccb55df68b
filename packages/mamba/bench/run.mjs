// Benchmarks of the Mamba model at the mamba-130m shape (dModel 768, vocab 50280, random
// weights): training forward+backward tokens/s and generation tokens/s, on the CPU and on
// WebGPU when an adapter exists. A full 24-layer model is slow on a small machine, so by
// default the model has fewer layers and the table also reports the cost per layer and an
// estimate for 24 layers (head + 24 x layer), from runs with 1 and N layers.
//
//   node bench/run.mjs [--layers 2] [--seqlen 128] [--batch 1] [--new-tokens 16]
//                      [--gen-batch 1] [--backend cpu|webgpu|all]

import { generate, MambaForCausalLM, mambaConfig } from '@statetune/mamba';
import { Generator, noGrad, setBackend, tensor, tidy } from '@statetune/tensor';
import { measure, report } from '../../../bench/harness.mjs';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = process.argv[i + 1];
  return typeof fallback === 'number' ? Number(v) : v;
}

const layers = arg('layers', 2);
const seqlen = arg('seqlen', 128);
const batch = arg('batch', 1);
const newTokens = arg('new-tokens', 16);
const genBatch = arg('gen-batch', 1);
const which = arg('backend', 'all');
const FULL_LAYERS = 24;

const shape = (n) => ({
  dModel: 768,
  nLayer: n,
  vocabSize: 50280,
  dState: 16,
  dConv: 4,
  expand: 2,
});

async function backends() {
  const out = [];
  if (which === 'cpu' || which === 'all') out.push({ name: 'cpu', backend: 'cpu' });
  if (which === 'webgpu' || which === 'all') {
    try {
      const { createWebGpuBackend } = await import('@statetune/webgpu');
      out.push({ name: 'webgpu', backend: await createWebGpuBackend() });
    } catch (err) {
      console.warn(`webgpu skipped: ${err.message}`);
    }
  }
  return out;
}

function ids(rows, len, seed) {
  let x = seed;
  const data = new Int32Array(rows * len);
  for (let i = 0; i < data.length; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    data[i] = x % 50277;
  }
  return data;
}

async function trainMs(model) {
  const inputIds = tensor(ids(batch, seqlen, 1), { shape: [batch, seqlen], dtype: 'int32' });
  const labels = tensor(ids(batch, seqlen, 2), { shape: [batch, seqlen], dtype: 'int32' });
  const { median, samples } = await measure(
    async () => {
      const loss = tidy(() => {
        const { loss } = model.forward({ inputIds, labels });
        loss.backward();
        return loss;
      });
      await loss.data();
      loss.dispose();
      model.zeroGrad();
    },
    { warmup: 1, repeats: 3, minMs: 0 },
  );
  return { median, best: Math.min(...samples) };
}

async function generateMs(model) {
  const prompts = Array.from({ length: genBatch }, (_, i) => Array.from(ids(1, 16, 10 + i)));
  const { median, samples } = await measure(
    () => generate(model, prompts, { maxNewTokens: newTokens, eosTokenId: null }),
    { warmup: 1, repeats: 3, minMs: 0 },
  );
  return { median, best: Math.min(...samples) };
}

const rows = [];
for (const { name, backend } of await backends()) {
  try {
    await runOn(name, backend);
  } catch (err) {
    // A backend that lacks an op (a build without the scan kernel) skips with the reason.
    console.warn(`${name} skipped: ${err.message}`);
  }
}
await setBackend('cpu');
report('mamba', rows, { layers, seqlen, batch, newTokens, genBatch });

/** Random weights made on the CPU (the same on every backend), then copied to `backend`. */
async function makeModel(n, backend) {
  await setBackend('cpu');
  const config = mambaConfig(shape(n));
  const cpuModel = new MambaForCausalLM(config, { generator: new Generator(0) });
  await setBackend(backend);
  if (backend === 'cpu') return cpuModel;
  const model = new MambaForCausalLM(config, { init: 'none' });
  model.loadStateDict(cpuModel.stateDict());
  return model;
}

async function runOn(name, backend) {
  const timings = {};
  for (const n of layers > 1 ? [1, layers] : [1]) {
    const model = await makeModel(n, backend);
    const train = await trainMs(model);
    const gen = await noGrad(() => generateMs(model));
    timings[n] = { train, gen };
    rows.push({
      name: 'forward+backward',
      shape: `${n} layers, ${batch}x${seqlen}`,
      backend: name,
      ms: train.median,
      throughput: (batch * seqlen) / (train.median / 1000),
      unit: 'tokens/s',
    });
    rows.push({
      name: 'generate (prefill 16 + greedy)',
      shape: `${n} layers, ${genBatch}x${newTokens} new`,
      backend: name,
      ms: gen.median,
      throughput: (genBatch * newTokens) / (gen.median / 1000),
      unit: 'tokens/s',
    });
    model.dispose();
  }
  if (layers > 1) {
    // Differences of the fastest runs: the medians of a shared machine are too noisy.
    const per = (k) => (timings[layers][k].best - timings[1][k].best) / (layers - 1);
    const head = (k) => Math.max(0, timings[1][k].best - per(k));
    for (const [k, label, tokens] of [
      ['train', 'forward+backward', batch * seqlen],
      ['gen', 'generate (prefill 16 + greedy)', genBatch * newTokens],
    ]) {
      if (!(per(k) > 0)) {
        console.warn(`${name} ${label}: timings too noisy for a per-layer estimate`);
        continue;
      }
      rows.push({ name: `${label}, per layer`, shape: '1 layer', backend: name, ms: per(k) });
      const est = head(k) + FULL_LAYERS * per(k);
      rows.push({
        name: `${label}, estimate`,
        shape: `${FULL_LAYERS} layers (mamba-130m)`,
        backend: name,
        ms: est,
        throughput: tokens / (est / 1000),
        unit: 'tokens/s',
      });
    }
  }
}
