import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ByteTokenizer } from '@statetune/data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/errors.js';
import { loadRunConfig } from '../src/config/load.js';
import { loadModel, loadRunTokenizer, loadTask } from '../src/run/setup.js';
import { tempDir, tinyModel, tinySst2, writeRunConfig } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let model: string;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  model = await tinyModel(dir);
  await tinySst2(dir, 12, 6);
});
afterAll(() => cleanup());

describe('setup', () => {
  it('without a tokenizer.json the default tokenizer is an error that says what to set', async () => {
    await expect(loadRunTokenizer(null, model)).rejects.toThrow(ConfigError);
    await expect(loadRunTokenizer(null, model)).rejects.toThrow(
      `${join(model, 'tokenizer.json')} does not exist (expected the model's tokenizer.json (or set "tokenizer" to a tokenizer.json, or "byte"))`,
    );
  });

  it('a model made by statetune pretrain with the byte tokenizer gets it by default', async () => {
    await writeFile(join(model, 'pretrain.json'), JSON.stringify({ tokenizer: 'byte' }));
    expect(await loadRunTokenizer(null, model)).toBeInstanceOf(ByteTokenizer);
  });

  it('a folder without config.json is not taken for a checkpoint', async () => {
    await expect(loadModel(dir)).rejects.toThrow(
      `${join(dir, 'config.json')} does not exist (expected the config.json of a Mamba checkpoint folder`,
    );
  });

  it('caps the examples and drops sequences over task.max_length', async () => {
    const tokenizer = await loadRunTokenizer('byte', model);
    const load = async (task: Record<string, unknown>) =>
      loadTask(await loadRunConfig(await writeRunConfig(dir, { task })), tokenizer, {
        needTrain: true,
        evalSplit: 'validation',
      });
    const all = await load({ name: 'sst2', train: 'SST-2', validation: 'SST-2' });
    expect(all.train?.lm.length).toBe(12);
    expect(all.eval?.lm.length).toBe(6);
    expect(all.classTokenIds).toEqual([1 + 48, 1 + 49]); // bytes of "0" and "1" after EOS
    const lengths = all.train?.lm.map((e) => e.inputIds.length + 1) ?? [];
    const evalLengths = all.eval?.lm.slice(0, 2).map((e) => e.inputIds.length + 1) ?? [];
    // Some training examples over the cap, at least one evaluation example under it.
    const cut = Math.max([...lengths].sort((a, b) => a - b)[5], Math.min(...evalLengths));
    const capped = await load({
      name: 'sst2',
      train: 'SST-2',
      validation: 'SST-2',
      max_train_examples: 10,
      max_eval_examples: 2,
      max_length: cut,
    });
    const kept = lengths.slice(0, 10).filter((l) => l <= cut).length;
    expect(kept).toBeLessThan(10);
    expect(capped.train?.lm.length).toBe(kept);
    expect(capped.train?.dropped).toHaveLength(10 - kept);
    expect(capped.eval?.lm.length).toBe(evalLengths.filter((l) => l <= cut).length);
  });
});
