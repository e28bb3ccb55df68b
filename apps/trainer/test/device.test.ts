import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setBackend } from '@statetune/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRunConfig } from '../src/config/load.js';
import { selectDevice } from '../src/run/setup.js';
import { runTraining } from '../src/run/train.js';
import { tempDir, tinyModel, tinySst2, writeRunConfig } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let webgpu: string | null = null;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  await tinyModel(dir);
  await tinySst2(dir, 10, 4);
  try {
    await selectDevice('webgpu', () => {});
  } catch (e) {
    webgpu = (e as Error).message;
  }
  await setBackend('cpu');
});
afterAll(async () => {
  await setBackend('cpu');
  await cleanup();
});

const quiet = { log: () => {}, progress: 'none' as const };
const run = {
  train: { max_steps: 5, learning_rate: 0.05 },
  eval: { every_steps: 2 },
  device: 'webgpu',
};

describe('--device webgpu', () => {
  it('trains on WebGPU, resumes bit for bit there, and agrees with the CPU', async (ctx) => {
    if (webgpu !== null) ctx.skip(`no WebGPU adapter: ${webgpu}`);
    const a = await loadRunConfig(
      await writeRunConfig(dir, { ...run, output_dir: 'ga' }, 'ga.yaml'),
    );
    const ra = await runTraining(a, quiet);
    expect(ra.status).toBe('completed');
    const b = await loadRunConfig(
      await writeRunConfig(dir, { ...run, output_dir: 'gb' }, 'gb.yaml'),
    );
    expect((await runTraining(b, { ...quiet, stopAfterSteps: 3 })).exitCode).toBe(130);
    expect((await runTraining(b, { ...quiet, resume: true })).status).toBe('completed');
    const wa = await readFile(join(dir, 'ga', 'adapter', 'adapter_model.safetensors'));
    const wb = await readFile(join(dir, 'gb', 'adapter', 'adapter_model.safetensors'));
    expect(wb.equals(wa)).toBe(true);

    const c = await loadRunConfig(
      await writeRunConfig(dir, { ...run, device: 'cpu', output_dir: 'gc' }, 'gc.yaml'),
    );
    const rc = await runTraining(c, quiet);
    const last = (r: typeof ra) => r.history[r.history.length - 1].metrics.eval_loss;
    expect(Math.abs(last(ra) - last(rc))).toBeLessThan(1e-3);
  });
});
