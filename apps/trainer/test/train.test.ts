import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/errors.js';
import { loadRunConfig } from '../src/config/load.js';
import { readMetricsLog } from '../src/run/metrics-log.js';
import { runTraining } from '../src/run/train.js';
import { tempDir, tinyModel, tinySst2, writeRunConfig } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  await tinyModel(dir);
  await tinySst2(dir);
});
afterAll(() => cleanup());

describe('statetune train', () => {
  it('trains end to end and writes metrics, checkpoints, best/, the adapter and the report', async () => {
    const file = await writeRunConfig(dir);
    const config = await loadRunConfig(file);
    const lines: string[] = [];
    const result = await runTraining(config, { log: (l) => lines.push(l), progress: 'none' });
    expect(result.status).toBe('completed');
    expect(result.exitCode).toBe(0);
    expect(result.step).toBe(6);
    const out = join(dir, 'out');
    const files = await readdir(out);
    for (const f of [
      'metrics.jsonl',
      'report.md',
      'report.html',
      'adapter',
      'best',
      'checkpoints',
      'run_config.yaml',
    ]) {
      expect(files).toContain(f);
    }
    expect(await readdir(join(out, 'adapter'))).toEqual(
      expect.arrayContaining(['adapter_config.json', 'adapter_model.safetensors']),
    );
    expect(await readdir(join(out, 'checkpoints'))).toEqual([
      'step-000000',
      'step-000003',
      'step-000006',
    ]);
    const events = await readMetricsLog(join(out, 'metrics.jsonl'));
    const evals = events.filter((e) => e.type === 'eval');
    expect(evals.map((e) => e.step)).toEqual([0, 3, 6]);
    expect(evals[0].type === 'eval' && typeof evals[0].metrics.accuracy).toBe('number');
    const trains = events.filter((e) => e.type === 'train');
    expect(trains.map((e) => e.step)).toEqual([2, 4, 6]);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('Training loss');
    const md = await readFile(join(out, 'report.md'), 'utf8');
    expect(md).toContain('| accuracy |');
    expect(md).toContain('STATE_OFFSET_TUNING');
    // The summary: parameter counts (d_inner 32 x d_state 4 x 2 layers for State-offset h), timings, config.
    expect(md).toMatch(/\| trainable parameters \| 256 of [\d,]+ \(/);
    expect(md).toMatch(/\| steps \| 6 of 6 \|/);
    expect(md).toMatch(/\| training time \| [\d.]+s \(/);
    expect(md).toContain('## Config');
    expect(md).toContain('learning_rate: 0.01');
    // best/ is the evaluation with the highest accuracy, ties going to the lower eval_loss.
    const ranked = [...result.history].sort(
      (x, y) =>
        y.metrics.accuracy - x.metrics.accuracy || x.metrics.eval_loss - y.metrics.eval_loss,
    );
    const best = JSON.parse(await readFile(join(out, 'best', 'best.json'), 'utf8'));
    expect(best.step).toBe(ranked[0].step);
    expect(result.best?.step).toBe(ranked[0].step);
    expect(await readdir(join(out, 'best'))).toEqual(
      expect.arrayContaining(['adapter_config.json', 'adapter_model.safetensors']),
    );
    expect(lines.join('\n')).toMatch(/metric\s+before \(step 0\)\s+after \(step 6\)/);
    // The paper's schedule by default: no warmup, linear decay to 0 over the run (the rate of
    // step s is lr * (6 - (s - 1)) / 6).
    const state = JSON.parse(
      await readFile(join(out, 'checkpoints', 'step-000006', 'trainer_state.json'), 'utf8'),
    );
    expect(state.losses.map((l: { step: number }) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
    state.losses.forEach((l: { step: number; lr: number }) => {
      expect(l.lr).toBeCloseTo((0.01 * (7 - l.step)) / 6, 12);
    });
    expect(state.schedulerStep).toBe(6);
  });
});

describe('checkpoints', () => {
  it('train.save_total_limit keeps only the newest step checkpoints', async () => {
    const file = await writeRunConfig(
      dir,
      {
        train: { save_total_limit: 2, max_steps: 6 },
        eval: { every_steps: 2 },
        output_dir: 'limited',
      },
      'limited.yaml',
    );
    await runTraining(await loadRunConfig(file), { log: () => {}, progress: 'none' });
    expect(await readdir(join(dir, 'limited', 'checkpoints'))).toEqual([
      'step-000004',
      'step-000006',
    ]);
  });
});

describe('an output_dir that already holds a run', () => {
  it('is refused without --resume or --overwrite, and --overwrite starts over', async () => {
    const file = await writeRunConfig(
      dir,
      { train: { max_steps: 4 }, eval: { every_steps: 2 }, output_dir: 'twice' },
      'twice.yaml',
    );
    const quiet = { log: () => {}, progress: 'none' as const };
    await runTraining(await loadRunConfig(file), { ...quiet, stopAfterSteps: 4 });
    const before = await readdir(join(dir, 'twice', 'checkpoints'));
    expect(before).toContain('step-000004');
    await expect(runTraining(await loadRunConfig(file), quiet)).rejects.toThrow(
      /already holds a run \(checkpoints up to step 4\); pass --resume to continue it, --overwrite to start over/,
    );
    // Nothing of the earlier run was touched by the refused one.
    expect(await readdir(join(dir, 'twice', 'checkpoints'))).toEqual(before);
    const again = await runTraining(await loadRunConfig(file), { ...quiet, overwrite: true });
    expect(again.status).toBe('completed');
    expect(await readdir(join(dir, 'twice', 'checkpoints'))).toEqual([
      'step-000000',
      'step-000002',
      'step-000004',
    ]);
  });
});

describe('a training split smaller than a batch', () => {
  it('is a config error naming the keys to change', async () => {
    const file = await writeRunConfig(
      dir,
      { task: { max_train_examples: 3 }, train: { batch_size: 4 }, output_dir: 'small' },
      'small.yaml',
    );
    await expect(
      runTraining(await loadRunConfig(file), { log: () => {}, progress: 'none' }),
    ).rejects.toThrow(ConfigError);
    await expect(
      runTraining(await loadRunConfig(file), { log: () => {}, progress: 'none' }),
    ).rejects.toThrow(
      /^3 training examples make no full batch of train.batch_size 4 with train.drop_last; lower train.batch_size/,
    );
  });
});
