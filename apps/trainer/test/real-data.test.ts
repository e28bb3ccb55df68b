import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRunConfig } from '../src/config/load.js';
import { runTraining } from '../src/run/train.js';
import { tempDir, tinyModel, writeRunConfig } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
// The shared data folder sits beside the repository (CI has it); STATETUNE_DATA overrides.
const data = process.env.STATETUNE_DATA ?? resolve(here, '../../../../shared/data');
const sst2 = join(data, 'glue', 'SST-2');
const present = existsSync(join(sst2, 'train.tsv'));

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  await tinyModel(dir);
});
afterAll(() => cleanup());

describe.skipIf(!present)(`real SST-2 (${sst2})`, () => {
  it('reads the GLUE folder and runs epochs * ceil(N / batch) steps with an evaluation per epoch', async () => {
    const file = await writeRunConfig(dir, {
      task: {
        name: 'sst2',
        train: sst2,
        validation: join(sst2, 'dev.tsv'),
        max_train_examples: 10,
        max_eval_examples: 8,
      },
      train: { epochs: 2, max_steps: null, batch_size: 4 },
      eval: { every_steps: null },
      output_dir: 'sst2',
    });
    const result = await runTraining(await loadRunConfig(file), {
      log: () => {},
      progress: 'none',
    });
    // ceil(10 / 4) = 3 steps per epoch in the paper's count; drop_last makes an epoch 2 batches.
    expect(result.maxSteps).toBe(6);
    expect(result.history.map((h) => h.step)).toEqual([0, 3, 6]);
    expect(result.history[0].metrics).toHaveProperty('accuracy');
    expect(result.history[0].metrics.eval_loss).toBeGreaterThan(0);
  });
});
