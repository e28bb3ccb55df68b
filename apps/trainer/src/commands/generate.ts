import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { Generator } from '@statetune/tensor';
import { ConfigError } from '../config/errors.js';
import { loadRunConfig } from '../config/load.js';
import { adapterList, adapterRunner, loadAdapters } from '../run/adapters.js';
import { baseRunner, generateOptions } from '../run/evaluate.js';
import {
  checkModelDir,
  checkVocabulary,
  loadModel,
  loadRunTokenizer,
  selectDevice,
} from '../run/setup.js';
import { requirePath } from '../util/fs.js';
import { type CommandIo, processIo } from '../util/io.js';
import { configOverrides } from './train.js';

/** Options of `statetune generate`. */
export interface GenerateCommandOptions {
  /** A run config to take model, tokenizer, device and generation keys from. */
  readonly config?: string;
  /** Prompt text(s). */
  readonly prompt?: string | string[];
  /** A file of prompts: one per line, or JSONL with a `prompt` field. */
  readonly promptsFile?: string;
  /** Adapter folder(s); each prompt is completed with each. */
  readonly adapter?: string | string[];
  /** Also complete with the base model when adapters are given. */
  readonly base?: boolean;
  /** Print JSON lines instead of text. */
  readonly json?: boolean;
  /** Run-config keys given as flags (`model`, `tokenizer`, `generation.max_new_tokens`, ...). */
  readonly [key: string]: unknown;
}

const OWN = new Set([
  'config',
  'prompt',
  'promptsFile',
  'adapter',
  'base',
  'json',
  '--',
  'h',
  'help',
]);

/** Flag names of `generate` that stand for generation keys. */
const GENERATION_FLAGS: Readonly<Record<string, string>> = {
  maxNewTokens: 'generation.max_new_tokens',
  minNewTokens: 'generation.min_new_tokens',
  numBeams: 'generation.num_beams',
  lengthPenalty: 'generation.length_penalty',
  doSample: 'generation.do_sample',
  temperature: 'generation.temperature',
  topK: 'generation.top_k',
  topP: 'generation.top_p',
};

/** Reads prompts from a text file (one per line) or a JSONL file (`{"prompt": ...}` per line). */
export async function readPrompts(path: string): Promise<string[]> {
  await requirePath(
    path,
    'file',
    'a prompts file: one prompt per line, or JSONL with a "prompt" field',
  );
  const text = await readFile(path, 'utf8');
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (extname(path) !== '.jsonl') return lines.map((l) => l.replace(/\\n/g, '\n'));
  return lines.map((l, i) => {
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch (e) {
      throw new ConfigError(`${path}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    const p = (v as { prompt?: unknown })?.prompt;
    if (typeof p !== 'string')
      throw new ConfigError(`${path}:${i + 1}: expected {"prompt": "..."}`);
    return p;
  });
}

/** One completion. */
export interface Completion {
  readonly prompt: string;
  /** The adapter's name, or null for the base model. */
  readonly adapter: string | null;
  readonly completion: string;
}

/**
 * `statetune generate`: completes prompts with the model alone or with each adapter given
 * (`--adapter a --adapter b`), with the decoding settings of the config or flags (greedy by
 * default here: `--num-beams`, `--do-sample`, `--temperature`, ...).
 */
export async function generateCommand(
  options: GenerateCommandOptions,
  io: CommandIo = processIo,
): Promise<Completion[]> {
  const overrides = configOverrides(options, OWN);
  for (const [flag, key] of Object.entries(GENERATION_FLAGS)) {
    if (flag in overrides) {
      overrides[key] = overrides[flag];
      delete overrides[flag];
    }
  }
  // Greedy, short completions unless asked otherwise (the paper's beam 5 / 1024 is for evaluation).
  if (!options.config) {
    overrides['generation.num_beams'] ??= 1;
    overrides['generation.max_new_tokens'] ??= 64;
  }
  const config = await loadRunConfig(options.config ?? null, overrides, 'generate');
  const prompts = [
    ...adapterList(options.prompt),
    ...(options.promptsFile ? await readPrompts(resolve(String(options.promptsFile))) : []),
  ];
  if (prompts.length === 0) {
    throw new ConfigError('no prompt: give --prompt "text" (repeatable) or --prompts-file file');
  }
  // Input problems are reported before a GPU device is started.
  await checkModelDir(config.model);
  await selectDevice(config.device, io.err);
  const model = await loadModel(config.model);
  const tokenizer = await loadRunTokenizer(config.tokenizer, config.model);
  checkVocabulary(model, tokenizer);
  const { peft, names } = await loadAdapters(model, adapterList(options.adapter));
  const targets: (string | null)[] = [...(peft === null || options.base ? [null] : []), ...names];
  const generator = new Generator(config.train.seed ?? 42);
  const opts = generateOptions(config.generation, tokenizer.eosTokenId, generator);
  const ids = prompts.map((p) => tokenizer.encode(p));
  const out: Completion[] = [];
  for (const name of targets) {
    const runner = peft === null ? baseRunner(model) : adapterRunner(peft, name);
    const { sequences } = await runner.generate(ids, opts);
    sequences.forEach((seq, i) => {
      const trimmed =
        seq.length > 0 && seq[seq.length - 1] === tokenizer.eosTokenId ? seq.slice(0, -1) : seq;
      const c: Completion = {
        prompt: prompts[i],
        adapter: name,
        completion: tokenizer.decode(trimmed),
      };
      out.push(c);
      if (options.json) io.out(JSON.stringify(c));
      else io.out(`${targets.length > 1 ? `[${name ?? 'base'}] ` : ''}${c.prompt}${c.completion}`);
    });
  }
  return out;
}
