import { readdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/errors.js';
import { loadRunConfig, parseRunConfig } from '../src/config/load.js';
import { RUN_SCHEMA, schemaKeys } from '../src/config/schema.js';
import { resolvePeftConfig } from '../src/run/train.js';
import { tempDir } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const minimal = {
  model: 'm',
  task: { name: 'sst2' },
  peft: { peft_type: 'STATE_OFFSET_TUNING' },
  train: { learning_rate: 1e-3, epochs: 10 },
};

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterAll(() => cleanup());

describe('run config', () => {
  it('fills the paper defaults and resolves paths against the config folder', () => {
    const c = parseRunConfig(minimal, { source: 'run.yaml', baseDir: '/runs/x' });
    expect(c.model).toBe('/runs/x/m');
    expect(c.train).toMatchObject({
      batch_size: 4,
      schedule: 'linear',
      warmup_steps: 0,
      weight_decay: 0,
      max_grad_norm: 1,
      seed: 42,
      drop_last: true,
      adam_beta1: 0.9,
      adam_beta2: 0.999,
      adam_epsilon: 1e-8,
    });
    expect(c.eval).toMatchObject({ split: 'validation', before_training: true, every_steps: null });
    expect(c.generation).toMatchObject({ num_beams: 5, max_new_tokens: 1024 });
    expect(c.tokenizer).toBeNull();
    expect(c.device).toBe('auto');
  });

  it('names the nearest valid key for an unknown key, at the top level and in a section', () => {
    const bad = { ...minimal, modle: 'x', train: { ...minimal.train, learnig_rate: 1 } };
    expect(() => parseRunConfig(bad, { source: 'run.yaml' })).toThrow(ConfigError);
    try {
      parseRunConfig(bad, { source: 'run.yaml' });
    } catch (e) {
      const m = (e as Error).message;
      expect(m).toContain('run.yaml');
      expect(m).toContain('unknown key "modle" (did you mean "model"?)');
      expect(m).toContain('unknown key "train.learnig_rate" (did you mean "learning_rate"?)');
    }
  });

  it('reports bad values, missing required keys and a missing run length together', () => {
    const bad = { task: { name: 'sst3' }, train: { learning_rate: -1, batch_size: 2.5 } };
    let message = '';
    try {
      parseRunConfig(bad, { source: 'run.yaml' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('"model" is required');
    expect(message).toContain('"peft" is required');
    expect(message).toMatch(/"task.name" must be one of sst2, .* \(did you mean "sst2"\?\)/);
    expect(message).toContain('"train.learning_rate" must be a number > 0, got -1');
    expect(message).toContain('"train.batch_size" must be an integer');
    expect(message).toContain('"train.epochs" or "train.max_steps" is required');
  });

  it('lets flags override keys, coercing strings, and edit an inline PEFT config', () => {
    const c = parseRunConfig(minimal, {
      source: 'run.yaml',
      baseDir: '/runs/x',
      overrides: {
        'train.learning_rate': '2e-3',
        'train.drop_last': 'false',
        'train.max_grad_norm': 'null',
        output_dir: 'out',
        'peft.variant': 'y',
      },
    });
    expect(c.train.learning_rate).toBe(2e-3);
    expect(c.train.drop_last).toBe(false);
    expect(c.train.max_grad_norm).toBeNull();
    expect(c.output_dir).toBe(resolve('out'));
    expect(c.peft).toEqual({ peft_type: 'STATE_OFFSET_TUNING', variant: 'y' });
    expect(() =>
      parseRunConfig(minimal, { source: 'x', overrides: { 'train.lerning_rate': 1 } }),
    ).toThrow(/unknown option "--train.lerning_rate" \(did you mean "train.learning_rate"\?\)/);
  });

  it('eval and generate modes need no optimizer or PEFT keys', () => {
    const c = parseRunConfig({ model: 'm', task: { name: 'rte' } }, { source: 'x', mode: 'eval' });
    expect(c.train.learning_rate).toBeNull();
    expect(() => parseRunConfig({ model: 'm' }, { source: 'x', mode: 'eval' })).toThrow(
      /"task.name" is required/,
    );
    expect(parseRunConfig({ model: 'm' }, { source: 'x', mode: 'generate' }).model).toBe(
      resolve('m'),
    );
  });

  it('a missing config file is an error naming the path and what was expected', async () => {
    const path = join(dir, 'nope.yaml');
    await expect(loadRunConfig(path)).rejects.toThrow(
      `config file ${path} does not exist (expected a YAML run config)`,
    );
    const broken = join(dir, 'broken.yaml');
    await writeFile(broken, 'model: [unclosed\n');
    await expect(loadRunConfig(broken)).rejects.toThrow(/broken.yaml is not valid YAML/);
  });

  it('every schema key has a documentation line and sections hold only fields', () => {
    const keys = schemaKeys();
    expect(keys.length).toBeGreaterThan(30);
    for (const [k, spec] of keys) expect(spec.doc.length, k).toBeGreaterThan(3);
    expect(Object.keys(RUN_SCHEMA)).toEqual([
      'model',
      'tokenizer',
      'task',
      'peft',
      'train',
      'eval',
      'generation',
      'output_dir',
      'device',
    ]);
  });
});

describe('the configs shipped with the trainer', () => {
  it('every run config under configs/ (pretraining configs aside) validates against the schema', async () => {
    const root = join(here, '..', 'configs');
    const files: string[] = [];
    const walk = async (d: string) => {
      for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else if (/\.ya?ml$/.test(e.name) && !e.name.startsWith('pretrain')) files.push(p);
      }
    };
    await walk(root);
    for (const f of files) {
      const config = await loadRunConfig(f);
      // Inline PEFT configs are checked by the PEFT package's own validation too.
      if (typeof config.peft === 'object')
        await expect(resolvePeftConfig(config), f).resolves.toBeTruthy();
    }
  });
});
