import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMamba } from '@statetune/mamba/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PretrainError,
  pretrain,
  readPretrainConfig,
  resolvePretrainOptions,
} from '../src/commands/pretrain.js';

let dir: string;

// A small, repetitive text: a tiny model can learn it in a few dozen steps.
const TEXT = Array.from(
  { length: 120 },
  (_, i) => `the cat sat on the mat. the dog ran to the park number ${i % 7}. `,
).join('\n');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'statetune-pretrain-'));
  await writeFile(join(dir, 'a.txt'), TEXT);
  await writeFile(join(dir, 'b.txt'), TEXT.toUpperCase());
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function tiny(out: string, seed = 3) {
  return resolvePretrainOptions({
    data: [join(dir, 'a.txt'), join(dir, 'b.txt')],
    out,
    dModel: 16,
    nLayer: 1,
    dState: 4,
    seqLen: 32,
    batchSize: 4,
    steps: 30,
    learningRate: 1e-2,
    warmupSteps: 3,
    evalEvery: 15,
    evalWindows: 8,
    logEvery: 5,
    seed,
  });
}

describe('pretrain', () => {
  it('lowers the loss, writes a loadable checkpoint and a record, and is deterministic', async () => {
    const lines: string[] = [];
    const out1 = join(dir, 'run1');
    const r1 = await pretrain(tiny(out1), { log: (l) => lines.push(l), command: 'statetune x' });
    expect(r1.finalValLoss).toBeLessThan(r1.initialValLoss - 1);
    const trainLosses = r1.losses.map((p) => p.trainLoss);
    expect(trainLosses.at(-1)).toBeLessThan(trainLosses[0]);
    expect(lines.some((l) => l.includes('step 30/30') && l.includes('val_loss'))).toBe(true);

    const record = JSON.parse(await readFile(join(out1, 'pretrain.json'), 'utf8'));
    expect(record.command).toBe('statetune x');
    expect(record.options.d_model).toBe(16);
    expect(record.tokenizer).toBe('byte');
    expect(record.losses.at(-1).step).toBe(30);
    expect(record.final_val_loss).toBeCloseTo(r1.finalValLoss, 6);

    const loaded = await loadMamba(out1);
    expect(loaded.config.dModel).toBe(16);
    expect(loaded.config.vocabSize).toBe(264); // 257 byte-tokenizer ids padded to a multiple of 8
    const a = r1.model.stateDict();
    for (const [name, t] of loaded.stateDict()) {
      expect(Array.from(t.dataSync()), name).toEqual(Array.from(a.get(name)!.dataSync()));
    }

    const r2 = await pretrain(tiny(join(dir, 'run2')), { log: () => {} });
    expect(r2.losses.map((p) => p.trainLoss)).toEqual(trainLosses);
    const b = r2.model.stateDict();
    for (const [name, t] of a) {
      expect(Array.from(b.get(name)!.dataSync()), name).toEqual(Array.from(t.dataSync()));
    }

    const r3 = await pretrain(tiny(join(dir, 'run3'), 4), { log: () => {} });
    expect(r3.losses.map((p) => p.trainLoss)).not.toEqual(trainLosses);
  });

  it('reads a folder of .txt files', async () => {
    const r = await pretrain(
      resolvePretrainOptions({
        data: [dir],
        out: join(dir, 'run4'),
        dModel: 8,
        nLayer: 1,
        dState: 2,
        seqLen: 16,
        batchSize: 2,
        steps: 2,
        warmupSteps: 0,
        evalWindows: 2,
      }),
      { log: () => {} },
    );
    expect(r.trainTokens + r.valTokens).toBe(2 * (Buffer.byteLength(TEXT) + 1));
  });

  it('reads only the first column of a .tsv file', async () => {
    const tsv = join(dir, 'sentences.tsv');
    await writeFile(tsv, 'sentence\tlabel\na good film \t1\na dull one \t0\n');
    const r = await pretrain(
      resolvePretrainOptions({
        data: [tsv],
        out: join(dir, 'run5'),
        dModel: 8,
        nLayer: 1,
        dState: 2,
        seqLen: 4,
        batchSize: 2,
        steps: 1,
        warmupSteps: 0,
        evalWindows: 1,
        valFraction: 0.2,
      }),
      { log: () => {} },
    );
    // "a good film\na dull one" and EOS: the header and the labels are not read.
    expect(r.trainTokens + r.valTokens).toBe('a good film\na dull one'.length + 1);
  });

  it('reads YAML configs and rejects bad options with the nearest key', async () => {
    const cfg = join(dir, 'p.yaml');
    await writeFile(cfg, 'data: a.txt\nout: model\nd_model: 24\nlearning_rate: 0.001\n');
    const raw = await readPretrainConfig(cfg);
    expect(raw.data).toEqual([join(dir, 'a.txt')]);
    expect(raw.out).toBe(join(dir, 'model'));
    expect(resolvePretrainOptions(raw).dModel).toBe(24);

    await writeFile(cfg, 'data: a.txt\nd_modle: 24\n');
    await expect(readPretrainConfig(cfg)).rejects.toThrow(/unknown key "d_modle".*"d_model"/);
    expect(() => resolvePretrainOptions({ data: ['x'], out: 'y', steps: 0 })).toThrow(
      PretrainError,
    );
    expect(() => resolvePretrainOptions({ out: 'y' })).toThrow(/"data" is required/);
    expect(() => resolvePretrainOptions({ data: ['x'], out: 'y', schedule: 'cos' })).toThrow(
      /cosine, linear or constant/,
    );
    await expect(
      pretrain(resolvePretrainOptions({ data: [join(dir, 'missing.txt')], out: 'y' }), {
        log: () => {},
      }),
    ).rejects.toThrow(/missing\.txt does not exist/);
  });
});
