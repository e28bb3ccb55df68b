import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadMamba } from '@statetune/mamba/node';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';

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
          '3',
          '--task.max_train_examples',
          '12',
          '--task.max_eval_examples',
          '6',
          '--eval.every_steps',
          '3',
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
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(metrics.length).toBeGreaterThan(0);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
