import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRunConfig } from '../src/config/load.js';
import { runTraining } from '../src/run/train.js';
import { tempDir, tinyModel, tinySst2, writeRunConfig } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  await tinyModel(dir);
  await tinySst2(dir, 8, 2);
});
afterAll(() => cleanup());

const METHODS: Record<string, Record<string, unknown>> = {
  'state-offset-y': { peft_type: 'STATE_OFFSET_TUNING', variant: 'y' },
  'initial-state': { peft_type: 'INITIAL_STATE_TUNING' },
  'prompt-tuning': { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 2 },
  'prefix-tuning': { peft_type: 'PREFIX_TUNING', num_virtual_tokens: 2 },
  lora: { peft_type: 'LORA', r: 2 },
  // Dropout draws from the adapter's random stream, which a resume must restore.
  'lora-dropout': { peft_type: 'LORA', r: 2, lora_dropout: 0.5 },
  bitfit: { peft_type: 'BITFIT' },
  'additional-scan': { peft_type: 'ADDITIONAL_SCAN', d_state: 2 },
  full: { peft_type: 'FULL_FINETUNING' },
};

const quiet = { log: () => {}, progress: 'none' as const };

describe.each(Object.entries(METHODS))('%s', (name, peft) => {
  it('trains, and an interrupted run resumes to the same weights', async () => {
    const run = { peft, train: { max_steps: 3, learning_rate: 0.01 }, eval: { every_steps: 3 } };
    const a = await loadRunConfig(
      await writeRunConfig(dir, { ...run, output_dir: `${name}-a` }, `${name}-a.yaml`),
    );
    const ra = await runTraining(a, quiet);
    expect(ra.status).toBe('completed');
    const b = await loadRunConfig(
      await writeRunConfig(dir, { ...run, output_dir: `${name}-b` }, `${name}-b.yaml`),
    );
    expect((await runTraining(b, { ...quiet, stopAfterSteps: 1 })).exitCode).toBe(130);
    expect((await runTraining(b, { ...quiet, resume: true })).status).toBe('completed');
    const file = (out: string) => readFile(join(dir, out, 'adapter', 'adapter_model.safetensors'));
    expect((await file(`${name}-b`)).equals(await file(`${name}-a`))).toBe(true);
    // Training moved the weights away from the step-0 checkpoint.
    const start = await readFile(
      join(dir, `${name}-a`, 'checkpoints', 'step-000000', 'adapter_model.safetensors'),
    );
    expect(start.equals(await file(`${name}-a`))).toBe(false);
  });
});
