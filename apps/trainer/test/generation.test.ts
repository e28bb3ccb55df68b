import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRunConfig } from '../src/config/load.js';
import { runTraining } from '../src/run/train.js';
import { tempDir, tinyModel, writeRunConfig } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  await tinyModel(dir);
  const dialogues = Array.from({ length: 6 }, (_, i) => ({
    id: `d${i}`,
    dialogue: `Ann: hi ${i}\nBob: bye`,
    summary: `Ann and Bob talk ${i}.`,
  }));
  await writeFile(join(dir, 'samsum.json'), JSON.stringify(dialogues));
});
afterAll(() => cleanup());

describe('generation tasks', () => {
  it('trains on SAMSum-style data and evaluates by generation with the task metrics', async () => {
    const file = await writeRunConfig(dir, {
      task: {
        name: 'samsum',
        train: 'samsum.json',
        validation: 'samsum.json',
        max_eval_examples: 3,
      },
      train: { max_steps: 2, batch_size: 2 },
      eval: { every_steps: 2, batch_size: 2 },
      generation: { num_beams: 2, max_new_tokens: 4 },
      output_dir: 'gen',
    });
    const result = await runTraining(await loadRunConfig(file), {
      log: () => {},
      progress: 'none',
    });
    expect(result.status).toBe('completed');
    expect(result.history.map((h) => h.step)).toEqual([0, 2]);
    for (const h of result.history) {
      expect(Object.keys(h.metrics).sort()).toEqual(['rouge1', 'rouge2', 'rougeL', 'rougeLsum']);
    }
    expect(result.best?.metric).toBe('rouge1');
    const md = await readFile(join(dir, 'gen', 'report.md'), 'utf8');
    expect(md).toContain('## Sample predictions');
    expect(md).toContain('reference: `Ann and Bob talk 0.`');
  });
});
