import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import {
  type Checkpoint,
  CheckpointValidationError,
  type GenerateOptions,
  generate,
  MambaForCausalLM,
  MambaModelError,
  mambaConfig,
} from '../src/index.js';
import { loadMamba, openCheckpoint, saveMamba } from '../src/node.js';
import { fixturesDir, values } from './helpers.js';

async function tiny(): Promise<Checkpoint> {
  return openCheckpoint(join(fixturesDir(), 'mamba-tiny'));
}

describe('fromCheckpoint', () => {
  it('copies every tensor and reports progress', async () => {
    const ckpt = await tiny();
    const seen: string[] = [];
    const model = await MambaForCausalLM.fromCheckpoint(ckpt, {
      onTensor: (name) => seen.push(name),
    });
    expect(seen).toEqual(ckpt.tensors().map((t) => t.name));
    const a = await ckpt.read('backbone.layers.1.mixer.A_log');
    expect(values(model.getTensor('backbone.layers.1.mixer.A_log'))).toEqual(Array.from(a));
    await ckpt.close();
  });

  it('refuses a checkpoint that does not fit, naming the tensors', async () => {
    const ckpt = await tiny();
    const broken: Checkpoint = {
      ...ckpt,
      config: ckpt.config,
      tensors: () =>
        ckpt
          .tensors()
          .filter((t) => t.name !== 'backbone.norm_f.weight')
          .map((t) => (t.name.endsWith('layers.0.mixer.D') ? { ...t, shape: [3] } : t)),
      read: (n) => ckpt.read(n),
      close: () => ckpt.close(),
    };
    const err = await MambaForCausalLM.fromCheckpoint(broken).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointValidationError);
    expect(String(err)).toMatch(/backbone\.norm_f\.weight/);
    expect(String(err)).toMatch(/layers\.0\.mixer\.D/);
    await ckpt.close();
  });
});

describe('generate options', () => {
  it('rejects bad options and prompts with a message', async () => {
    const ckpt = await tiny();
    const model = await MambaForCausalLM.fromCheckpoint(ckpt);
    await ckpt.close();
    const bad: [number[][], GenerateOptions, RegExp][] = [
      [[[1, 2]], { maxNewTokens: 0 }, /maxNewTokens must be an integer >= 1/],
      [[[1, 2]], { maxNewTokens: 2, numBeams: 2, numReturnSequences: 3 }, /numReturnSequences/],
      [[[1, 2]], { maxNewTokens: 2, doSample: true, temperature: 0 }, /temperature/],
      [[[1, 2]], { maxNewTokens: 2, topP: 1.5 }, /topP/],
      [[[]], { maxNewTokens: 2 }, /prompt 0 is empty/],
      [[[1, 99]], { maxNewTokens: 2 }, /token 99, outside the vocabulary/],
      [[], { maxNewTokens: 2 }, /no prompts/],
    ];
    for (const [prompts, options, message] of bad) {
      await expect(generate(model, prompts, options)).rejects.toThrow(MambaModelError);
      await expect(generate(model, prompts, options)).rejects.toThrow(message);
    }
  });
});

describe('saveMamba', () => {
  it('writes a Hugging Face checkpoint that loadMamba reads back with the same weights', async () => {
    const config = mambaConfig({ dModel: 16, nLayer: 2, vocabSize: 40, dState: 4 });
    const model = new MambaForCausalLM(config, { generator: new Generator(3) });
    const dir = await mkdtemp(join(tmpdir(), 'statetune-save-'));
    try {
      await saveMamba(model, dir);
      const json = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
      expect(json.model_type).toBe('mamba');
      expect(json.hidden_size).toBe(16);
      const back = await loadMamba(dir);
      const a = model.stateDict();
      const b = back.stateDict();
      expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
      for (const [name, t] of a) {
        expect(Array.from(b.get(name)?.dataSync() ?? []), name).toEqual(Array.from(t.dataSync()));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
