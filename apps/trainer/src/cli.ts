import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { nearest } from '@statetune/peft';
import { type CAC, cac } from 'cac';
import { evalCommand } from './commands/eval.js';
import { generateCommand } from './commands/generate.js';
import { inspectCommand } from './commands/inspect.js';
import * as pretrain from './commands/pretrain.js';
import { trainCommand } from './commands/train.js';
import { ConfigError } from './config/errors.js';
import { flattenOptions } from './config/load.js';
import { DEVICES, schemaKeys } from './config/schema.js';
import { type CommandIo, processIo } from './util/io.js';

/** The version `statetune --version` prints (src/cli.ts and dist/cli.js both sit one folder below package.json). */
export const VERSION: string = (
  createRequire(import.meta.url)('../package.json') as { version: string }
).version;

/** The commands of the CLI, for suggestions. */
const COMMANDS = ['train', 'eval', 'generate', 'inspect', 'pretrain'];

/** Declares every run-config key as a `--<dotted.key> <value>` flag (for help; values are checked by the config). */
function configFlags(cmd: ReturnType<CAC['command']>, only?: (key: string) => boolean): void {
  for (const [key, spec] of schemaKeys()) {
    if (only && !only(key)) continue;
    if (key === 'device') continue;
    const value = spec.kind.type === 'bool' ? '[bool]' : '<value>';
    const def =
      'default' in spec && spec.default !== null
        ? ` (default: ${JSON.stringify(spec.default)})`
        : '';
    cmd.option(`--${key} ${value}`, `${spec.doc}${def}`);
  }
}

/**
 * Builds the `statetune` program. Each command's action calls the command function with the
 * parsed options and records the exit status in `status.code`; nothing exits the process here,
 * so tests can run the program in-process with {@link runCli}.
 */
export function createCli(io: CommandIo = processIo, status = { code: 0 }): CAC {
  const cli = cac('statetune');

  cli
    .command('train', 'Fine-tune a Mamba model with a PEFT method (flags override config keys)')
    .usage('train --config run.yaml [--train.learning_rate 1e-3] [--resume] [--device cpu]')
    .option('--config <file>', 'YAML run config (relative paths in it resolve against its folder)')
    .option('--resume', 'continue from the newest checkpoint in output_dir/checkpoints')
    .option('--overwrite', 'start over in an output_dir that already holds a run')
    .option(
      '--stop-after-steps <n>',
      'stop after N steps as an interruption would (checkpoint, exit 130)',
    )
    .option('--progress <mode>', 'auto (a bar on a terminal) | plain | none', { default: 'auto' })
    .option('--device <device>', `compute device: ${DEVICES.join('|')}`)
    .option('--lr <rate>', 'same as --train.learning_rate')
    .option('--epochs <n>', 'same as --train.epochs')
    .option('--max-steps <n>', 'same as --train.max_steps')
    .option('--batch-size <n>', 'same as --train.batch_size')
    .option('--seed <n>', 'same as --train.seed')
    .option('--output-dir <dir>', 'same as --output_dir')
    .allowUnknownOptions()
    .example('statetune train --config configs/default.yaml')
    .example(
      'statetune train --config run.yaml --train.learning_rate 2e-3 --output_dir runs/lr2e-3',
    )
    .example('statetune train --config run.yaml --resume')
    .action(async (options: Record<string, unknown>) => {
      const result = await trainCommand(options as Parameters<typeof trainCommand>[0], io);
      status.code = result.exitCode;
    });
  configFlags(cli.commands[cli.commands.length - 1]);

  cli
    .command('eval', 'Evaluate the base model and/or adapters on the task of a run config')
    .usage('eval --config run.yaml [--adapter runs/x/best] [--adapter dir2] [--base]')
    .option('--config <file>', 'YAML run config (model, tokenizer, task, eval, generation)')
    .option('--adapter <dir>', 'adapter folder to evaluate (repeatable); none: the base model')
    .option('--base', 'also evaluate the base model beside the adapters')
    .option('--output <file>', 'write the results as JSON')
    .option('--device <device>', `compute device: ${DEVICES.join('|')}`)
    .allowUnknownOptions()
    .example('statetune eval --config run.yaml --adapter runs/sst2/best --base')
    .action(async (options: Record<string, unknown>) => {
      await evalCommand(options as Parameters<typeof evalCommand>[0], io);
    });
  configFlags(
    cli.commands[cli.commands.length - 1],
    (k) => !k.startsWith('train.') && k !== 'peft' && k !== 'output_dir',
  );

  cli
    .command('generate', 'Complete prompts with a model, alone or with one or more adapters')
    .usage(
      'generate --model dir [--tokenizer t] [--adapter dir]... --prompt "text" [--prompts-file f]',
    )
    .option(
      '--config <file>',
      'take model, tokenizer, device and generation keys from a run config',
    )
    .option('--model <dir>', 'checkpoint folder')
    .option(
      '--tokenizer <path>',
      'tokenizer.json, its folder, or "byte" (default: <model>/tokenizer.json)',
    )
    .option('--adapter <dir>', 'adapter folder (repeatable: each prompt is completed with each)')
    .option('--base', 'also complete with the base model when adapters are given')
    .option('--prompt <text>', 'prompt (repeatable)')
    .option('--prompts-file <file>', 'one prompt per line, or JSONL with a "prompt" field')
    .option('--max-new-tokens <n>', 'most new tokens (default 64)')
    .option('--min-new-tokens <n>', 'fewest new tokens')
    .option('--num-beams <n>', 'beam search with N beams (default 1: greedy)')
    .option('--length-penalty <x>', 'beam length penalty exponent')
    .option('--do-sample', 'sample instead of greedy or beam search')
    .option('--temperature <t>', 'sampling temperature')
    .option('--top-k <k>', 'sample among the k most likely tokens')
    .option('--top-p <p>', 'nucleus sampling mass')
    .option('--seed <n>', 'seed of sampling (default 42)')
    .option('--device <device>', `compute device: ${DEVICES.join('|')}`)
    .option('--json', 'print one JSON object per completion')
    .allowUnknownOptions()
    .example('statetune generate --model models/tiny --tokenizer byte --prompt "Once upon a time"')
    .example(
      'statetune generate --model m --adapter runs/a/best --adapter runs/b/best --prompts-file prompts.txt',
    )
    .action(async (options: Record<string, unknown>) => {
      await generateCommand(options as Parameters<typeof generateCommand>[0], io);
    });

  cli
    .command(
      'inspect <folder>',
      'Show a model (config, layers, parameters per method) or the adapters in a folder',
    )
    .option('--json', 'print JSON')
    .example('statetune inspect models/mamba-130m')
    .example('statetune inspect runs/sst2')
    .action(async (folder: string, options: { json?: boolean }) => {
      await inspectCommand(folder, options, io);
    });

  const register = (pretrain as Record<string, unknown>).registerPretrainCommand;
  if (typeof register === 'function') register(cli);

  cli.help();
  cli.version(VERSION);
  return cli;
}

