import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli, VERSION } from '../src/cli.js';
import type { CommandIo } from '../src/util/io.js';
import { tempDir, tinyModel, tinySst2, writeRunConfig } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let config: string;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  await tinyModel(dir);
  await tinySst2(dir);
  config = await writeRunConfig(dir, { output_dir: 'cli-run' });
});
afterAll(() => cleanup());

/** Flags that name the tiny model with the byte tokenizer on the CPU. */
const modelFlags = () => ['--model', join(dir, 'model'), '--tokenizer', 'byte', '--device', 'cpu'];

/** Runs the CLI in-process, capturing stdout, stderr and cac's console output. */
async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIo = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const info = vi.spyOn(console, 'info').mockImplementation((...a) => {
    out.push(a.join(' '));
  });
  try {
    const code = await runCli(argv, io);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    info.mockRestore();
  }
}

describe('statetune CLI', () => {
  it('--help lists the commands and --version prints the version', async () => {
    const help = await run('--help');
    expect(help.code).toBe(0);
    for (const c of ['train', 'eval', 'generate', 'inspect']) expect(help.out).toContain(c);
    const version = await run('--version');
    expect(version.out).toContain(`statetune/${VERSION}`);
  });

  it('each command has --help with its options', async () => {
    const train = await run('train', '--help');
    expect(train.code).toBe(0);
    expect(train.out).toContain('--config <file>');
    expect(train.out).toContain('--resume');
    expect(train.out).toContain('--train.learning_rate <value>');
    expect(train.out).toContain('--device <device>');
    expect((await run('eval', '--help')).out).toContain('--adapter <dir>');
    expect((await run('generate', '--help')).out).toContain('--prompts-file <file>');
    expect((await run('inspect', '--help')).out).toContain('inspect <folder>');
  });

  it('unknown commands and options are errors with a suggestion (status 2)', async () => {
    const cmd = await run('trian');
    expect(cmd.code).toBe(2);
    expect(cmd.err).toContain('unknown command "trian" (did you mean "train"?)');
    const opt = await run('train', '--config', config, '--train.learnig_rate', '1');
    expect(opt.code).toBe(2);
    expect(opt.err).toContain('(did you mean "--train.learning_rate"?)');
    const own = await run('train', '--config', config, '--resum');
    expect(own.code).toBe(2);
    expect(own.err).toContain('did you mean "--resume"?');
    // Flags are named as typed, not as cac camel-cases them.
    const dashed = await run('train', '--config', config, '--stop-after-step', '1');
    expect(dashed.code).toBe(2);
    expect(dashed.err).toContain(
      'unknown option "--stop-after-step" (did you mean "--stop-after-steps"?)',
    );
  });

  it('a missing config or model names the path and what belongs there', async () => {
    const missing = await run('train', '--config', join(dir, 'nope.yaml'));
    expect(missing.code).toBe(2);
    expect(missing.err).toContain(
      `${join(dir, 'nope.yaml')} does not exist (expected a YAML run config)`,
    );
    const noModel = await run(
      'train',
      '--config',
      config,
      '--model',
      join(dir, 'no-model'),
      '--device',
      'cpu',
    );
    expect(noModel.code).toBe(2);
    expect(noModel.err).toContain(
      `${join(dir, 'no-model')} does not exist (expected a Mamba checkpoint folder`,
    );
    expect(noModel.err).toContain('set "model" (or --model) to one');
    const noConfig = await run('train', '--device', 'cpu');
    expect(noConfig.code).toBe(2);
    expect(noConfig.err).toContain('no --config file given');
    expect(noConfig.err).toContain('"model" is required');
  });

  it('a typo in a config key names the file and the nearest valid key (status 2)', async () => {
    const typo = join(dir, 'typo.yaml');
    await writeFile(
      typo,
      (await readFile(config, 'utf8')).replace('learning_rate', 'learnig_rate'),
    );
    const r = await run('train', '--config', typo);
    expect(r.code).toBe(2);
    expect(r.err).toContain(typo);
    expect(r.err).toContain('unknown key "train.learnig_rate" (did you mean "learning_rate"?)');
    expect(r.err).not.toContain('    at ');
  });

  it('train, eval, generate and inspect run end to end', async () => {
    const train = await run(
      'train',
      '--config',
      config,
      '--progress',
      'none',
      '--max-steps',
      '3',
      '--train.log_every_steps',
      '1',
    );
    expect(train.err).toBe(train.err); // progress messages go to stderr
    expect(train.code).toBe(0);
    expect(train.out).toMatch(/accuracy\s+\d\.\d{4}\s+\d\.\d{4}/);
    const out = join(dir, 'cli-run');
    expect(await readdir(out)).toEqual(
      expect.arrayContaining(['adapter', 'best', 'report.md', 'report.html', 'metrics.jsonl']),
    );
    const lines = (await readFile(join(out, 'metrics.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.filter((l) => JSON.parse(l).type === 'train')).toHaveLength(3);

    const evaluated = await run(
      'eval',
      '--config',
      config,
      '--adapter',
      join(out, 'best'),
      '--base',
      '--output',
      join(dir, 'eval.json'),
    );
    expect(evaluated.code).toBe(0);
    expect(evaluated.out).toMatch(/base model on sst2 validation \(6 examples\): accuracy/);
    expect(evaluated.out).toMatch(/best on sst2 validation \(6 examples\): accuracy/);
    const saved = JSON.parse(await readFile(join(dir, 'eval.json'), 'utf8'));
    expect(saved).toHaveLength(2);

    const prompts = join(dir, 'prompts.txt');
    await writeFile(prompts, 'great fun ###\ndull ###\n');
    const gen = await run(
      'generate',
      ...modelFlags(),
      '--adapter',
      join(out, 'adapter'),
      '--adapter',
      join(out, 'best'),
      '--base',
      '--prompts-file',
      prompts,
      '--prompt',
      'a joy ###',
      '--max-new-tokens',
      '3',
      '--json',
    );
    expect(gen.code).toBe(0);
    const completions = gen.out.split('\n').map((l) => JSON.parse(l));
    // 3 prompts x (base + 2 adapters)
    expect(completions).toHaveLength(9);
    expect(new Set(completions.map((c) => c.adapter))).toEqual(new Set([null, 'adapter', 'best']));
    expect(completions.slice(0, 3).map((c) => c.prompt)).toEqual([
      'a joy ###',
      'great fun ###',
      'dull ###',
    ]);

    const model = await run('inspect', join(dir, 'model'));
    expect(model.code).toBe(0);
    expect(model.out).toContain('d_model 16  layers 2  vocab 257');
    expect(model.out).toContain('mixer.A_log');
    expect(model.out).toMatch(/State-offset Tuning \(h\)\s+256\s/);
    expect(model.out).toMatch(/State-offset Tuning \(y\)\s+64\s/);
    const runDir = await run('inspect', out);
    expect(runDir.out).toContain('adapters found:');
    expect(runDir.out).toMatch(/best\s+STATE_OFFSET_TUNING/);
    expect(runDir.out).toMatch(/checkpoints\/step-000003\s+STATE_OFFSET_TUNING/);
    const adapter = await run('inspect', join(out, 'adapter'), '--json');
    const parsed = JSON.parse(adapter.out);
    expect(parsed.adapter.parameters).toBe(256);
    expect(parsed.adapter.config.peft_type).toBe('STATE_OFFSET_TUNING');
  });

  it('generate without a prompt, and inspect of a missing folder, explain what is missing', async () => {
    const gen = await run('generate', ...modelFlags());
    expect(gen.code).toBe(2);
    expect(gen.err).toContain('no prompt: give --prompt');
    const ins = await run('inspect', join(dir, 'nothing'));
    expect(ins.code).toBe(2);
    expect(ins.err).toContain(
      `${join(dir, 'nothing')} does not exist (expected a model checkpoint folder`,
    );
    const broken = join(dir, 'broken-adapter');
    await mkdir(broken, { recursive: true });
    await writeFile(join(broken, 'adapter_config.json'), '{"peft_type": ');
    const bad = await run('inspect', broken);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(
      `${join(broken, 'adapter_config.json')} is not a readable adapter config`,
    );
  });
});

describe('flags alone', () => {
  it('train runs from flags without a config file', async () => {
    const r = await run(
      'train',
      ...modelFlags(),
      '--task.name',
      'sst2',
      '--task.train',
      join(dir, 'SST-2'),
      '--task.validation',
      join(dir, 'SST-2', 'dev.tsv'),
      '--peft',
      '{"peft_type": "INITIAL_STATE_TUNING"}',
      '--lr',
      '0.01',
      '--max-steps',
      '2',
      '--eval.before_training',
      'false',
      '--output-dir',
      join(dir, 'flags-run'),
      '--progress',
      'none',
    );
    expect(r.err).not.toContain('error');
    expect(r.code).toBe(0);
    const saved = await readFile(join(dir, 'flags-run', 'run_config.yaml'), 'utf8');
    expect(saved).toContain('peft_type: INITIAL_STATE_TUNING');
    expect(saved).toContain('learning_rate: 0.01');
    expect(saved).toContain('before_training: false');
  });
});

describe('Ctrl-C', () => {
  it('the first SIGINT saves a checkpoint and ends with status 130', async () => {
    const cfg = await writeRunConfig(dir, { output_dir: 'sigint' }, 'sigint.yaml');
    const err: string[] = [];
    const io: CommandIo = {
      out: () => {},
      err: (l) => {
        err.push(l);
        // Sent once training has started (the first progress message).
        if (l.startsWith('training ')) process.emit('SIGINT');
      },
    };
    const code = await runCli(['train', '--config', cfg, '--progress', 'none'], io);
    expect(code).toBe(130);
    expect(err.join('\n')).toContain('Ctrl-C: saving a checkpoint');
    expect(err.join('\n')).toMatch(/interrupted at step \d+; continue with --resume/);
    expect(process.listenerCount('SIGINT')).toBe(0);
    const resumed = await runCli(['train', '--config', cfg, '--progress', 'none', '--resume'], {
      out: () => {},
      err: () => {},
    });
    expect(resumed).toBe(0);
  });
});
