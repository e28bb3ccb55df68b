import { join } from 'node:path';
import type { Tensor } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import { generate } from '../src/index.js';
import { openCheckpoint } from '../src/node.js';
import {
  expectForward,
  fixturesDir,
  GRAD_TOL,
  loadCase,
  relErr,
  rows,
  TINY_FORMS,
  tinyManifest,
  tinyModel,
  values,
} from './helpers.js';

// The case whose method is base, found in the manifest.
const baseName = Object.keys(tinyManifest().methods).find((m) => m === 'base');

describe.each(TINY_FORMS)('the base case of mamba-tiny loaded from %s', (form) => {
  it('is listed in cases.json', () => {
    expect(baseName).toBe('base');
  });

  it('logits, loss and the gradient of every weight', async () => {
    const model = await tinyModel(form);
    const c = await loadCase(baseName as string);
    const { logits, loss } = model.forward({
      inputIds: c.get('input_ids') as Tensor,
      labels: c.get('labels') as Tensor,
    });
    expectForward(c, logits, loss);
    loss?.backward();
    const params = model.namedParameters();
    // The embedding and norm_f, and ten tensors per layer; the tied head is listed once.
    expect(params.length).toBe(2 + 10 * model.config.nLayer);
    for (const [name, p] of params) {
      const expected = c.get(`expected.grad.${name}`);
      expect(expected, `expected.grad.${name}`).toBeDefined();
      expect(p.grad, name).not.toBeNull();
      expect(relErr(values(p.grad as Tensor), values(expected as Tensor)), name).toBeLessThan(
        GRAD_TOL,
      );
    }
  });

  it('greedy tokens from input_ids[:, :5]', async () => {
    const model = await tinyModel(form);
    const c = await loadCase(baseName as string);
    const expected = rows(c.get('expected.greedy_tokens') as Tensor);
    const prompts = rows(c.get('input_ids') as Tensor).map((r) => r.slice(0, 5));
    const out = await generate(model, prompts, {
      maxNewTokens: expected[0].length,
      eosTokenId: null,
    });
    expect(out.sequences).toEqual(expected);
  });
});

describe('state dict', () => {
  it('uses the Hugging Face names, with lm_head tied to the embedding', async () => {
    const model = await tinyModel();
    const dict = model.stateDict();
    const ckpt = await openCheckpoint(join(fixturesDir(), 'mamba-tiny'));
    const names = ckpt.tensors().map((t) => t.name);
    await ckpt.close();
    expect([...dict.keys()].sort()).toEqual([...names, 'lm_head.weight'].sort());
    expect(dict.get('lm_head.weight')).toBe(dict.get('backbone.embeddings.weight'));
    expect([...dict.keys()]).toContain('backbone.layers.1.mixer.conv1d.weight');
    expect(dict.get('backbone.layers.0.mixer.conv1d.weight')?.shape).toEqual([64, 1, 4]);
  });
});
