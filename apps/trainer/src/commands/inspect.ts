import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { MambaConfig } from '@statetune/mamba';
import { openCheckpoint } from '@statetune/mamba/node';
import { countAdapterParameters, countBaseParameters, type PeftConfigInput } from '@statetune/peft';
import { type FoundAdapter, findAdapters } from '@statetune/peft/node';
import { SafetensorsFile } from '@statetune/tensor/node';
import { ConfigError } from '../config/errors.js';
import { formatCount } from '../util/format.js';
import { exists, requirePath } from '../util/fs.js';
import { type CommandIo, processIo } from '../util/io.js';

/** Options of `statetune inspect`. */
export interface InspectCommandOptions {
  /** Print the result as JSON. */
  readonly json?: boolean;
}

/** The methods `inspect` counts parameters for, with the settings counted. */
export const INSPECT_METHODS: readonly { label: string; config: PeftConfigInput }[] = [
  { label: 'State-offset Tuning (h)', config: { peft_type: 'STATE_OFFSET_TUNING', variant: 'h' } },
  { label: 'State-offset Tuning (y)', config: { peft_type: 'STATE_OFFSET_TUNING', variant: 'y' } },
  { label: 'Initial State Tuning', config: { peft_type: 'INITIAL_STATE_TUNING' } },
  { label: 'Prompt tuning (20 tokens)', config: { peft_type: 'PROMPT_TUNING' } },
  { label: 'Prefix tuning (20 tokens)', config: { peft_type: 'PREFIX_TUNING' } },
  { label: 'LoRA (r 8)', config: { peft_type: 'LORA' } },
  { label: 'BitFit', config: { peft_type: 'BITFIT' } },
  { label: 'Additional-scan (8 states)', config: { peft_type: 'ADDITIONAL_SCAN' } },
  { label: 'Full fine-tuning', config: { peft_type: 'FULL_FINETUNING' } },
];

/** What `inspect` found. */
export interface InspectResult {
  readonly path: string;
  readonly model: {
    readonly config: MambaConfig;
    readonly layout: string;
    readonly format: string;
    readonly tensors: number;
    /** Layer 0's tensors (every layer has the same). */
    readonly layer: { name: string; shape: readonly number[]; dtype: string }[];
    readonly baseParameters: number;
    readonly methods: {
      label: string;
      peftType: string;
      parameters: number | null;
      percent: number | null;
      problem?: string;
    }[];
  } | null;
  readonly adapter: {
    readonly config: Record<string, unknown>;
    readonly tensors: { name: string; shape: readonly number[]; dtype: string }[];
    readonly parameters: number;
  } | null;
  readonly adapters: {
    name: string;
    dir: string;
    peftType: string | null;
    problem: string | null;
  }[];
}

async function inspectModel(dir: string): Promise<NonNullable<InspectResult['model']>> {
  const ckpt = await openCheckpoint(dir);
  try {
    const c = ckpt.config;
    const base = countBaseParameters(c);
    const tensors = ckpt.tensors();
    const layer = tensors
      .filter((t) => t.name.startsWith('backbone.layers.0.'))
      .map((t) => ({
        name: t.name.replace('backbone.layers.0.', ''),
        shape: t.shape,
        dtype: t.dtype,
      }));
    const methods = INSPECT_METHODS.map(({ label, config }) => {
      try {
        const n = countAdapterParameters(c, config);
        return { label, peftType: config.peft_type, parameters: n, percent: (100 * n) / base };
      } catch (e) {
        return {
          label,
          peftType: config.peft_type,
          parameters: null,
          percent: null,
          problem: (e as Error).message,
        };
      }
    });
    return {
      config: c,
      layout: ckpt.layout,
      format: ckpt.format,
      tensors: tensors.length,
      layer,
      baseParameters: base,
      methods,
    };
  } finally {
    await ckpt.close();
  }
}

async function inspectAdapter(dir: string): Promise<NonNullable<InspectResult['adapter']>> {
  const configPath = join(dir, 'adapter_config.json');
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(
      `${configPath} is not a readable adapter config (expected the JSON object saveAdapter writes): ${(e as Error).message}`,
    );
  }
  const file = join(dir, 'adapter_model.safetensors');
  const tensors: { name: string; shape: readonly number[]; dtype: string }[] = [];
  let parameters = 0;
  if (await exists(file)) {
    const f = await SafetensorsFile.open(file);
    try {
      for (const e of f.header.entries.values()) {
        tensors.push({ name: e.name, shape: e.shape, dtype: e.dtype });
        parameters += e.shape.reduce((a, b) => a * b, 1);
      }
    } finally {
      await f.close();
    }
  }
  return { config, tensors, parameters };
}

