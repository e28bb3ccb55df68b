#!/usr/bin/env node
// Writes apps/trainer/configs/paper/<dataset>/<method>.yaml: one run config for every
// experiment of the State-offset Tuning paper (every dataset x every method), from the tables
// below. The grid is data: edit the tables and rerun, never the generated files.
//
//   node apps/trainer/scripts/make-paper-configs.mjs [output folder]
//
// Paths inside the configs are relative to the config file (apps/trainer/configs/paper/<dataset>/):
// checkpoints in apps/trainer/models/<name>/ and datasets in apps/trainer/data/<dataset>/, both
// downloaded by the user (see configs/paper/README.md); runs go to apps/trainer/runs/paper/.
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const out = process.argv[2] ?? 'apps/trainer/configs/paper';
const ROOT = '../../..'; // from configs/paper/<dataset>/ to apps/trainer/

// Datasets: model, task, epochs, evaluation split, data paths (relative to apps/trainer/),
// whether evaluation generates text. Sources: the paper code's cfg/final/exps/** (PAPER.md §4, §5).
const DATASETS = [
  glue('rte', 'RTE', 10),
  glue('mrpc', 'MRPC', 10),
  glue('cola', 'CoLA', 10),
  glue('sst2', 'SST-2', 10),
  glue('qnli', 'QNLI', 10),
  glue('qqp', 'QQP', 3),
  glue(
    'mnli',
    'MNLI',
    3,
    'validation = matched + mismatched dev sets (9,815 + 9,832), as the paper',
  ),
  {
    id: 'dart',
    model: 'mamba-130m',
    task: {
      name: 'dart',
      train: 'data/dart/dart-v1.1.1-full-train.json',
      validation: 'data/dart/dart-v1.1.1-full-dev.json',
      test: 'data/dart/dart-v1.1.1-full-test.json',
    },
    epochs: 10,
    split: 'validation',
    generation: true,
  },
  {
    id: 'samsum',
    model: 'mamba-1.4b',
    task: {
      name: 'samsum',
      train: 'data/samsum/train.json',
      validation: 'data/samsum/val.json',
      test: 'data/samsum/test.json',
    },
    epochs: 10,
    split: 'test',
    note: 'the paper evaluates SAMSum on the test split (val_data_split: test)',
    generation: true,
  },
  {
    id: 'spider',
    model: 'mamba-1.4b',
    task: {
      name: 'spider',
      train: 'data/spider/train_spider.json',
      validation: 'data/spider/dev.json',
      spider_tables: 'data/spider/tables.json',
      spider_db: 'data/spider/database',
      max_length: 1536,
    },
    epochs: 10,
    split: 'validation',
    note: 'examples longer than 1536 tokens (input + label) are dropped from train and validation, as the paper',
    generation: true,
  },
];

function glue(id, folder, epochs, note) {
  return {
    id,
    model: 'mamba-130m',
    task: { name: id, train: `data/glue/${folder}`, validation: `data/glue/${folder}` },
    epochs,
    split: 'validation',
    note,
    generation: false,
  };
}

// Methods: the PEFT config, and where its hyperparameters come from.
const METHODS = {
  'state-offset-h': {
    title: 'State-offset Tuning (h)',
    peft: { peft_type: 'STATE_OFFSET_TUNING', variant: 'h' },
  },
  'state-offset-y': {
    title: 'State-offset Tuning (y)',
    peft: { peft_type: 'STATE_OFFSET_TUNING', variant: 'y' },
  },
  'initial-state': {
    title: 'Initial State Tuning',
    peft: { peft_type: 'INITIAL_STATE_TUNING', init: 'zero' },
  },
  lora: {
    title: 'LoRA on the SSM projections (r 8, alpha 8, dropout 0.1)',
    peft: {
      peft_type: 'LORA',
      r: 8,
      lora_alpha: 8,
      lora_dropout: 0.1,
      target_modules: ['x_proj_dt', 'x_proj_B', 'x_proj_C', 'dt_proj'],
    },
  },
  'additional-scan': {
    title: 'Additional-scan (+8 states; A_log extension initialised as the paper code does)',
    peft: { peft_type: 'ADDITIONAL_SCAN', d_state: 8, a_log_init: 'paper' },
  },
  bitfit: {
    title: 'BitFit (conv1d and dt_proj biases, as the companion code)',
    peft: { peft_type: 'BITFIT', target_modules: ['conv1d', 'dt_proj'] },
  },
  'prompt-tuning': {
    title: 'Prompt tuning',
    peft: { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 16, prompt_tuning_init: 'RANDOM' },
    guess: 'the paper gives no prompt-tuning settings: 16 virtual tokens, random init',
  },
  'prefix-tuning': {
    title: "Prefix tuning (SSM variant: trained inputs before every layer's scan)",
    peft: { peft_type: 'PREFIX_TUNING', num_virtual_tokens: 16, prefix_projection: false },
    guess: 'the paper gives no prefix-tuning settings: 16 virtual inputs, no MLP reparametrisation',
  },
  full: {
    title: 'Full fine-tuning',
    peft: { peft_type: 'FULL_FINETUNING' },
  },
};

