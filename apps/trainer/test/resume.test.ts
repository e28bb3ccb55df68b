import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fullLike, noGrad } from '@statetune/tensor';
import { loadSafetensors } from '@statetune/tensor/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/errors.js';
import { loadRunConfig } from '../src/config/load.js';
import { listCheckpoints } from '../src/run/checkpoint.js';
import { readMetricsLog } from '../src/run/metrics-log.js';
import { runTraining } from '../src/run/train.js';
import { tempDir, tinyModel, tinySst2, writeRunConfig } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  await tinyModel(dir);
  await tinySst2(dir, 10, 4);
});
afterAll(() => cleanup());

const quiet = { log: () => {}, progress: 'none' as const };
// 10 examples in batches of 4 with drop_last: 2 batches per epoch, so 7 steps cross epochs.
const run = {
  train: { max_steps: 7, batch_size: 4, learning_rate: 0.05 },
  eval: { every_steps: 3 },
};

async function adapterBytes(out: string): Promise<Buffer> {
  return readFile(join(dir, out, 'adapter', 'adapter_model.safetensors'));
}

describe('resume', () => {
  it('an interrupted and resumed run ends with adapter weights identical to an uninterrupted one', async () => {
    const a = await loadRunConfig(await writeRunConfig(dir, { ...run, output_dir: 'a' }, 'a.yaml'));
    expect((await runTraining(a, quiet)).status).toBe('completed');

    const b = await loadRunConfig(await writeRunConfig(dir, { ...run, output_dir: 'b' }, 'b.yaml'));
    const stopped = await runTraining(b, { ...quiet, stopAfterSteps: 4 });
    expect(stopped.status).toBe('interrupted');
    expect(stopped.exitCode).toBe(130);
    expect(stopped.step).toBe(4);
    expect((await listCheckpoints(join(dir, 'b'))).map((c) => c.step)).toEqual([0, 3, 4]);
    const resumed = await runTraining(b, { ...quiet, resume: true });
    expect(resumed.status).toBe('completed');
    expect(resumed.step).toBe(7);

    const wa = await adapterBytes('a');
    const wb = await adapterBytes('b');
    expect(wb.equals(wa)).toBe(true);
    // The metric history is the same too (evaluations at 0, 3, 6 and the end).
    expect(resumed.history.map((h) => h.step)).toEqual([0, 3, 6, 7]);
    const ha = (await runTraining(a, { ...quiet, resume: true })).history;
    expect(resumed.history.map((h) => h.metrics)).toEqual(ha.map((h) => h.metrics));
    // metrics.jsonl holds each step's lines once.
    const trains = (await readMetricsLog(join(dir, 'b', 'metrics.jsonl'))).filter(
      (e) => e.type === 'train',
    );
    expect(trains.map((e) => e.step)).toEqual([2, 4, 6, 7]);
  });

  it('Ctrl-C (an aborted signal) saves a checkpoint and stops with status 130; --resume finishes identically', async () => {
    const c = await loadRunConfig(await writeRunConfig(dir, { ...run, output_dir: 'c' }, 'c.yaml'));
    const controller = new AbortController();
    const stopped = await runTraining(c, {
      ...quiet,
      signal: controller.signal,
      onStep: ({ step }) => {
        if (step === 5) controller.abort();
      },
    });
    expect(stopped.status).toBe('interrupted');
    expect(stopped.exitCode).toBe(130);
    expect(stopped.step).toBe(5);
    expect(stopped.lastCheckpoint).toMatch(/step-000005$/);
    await runTraining(c, { ...quiet, resume: true });
    expect((await adapterBytes('c')).equals(await adapterBytes('a'))).toBe(true);
    // Stopped between two log lines (every 2 steps), the resumed run still logs the mean loss
    // of both steps since the last line, as the uninterrupted run does.
    const trainLines = async (out: string) =>
      (await readMetricsLog(join(dir, out, 'metrics.jsonl')))
        .filter((e) => e.type === 'train')
        .map((e) => (e.type === 'train' ? [e.step, e.loss] : []));
    expect(await trainLines('c')).toEqual(await trainLines('a'));
  });

  it('refuses to resume with other training settings or without a checkpoint', async () => {
    const d = await loadRunConfig(
      await writeRunConfig(
        dir,
        { ...run, train: { ...run.train, batch_size: 2 }, output_dir: 'a' },
        'd.yaml',
      ),
    );
    await expect(runTraining(d, { ...quiet, resume: true })).rejects.toThrow(
      /batch_size = 4.*has 2/,
    );
    const e = await loadRunConfig(
      await writeRunConfig(dir, { ...run, output_dir: 'nothing' }, 'e.yaml'),
    );
    await expect(runTraining(e, { ...quiet, resume: true })).rejects.toThrow(ConfigError);
    await expect(runTraining(e, { ...quiet, resume: true })).rejects.toThrow(
      /no checkpoint in .*nothing/,
    );
  });
});

