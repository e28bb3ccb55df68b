import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MambaForCausalLM, mambaConfig } from '@statetune/mamba';
import { saveMamba } from '@statetune/mamba/node';
import { Generator } from '@statetune/tensor';
import { stringify } from 'yaml';

/** A temporary folder removed by the returned cleanup. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'statetune-trainer-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A tiny random Mamba for the byte tokenizer (257 tokens), saved as a checkpoint folder. */
export async function tinyModel(dir: string): Promise<string> {
  const model = new MambaForCausalLM(
    mambaConfig({ dModel: 16, nLayer: 2, vocabSize: 257, dState: 4, eosTokenId: 0, padTokenId: 0 }),
    { generator: new Generator(7) },
  );
  const path = join(dir, 'model');
  await saveMamba(model, path);
  return path;
}

const POSITIVE = ['a fine film', 'great fun', 'good acting', 'lovely', 'a joy', 'wonderful cast'];
const NEGATIVE = ['dull', 'a bad mess', 'boring plot', 'awful', 'weak script', 'poor'];

/** A tiny SST-2-style task in the GLUE TSV format: `sentence<TAB>label` with a header. */
export async function tinySst2(dir: string, nTrain = 12, nDev = 6): Promise<string> {
  const rows = (n: number, offset: number) =>
    Array.from({ length: n }, (_, i) => {
      const pos = (i + offset) % 2 === 0;
      const words = pos ? POSITIVE : NEGATIVE;
      return `${words[(i + offset) % words.length]} \t${pos ? 1 : 0}`;
    });
  const folder = join(dir, 'SST-2');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(folder, { recursive: true });
  await writeFile(
    join(folder, 'train.tsv'),
    `${['sentence\tlabel', ...rows(nTrain, 0)].join('\n')}\n`,
  );
  await writeFile(join(folder, 'dev.tsv'), `${['sentence\tlabel', ...rows(nDev, 1)].join('\n')}\n`);
  return folder;
}

/** Writes a run config YAML for the tiny model and task; `extra` is merged section by section. */
export async function writeRunConfig(
  dir: string,
  extra: Record<string, unknown> = {},
  name = 'run.yaml',
): Promise<string> {
  const base: Record<string, Record<string, unknown> | string> = {
    model: 'model',
    tokenizer: 'byte',
    task: { name: 'sst2', train: 'SST-2', validation: 'SST-2' },
    peft: { peft_type: 'STATE_OFFSET_TUNING', variant: 'h' } as unknown as Record<string, unknown>,
    train: { learning_rate: 0.01, batch_size: 4, max_steps: 6, log_every_steps: 2 },
    eval: { every_steps: 3 },
    output_dir: 'out',
    device: 'cpu',
  };
  for (const [k, v] of Object.entries(extra)) {
    const cur = base[k];
    base[k] =
      typeof v === 'object' && v !== null && typeof cur === 'object' && k !== 'peft'
        ? { ...cur, ...(v as Record<string, unknown>) }
        : (v as string);
  }
  const path = join(dir, name);
  await writeFile(path, stringify(base));
  return path;
}