// Learning rate and batch size per dataset and method. [lr, batch] or lr (batch 4).
// The five methods of the paper's table come from cfg/final/exps/** (PAPER.md §4). The
// others are marked in GUESSED below when the sources give no value.
const LR = {
  rte: { h: 1e-3, y: 1e-3, init: 4e-4, lora: 2e-3, scan: 4e-3 },
  mrpc: { h: 2e-4, y: 2e-3, init: 1e-3, lora: 2e-3, scan: 2e-3 },
  cola: { h: 2e-4, y: 1e-3, init: 2e-3, lora: 4e-5, scan: 2e-3 },
  sst2: { h: 1e-4, y: 1e-3, init: 2e-3, lora: 2e-3, scan: 1e-1 },
  qnli: { h: 1e-4, y: 2e-3, init: 2e-3, lora: 1e-3, scan: 2e-3 },
  qqp: { h: 4e-5, y: 1e-3, init: 2e-3, lora: 1e-3, scan: 4e-2 },
  mnli: { h: 4e-4, y: 1e-3, init: 2e-3, lora: 2e-3, scan: 4e-3 },
  dart: { h: 4e-4, y: 4e-3, init: 2e-3, lora: 4e-3, scan: 4e-3 },
  samsum: { h: 1e-4, y: 1e-3, init: [2e-4, 2], lora: 2e-3, scan: 4e-3 },
  spider: { h: 2e-4, y: 2e-3, init: [1e-3, 2], lora: 4e-3, scan: 4e-3 },
};
// BitFit (PAPER.md §2.8, companion repo): 2e-3 for RTE and SAMSum, 4e-3 for Spider.
const BITFIT = { rte: 2e-3, samsum: 2e-3, spider: 4e-3 };
// Full fine-tuning (PAPER.md §2.10, companion configs): 1e-4 RTE, 4e-4 DART, 4e-5 on 1.4b.
const FULL = { rte: 1e-4, dart: 4e-4, samsum: 4e-5, spider: 4e-5 };

const KEY = {
  'state-offset-h': 'h',
  'state-offset-y': 'y',
  'initial-state': 'init',
  lora: 'lora',
  'additional-scan': 'scan',
};

function hyper(dataset, method) {
  const key = KEY[method];
  if (key) {
    const v = LR[dataset.id][key];
    return { lr: Array.isArray(v) ? v[0] : v, batch: Array.isArray(v) ? v[1] : 4, source: 'paper' };
  }
  if (method === 'bitfit') {
    const lr = BITFIT[dataset.id];
    if (lr !== undefined) return { lr, batch: 4, source: 'companion repo (PAPER.md 2.8)' };
    return { lr: 2e-3, batch: 4, guess: 'lr 2e-3 as the companion code uses for RTE and SAMSum' };
  }
  if (method === 'full') {
    const lr = FULL[dataset.id];
    if (lr !== undefined) return { lr, batch: 4, source: 'companion configs (PAPER.md 2.10)' };
    const base = dataset.model === 'mamba-1.4b' ? 4e-5 : 1e-4;
    return {
      lr: base,
      batch: 4,
      guess: `lr ${base} as the companion configs use for this model size`,
    };
  }
  if (method === 'prompt-tuning') {
    return { lr: 1e-2, batch: 4, guess: 'lr 1e-2 (prompt embeddings usually need a large lr)' };
  }
  return { lr: 1e-3, batch: 4, guess: 'lr 1e-3' };
}

function fmtNum(x) {
  return x >= 0.01 && x < 1000
    ? String(x)
    : x.toExponential().replace('e-', 'e-').replace(/\.0e/, 'e');
}