describe('divergence', () => {
  it('a NaN or infinite loss stops the run with a clear message, non-zero status and the last good checkpoint', async () => {
    const cfg = await loadRunConfig(
      await writeRunConfig(
        dir,
        { train: { max_steps: 6 }, eval: { every_steps: 1 }, output_dir: 'nan' },
        'nan.yaml',
      ),
    );
    // A weight poisoned during step 2 makes the loss of step 3 NaN.
    const result = await runTraining(cfg, {
      ...quiet,
      onStep: ({ step, peft }) => {
        if (step !== 2) return;
        const p = peft.trainableParameters()[0];
        noGrad(() => p.assign(fullLike(p, Number.NaN)));
      },
    });
    expect(result.status).toBe('diverged');
    expect(result.exitCode).toBe(1);
    expect(result.message).toMatch(/the loss became (NaN|Infinity|-Infinity) at step \d/);
    expect(result.message).toContain('last good checkpoint');
    const cps = await listCheckpoints(join(dir, 'nan'));
    expect(cps.length).toBeGreaterThan(0);
    expect(result.lastCheckpoint).toBe(cps[cps.length - 1].dir);
    expect(result.step).toBe(2);
    expect(cps[cps.length - 1].step).toBe(2);
    const events = await readMetricsLog(join(dir, 'nan', 'metrics.jsonl'));
    expect(events.some((e) => e.type === 'event' && e.event === 'diverged')).toBe(true);
    const md = await readFile(join(dir, 'nan', 'report.md'), 'utf8');
    expect(md).toContain('diverged');
  });

  it('a non-finite gradient stops the run before the update even without clipping, so no checkpoint holds NaN weights', async () => {
    const cfg = await loadRunConfig(
      await writeRunConfig(
        dir,
        {
          train: { max_steps: 4, max_grad_norm: null },
          eval: { every_steps: 1 },
          output_dir: 'nan-grad',
        },
        'nan-grad.yaml',
      ),
    );
    // The loss of step 2 is finite, but its gradient is poisoned before the update.
    const result = await runTraining(cfg, {
      ...quiet,
      onStep: ({ step, peft }) => {
        if (step !== 2) return;
        const p = peft.trainableParameters()[0];
        noGrad(() => p.grad?.assign(fullLike(p.grad, Number.NaN)));
      },
    });
    expect(result.status).toBe('diverged');
    expect(result.message).toMatch(/the gradient norm became NaN at step 2/);
    expect(result.step).toBe(1);
    const cps = await listCheckpoints(join(dir, 'nan-grad'));
    expect(cps.map((c) => c.step)).toEqual([0, 1]);
    const { tensors } = await loadSafetensors(join(cps[1].dir, 'adapter_model.safetensors'));
    for (const t of tensors.values()) {
      for (const x of await t.data()) expect(Number.isFinite(x)).toBe(true);
    }
  });
});
