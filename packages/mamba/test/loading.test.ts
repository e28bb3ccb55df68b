import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type Checkpoint,
  CheckpointValidationError,
  type GenerateOptions,
  generate,
  MambaForCausalLM,
  MambaModelError,
} from '../src/index.js';
import { openCheckpoint } from '../src/node.js';
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
