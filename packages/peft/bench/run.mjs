// Benchmarks of the PEFT methods on a Mamba of the mamba-130m width (dModel 768, random
// weights, few layers): the cost of a training step (forward + backward) with each method
// next to plain full fine-tuning, and the cost of a batch whose sequences each use a
// different state-offset adapter next to the same batch with one adapter, side by side in
// one run (ratios, since shared machines are noisy).
//
//   node bench/run.mjs [--layers 2] [--seqlen 128] [--batch 4] [--backend cpu|webgpu|all]

import { MambaForCausalLM, mambaConfig } from '@statetune/mamba';
import { getPeftModel } from '@statetune/peft';
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
const batch = arg('batch', 4);
const which = arg('backend', 'cpu');

const config = mambaConfig({ dModel: 768, nLayer: layers, vocabSize: 50280, dState: 16 });

/** The methods at the paper's settings (PAPER.md section 2). */
const METHODS = [
  ['full fine-tuning', { peft_type: 'FULL_FINETUNING' }],
  ['state offset (h)', { peft_type: 'STATE_OFFSET_TUNING', variant: 'h', init: 'random' }],
  ['state offset (y)', { peft_type: 'STATE_OFFSET_TUNING', variant: 'y', init: 'random' }],
  ['initial state', { peft_type: 'INITIAL_STATE_TUNING', init: 'random' }],
  ['LoRA r=8 (SSM projections)', { peft_type: 'LORA', r: 8 }],
  ['additional-scan +8', { peft_type: 'ADDITIONAL_SCAN', d_state: 8 }],
  ['BitFit', { peft_type: 'BITFIT' }],
  ['prompt tuning 16', { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 16 }],
  ['prefix tuning 16', { peft_type: 'PREFIX_TUNING', num_virtual_tokens: 16 }],
];

/** Token ids from a small linear congruential stream (any ids do for timing). */
function ids(rows, seed) {
  const values = new Int32Array(rows * seqlen);
  let s = seed;
  for (let i = 0; i < values.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    values[i] = s % 50000;
  }
  return tensor(values, { shape: [rows, seqlen], dtype: 'int32' });
}

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

const rows = [];
const shape = `b${batch} l${seqlen} d768 x${layers} layers`;
for (const { name, backend } of await backends()) {
  await setBackend(backend);
  const inputIds = ids(batch, 1);
  const tokens = batch * seqlen;

  // Training steps: forward + backward through each method.
  let baseMs = null;
  for (const [label, peftConfig] of METHODS) {
    const model = new MambaForCausalLM(config, { generator: new Generator(0) });
    const peft = getPeftModel(model, peftConfig);
    const step = async () => {
      const loss = tidy(() => {
        const { loss } = peft.forward({ inputIds, labels: inputIds });
        loss.backward();
        return loss;
      });
      await loss.data();
      loss.dispose();
      peft.zeroGrad();
    };
    const { median } = await measure(step, { warmup: 1, repeats: 3, minMs: 200 });
    baseMs ??= median;
    rows.push({
      name: `train step: ${label}`,
      shape,
      backend: name,
      ms: median,
      throughput: tokens / (median / 1000),
      unit: 'tokens/s',
      ratio: median / baseMs,
    });
  }

  // Inference: one adapter for the whole batch vs a different adapter per sequence.
  const model = new MambaForCausalLM(config, { generator: new Generator(0) });
  const peft = getPeftModel(
    model,
    { peft_type: 'STATE_OFFSET_TUNING', init: 'random' },
    {
      adapterName: 'a0',
    },
  );
  const names = ['a0'];
  for (let i = 1; i < batch; i++) {
    peft.addAdapter(
      { peft_type: 'STATE_OFFSET_TUNING', init: 'random' },
      { adapterName: `a${i}`, generator: new Generator(i) },
    );
    names.push(`a${i}`);
  }
  const forward = (adapterNames) => async () => {
    const logits = noGrad(() =>
      tidy(() => peft.forward({ inputIds, adapterNames, lastLogitsOnly: true }).logits),
    );
    await logits.data();
    logits.dispose();
  };
  const single = await measure(forward(null), { warmup: 1, repeats: 3, minMs: 200 });
  const mixed = await measure(forward(names), { warmup: 1, repeats: 3, minMs: 200 });
  for (const [label, r] of [
    ['forward: one state-offset adapter', single],
    [`forward: ${batch} state-offset adapters, one per sequence`, mixed],
  ]) {
    rows.push({
      name: label,
      shape,
      backend: name,
      ms: r.median,
      throughput: tokens / (r.median / 1000),
      unit: 'tokens/s',
      ratio: r.median / single.median,
    });
  }
}

report('peft', rows, {
  layers,
  seqlen,
  batch,
  note: 'ratio: vs full fine-tuning (train) or one adapter (forward)',
});