/** Adapters in a folder, its subfolders and a run's `checkpoints/` folders. */
async function allAdapters(dir: string): Promise<FoundAdapter[]> {
  const found = await findAdapters(dir);
  const cps = join(dir, 'checkpoints');
  const entries = await readdir(cps, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    for (const a of await findAdapters(join(cps, e.name))) {
      if (a.name === 'default') found.push({ ...a, name: `checkpoints/${e.name}` });
    }
  }
  return found;
}

/** The text `inspect` prints. */
export function inspectLines(r: InspectResult): string[] {
  const lines: string[] = [r.path];
  if (r.model) {
    const m = r.model;
    const c = m.config;
    lines.push(
      '',
      `model: Mamba-1, ${m.layout} layout, ${m.format}, ${m.tensors} tensors`,
      `  d_model ${c.dModel}  layers ${c.nLayer}  vocab ${c.vocabSize}  d_state ${c.dState}  d_inner ${c.dInner}  dt_rank ${c.dtRank}  d_conv ${c.dConv}  tied embeddings ${c.tieEmbeddings}`,
      `  parameters: ${formatCount(m.baseParameters)}`,
      '',
      `each of the ${c.nLayer} layers:`,
    );
    const w = Math.max(...m.layer.map((t) => t.name.length), 4);
    for (const t of m.layer)
      lines.push(`  ${t.name.padEnd(w)}  [${t.shape.join(', ')}] ${t.dtype}`);
    lines.push('', 'trainable parameters per method (default settings):');
    const lw = Math.max(...m.methods.map((x) => x.label.length));
    for (const x of m.methods) {
      lines.push(
        x.parameters === null
          ? `  ${x.label.padEnd(lw)}  n/a (${x.problem})`
          : `  ${x.label.padEnd(lw)}  ${formatCount(x.parameters).padStart(13)}  ${(x.percent as number).toFixed(4)}%`,
      );
    }
  }
  if (r.adapter) {
    const a = r.adapter;
    lines.push(
      '',
      `adapter: ${String(a.config.peft_type)}, ${formatCount(a.parameters)} parameters in ${a.tensors.length} tensors`,
    );
    for (const [k, v] of Object.entries(a.config)) lines.push(`  ${k}: ${JSON.stringify(v)}`);
    for (const t of a.tensors.slice(0, 12))
      lines.push(`  ${t.name} [${t.shape.join(', ')}] ${t.dtype}`);
    if (a.tensors.length > 12) lines.push(`  ... ${a.tensors.length - 12} more tensors`);
  }
  if (r.adapters.length > 0) {
    lines.push('', 'adapters found:');
    for (const a of r.adapters) {
      lines.push(`  ${a.name.padEnd(24)} ${a.peftType ?? `unreadable: ${a.problem}`}  ${a.dir}`);
    }
  } else if (!r.adapter) {
    lines.push('', 'adapters found: none');
  }
  return lines;
}

/**
 * `statetune inspect <folder>`: for a model checkpoint, its config, a layer's tensors and the
 * trainable parameters of every PEFT method; for an adapter folder, its config and tensors;
 * and every adapter found in the folder (subfolders, a run's `best/`, `adapter/` and
 * `checkpoints/`).
 */
export async function inspectCommand(
  path: string,
  options: InspectCommandOptions = {},
  io: CommandIo = processIo,
): Promise<InspectResult> {
  const dir = resolve(path);
  await requirePath(dir, 'dir', 'a model checkpoint folder, an adapter folder or a run folder');
  const model = (await exists(join(dir, 'config.json'))) ? await inspectModel(dir) : null;
  const adapter = (await exists(join(dir, 'adapter_config.json')))
    ? await inspectAdapter(dir)
    : null;
  const adapters = (await allAdapters(dir))
    .filter((a) => !(adapter && a.dir === dir))
    .map((a) => ({
      name: a.name,
      dir: a.dir,
      peftType: a.config?.peft_type ?? null,
      problem: a.problem,
    }));
  const result: InspectResult = { path: dir, model, adapter, adapters };
  if (options.json) io.out(JSON.stringify(result, null, 2));
  else for (const line of inspectLines(result)) io.out(line);
  return result;
}
