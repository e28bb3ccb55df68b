import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadMamba } from '@statetune/mamba/node';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { loadRunConfig } from '../src/config/load.js';

const app = join(dirname(fileURLToPath(import.meta.url)), '..');
const modelDir = join(app, 'models', 'default');
const defaultConfig = join(app, 'configs', 'default.yaml');

describe('the bundled default model', () => {
  it('exists, is at most 15 MB, loads, and records how it was made', async () => {
    const size = (await stat(join(modelDir, 'model.safetensors'))).size;
    expect(size).toBeLessThanOrEqual(15 * 1024 * 1024);
    const model = await loadMamba(modelDir);
    expect(model.config.vocabSize).toBe(264); // byte tokenizer: EOS + 256 bytes, padded to 8
    expect(model.config.eosTokenId).toBe(0);

    const record = JSON.parse(await readFile(join(modelDir, 'pretrain.json'), 'utf8'));
    expect(record.command).toMatch(/^statetune pretrain /);
    expect(record.command).toContain('../shared/data/corpus/');
    for (const entry of record.data) expect(isAbsolute(entry.path), entry.path).toBe(false);
    expect(record.tokenizer).toBe('byte');
    expect(record.parameters).toBe(model.numParameters());
    expect(record.final_val_loss).toBeLessThan(record.initial_val_loss);
  });
});

describe('configs/default.yaml', () => {
  it('is State-offset Tuning (h) on the bundled DART subset', async () => {
    const config = await loadRunConfig(defaultConfig, {});
    expect(config.task.name).toBe('dart');
    expect(config.peft).toMatchObject({ peft_type: 'STATE_OFFSET_TUNING', variant: 'h' });
    expect(config.eval.before_training).toBe(true);
    expect(config.generation.num_beams).toBe(1);
    for (const split of [config.task.train, config.task.validation]) {
      expect(split && existsSync(split), String(split)).toBe(true);
    }
    // The held-out triple sets are never trained on.
    const linearize = (ts: string[][]) => ts.map((t) => t.join(' : ')).join(' | ');
    const read = async (p: string | null) =>
      JSON.parse(await readFile(String(p), 'utf8')) as { tripleset: string[][] }[];
    const train = new Set((await read(config.task.train)).map((r) => linearize(r.tripleset)));
    const heldout = await read(config.task.validation);
    expect(heldout.length).toBeGreaterThanOrEqual(60);
    for (const r of heldout) expect(train.has(linearize(r.tripleset))).toBe(false);
  });

  it('trains through `statetune train` end to end (a few steps)', async () => {
    const out = await mkdtemp(join(tmpdir(), 'statetune-default-run-'));
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
    try {
      const code = await runCli(
        [
          'train',
          '--config',
          defaultConfig,
          '--max-steps',
          '2',
          '--batch-size',
          '2',
          '--task.max_train_examples',
          '8',
          '--task.max_eval_examples',
          '2',
          '--eval.every_steps',
          '2',
          '--generation.max_new_tokens',
          '8',
          '--output_dir',
          out,
          '--progress',
          'none',
        ],
        io,
      );
      expect(code, lines.join('\n')).toBe(0);
      expect(existsSync(join(out, 'metrics.jsonl'))).toBe(true);
      expect(existsSync(join(out, 'report.md'))).toBe(true);
      const metrics = (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type?: string; step?: number; metrics?: object });
      const evals = metrics.filter((m) => m.type === 'eval');
      expect(evals.map((m) => m.step)).toEqual([0, 2]);
      for (const e of evals) expect(Object.keys(e.metrics ?? {})).toEqual(['bleu', 'meteor']);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