function yamlValue(v) {
  if (Array.isArray(v)) return `[${v.map(yamlValue).join(', ')}]`;
  if (typeof v === 'string')
    return /^[\w./-]+$/.test(v) && !/^(true|false|null|yes|no)$/i.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : fmtNum(v);
  return String(v);
}

function render(dataset, method) {
  const m = METHODS[method];
  const h = hyper(dataset, method);
  const lines = [];
  lines.push(
    `# ${m.title} on ${dataset.id} with ${dataset.model}: one experiment of the State-offset Tuning paper.`,
  );
  lines.push(
    '# Generated by apps/trainer/scripts/make-paper-configs.mjs; edit that script, not this file.',
  );
  lines.push(
    `# Run from the repository root: statetune train --config apps/trainer/configs/paper/${dataset.id}/${method}.yaml`,
  );
  lines.push(
    '# Paths are relative to this file; download the checkpoint and data first (configs/paper/README.md).',
  );
  lines.push(
    '# Shared by every paper config: AdamW (0.9, 0.999, eps 1e-8), weight decay 0, linear decay to 0',
  );
  lines.push(
    '# without warmup, clip 1.0, seed 42, drop_last, evaluation once per epoch with batch 1. The paper',
  );
  lines.push('# trains in bf16; statetune trains in float32.');
  if (h.source && h.source !== 'paper') lines.push(`# Learning rate from the ${h.source}.`);
  if (h.guess) lines.push(`# GUESSED (not in the paper or its code): ${h.guess}.`);
  if (m.guess) lines.push(`# GUESSED (not in the paper or its code): ${m.guess}.`);
  if (dataset.note) lines.push(`# Note: ${dataset.note}.`);
  lines.push(`model: ${ROOT}/models/${dataset.model}`);
  lines.push(
    `tokenizer: ${ROOT}/models/${dataset.model}/tokenizer.json # GPT-NeoX (EleutherAI/gpt-neox-20b)`,
  );
  lines.push('task:');
  for (const [k, v] of Object.entries(dataset.task)) {
    const value = typeof v === 'string' && k !== 'name' ? `${ROOT}/${v}` : v;
    lines.push(`  ${k}: ${yamlValue(value)}`);
  }
  lines.push('peft:');
  for (const [k, v] of Object.entries(m.peft)) lines.push(`  ${k}: ${yamlValue(v)}`);
  lines.push('train:');
  lines.push(`  learning_rate: ${fmtNum(h.lr)}`);
  lines.push(`  batch_size: ${h.batch}`);
  lines.push(`  epochs: ${dataset.epochs}`);
  lines.push('  schedule: linear');
  lines.push('  warmup_steps: 0');
  lines.push('  weight_decay: 0');
  lines.push('  adam_beta1: 0.9');
  lines.push('  adam_beta2: 0.999');
  lines.push('  adam_epsilon: 1.0e-8');
  lines.push('  max_grad_norm: 1');
  lines.push('  seed: 42');
  lines.push('  drop_last: true');
  lines.push('eval:');
  lines.push(`  split: ${dataset.split}`);
  lines.push('  before_training: false');
  lines.push('  batch_size: 1');
  if (dataset.generation) {
    lines.push('generation:');
    lines.push('  num_beams: 5');
    lines.push('  max_new_tokens: 1024');
    lines.push(
      '  min_new_tokens: 0 # the paper sets min_length 5, but it counts the prompt, so it never acts',
    );
    lines.push('  length_penalty: 1');
    lines.push('  do_sample: false');
    if (dataset.id === 'spider') {
      lines.push(
        '  # The paper generates during evaluation only for Additional-scan; the decoding of the',
      );
      lines.push('  # other methods is assumed to be the same (UNCONFIRMED).');
    }
  }
  lines.push(`output_dir: ${ROOT}/runs/paper/${dataset.id}/${method}`);
  return `${lines.join('\n')}\n`;
}

// Remove previously generated dataset folders, so that a renamed method leaves nothing behind.
try {
  for (const name of readdirSync(out)) {
    const p = join(out, name);
    if (statSync(p).isDirectory()) rmSync(p, { recursive: true });
  }
} catch {
  // first run: nothing to remove
}
let n = 0;
for (const dataset of DATASETS) {
  mkdirSync(join(out, dataset.id), { recursive: true });
  for (const method of Object.keys(METHODS)) {
    writeFileSync(join(out, dataset.id, `${method}.yaml`), render(dataset, method));
    n++;
  }
}
console.log(`wrote ${n} configs under ${out}`);
