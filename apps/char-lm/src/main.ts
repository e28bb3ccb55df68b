import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { train } from './train.js';

const USAGE = `statetune-char-lm: train a tiny character-level Mamba with @statetune/tensor

Options:
  --steps N     optimizer steps (default 300)
  --batch N     windows per step (default 16)
  --seqlen N    characters per window (default 128)
  --lr X        peak learning rate (default 3e-3)
  --seed N      seed of every random draw (default 0)
  --data FILE   training text (default: the bundled tinyshakespeare.txt)
  --out DIR     where metrics.json goes (default out/char-lm)
  --help        this text`;

function positive(name: string, raw: string, integer: boolean): number {
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got "${raw}"`);
  }
  return v;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      steps: { type: 'string', default: '300' },
      batch: { type: 'string', default: '16' },
      seqlen: { type: 'string', default: '128' },
      lr: { type: 'string', default: '3e-3' },
      seed: { type: 'string', default: '0' },
      data: { type: 'string' },
      out: { type: 'string', default: join('out', 'char-lm') },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const dataPath =
    values.data ?? fileURLToPath(new URL('../data/tinyshakespeare.txt', import.meta.url));
  let text: string;
  try {
    text = readFileSync(dataPath, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the training text at ${dataPath}: ${(err as Error).message}`);
  }
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new Error(`--seed must be a non-negative integer, got "${values.seed}"`);
  const result = train(text, {
    steps: positive('steps', values.steps, true),
    batch: positive('batch', values.batch, true),
    seqlen: positive('seqlen', values.seqlen, true),
    lr: positive('lr', values.lr, false),
    seed,
    model: { dModel: 64, nLayer: 2, dState: 16, dConv: 4, expand: 2 },
    log: (line) => console.log(line),
  });
  console.log(`\nsample:\n${result.sample}\n`);
  console.log(
    `validation loss ${result.validationBefore.toFixed(3)} -> ${result.validationAfter.toFixed(3)} ` +
      `in ${result.seconds.toFixed(1)} s (${Math.round(result.tokensPerSecond).toLocaleString('en-US')} tokens/s)`,
  );
  mkdirSync(values.out, { recursive: true });
  const file = join(values.out, 'metrics.json');
  writeFileSync(`${file}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  console.log(`metrics written to ${file}`);
}

try {
  main();
} catch (err) {
  console.error(`error: ${(err as Error).message}`);
  process.exitCode = 1;
}