/** Options handled by a command itself, besides run-config keys (for suggestions). */
function knownFlags(cli: CAC): string[] {
  const names = new Set<string>();
  for (const c of [...cli.commands, cli.globalCommand]) {
    for (const o of c.options) for (const n of o.names) names.add(n);
  }
  for (const [k] of schemaKeys()) names.add(k);
  return [...names];
}

/**
 * Runs the CLI on `argv` (without `node` and the script) and returns the exit status: 0 on
 * success, 1 when a run fails or diverges, 2 for a usage or config error, 130 when a
 * training run was interrupted. Errors are printed for people, without a stack trace (set
 * `STATETUNE_DEBUG=1` for one).
 */
export async function runCli(argv: readonly string[], io: CommandIo = processIo): Promise<number> {
  const status = { code: 0 };
  const cli = createCli(io, status);
  try {
    cli.parse(['node', 'statetune', ...argv], { run: false });
    const name = cli.args[0];
    if (!cli.matchedCommand) {
      if (cli.options.help || cli.options.version) return 0;
      if (name !== undefined) {
        const near = nearest(name, COMMANDS);
        io.err(`error: unknown command "${name}"${near ? ` (did you mean "${near}"?)` : ''}`);
        io.err('run "statetune --help" for the commands');
        return 2;
      }
      cli.outputHelp();
      return 0;
    }
    if (cli.options.help) return 0;
    // cac would accept any flag on commands that take config keys; check them here.
    const flags = Object.keys(flattenOptions(cli.options)).filter((k) => k !== '--');
    const known = knownFlags(cli);
    for (const f of flags) {
      if (known.includes(f) || f.startsWith('peft.')) continue;
      const near = nearest(f, known);
      throw new ConfigError(
        `unknown option "--${kebab(f)}"${near ? ` (did you mean "--${kebab(near)}"?)` : ''}; run "statetune ${cli.matchedCommandName} --help" for the options`,
      );
    }
    await cli.runMatchedCommand();
    return status.code;
  } catch (e) {
    const err = e as Error;
    if (process.env.STATETUNE_DEBUG) io.err(err.stack ?? String(err));
    if (err instanceof ConfigError || err.name === 'CACError') {
      io.err(`error: ${err.message}`);
      if (err.name === 'CACError' && cli.matchedCommandName) {
        io.err(`run "statetune ${cli.matchedCommandName} --help" for the options`);
      }
      return 2;
    }
    io.err(`error: ${err.message}`);
    return 1;
  }
}

/** A flag as typed (`dModel` back to `d-model`); cac hands options over camel-cased. */
function kebab(flag: string): string {
  return flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`${(e as Error).stack}\n`);
      process.exitCode = 1;
    },
  );
}
