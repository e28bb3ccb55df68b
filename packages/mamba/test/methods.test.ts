import type { Tensor } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import { generate } from '../src/index.js';
import { attachAdapter } from './adapters.js';
import {
  expectForward,
  GRAD_TOL,
  loadCase,
  relErr,
  rows,
  tinyManifest,
  tinyModel,
  values,
} from './helpers.js';

const methods = Object.keys(tinyManifest().methods).filter((m) => m !== 'base');

async function setup(method: string) {
  const model = await tinyModel();
  model.freeze();
  const c = await loadCase(method);
  const adapter = new Map<string, Tensor>();
  for (const [name, t] of c) {
    if (name.startsWith('adapter.')) adapter.set(name.slice('adapter.'.length), t.requiresGrad_());
  }
  expect(adapter.size).toBeGreaterThan(0);
  const { prefixEmbeds } = attachAdapter(model, adapter);
  return { model, c, adapter, prefixEmbeds };
}

it('cases.json lists the PEFT methods besides base', () => {
  // describe.each over an empty list would run nothing and pass.
  expect(methods.length).toBeGreaterThan(0);
});

describe.each(methods)('mamba-tiny %s through the PEFT entry points', (method) => {
  it('logits, loss and adapter gradients', async () => {
    const { model, c, adapter, prefixEmbeds } = await setup(method);
    const { logits, loss } = model.forward({
      inputIds: c.get('input_ids') as Tensor,
      labels: c.get('labels') as Tensor,
      prefixEmbeds,
    });
    expectForward(c, logits, loss);
    loss?.backward();
    for (const [name, t] of adapter) {
      const expected = c.get(`expected.grad.${name}`);
      expect(expected, `expected.grad.${name}`).toBeDefined();
      expect(t.grad, name).not.toBeNull();
      expect(relErr(values(t.grad as Tensor), values(expected as Tensor)), name).toBeLessThan(
        GRAD_TOL,
      );
    }
    for (const p of model.parameters()) expect(p.grad).toBeNull();
  });

  it('greedy tokens from input_ids[:, :5] with the adapter active', async () => {
    const { model, c, prefixEmbeds } = await setup(method);
    const expected = rows(c.get('expected.greedy_tokens') as Tensor);
    const prompts = rows(c.get('input_ids') as Tensor).map((r) => r.slice(0, 5));
    const out = await generate(model, prompts, {
      maxNewTokens: expected[0].length,
      eosTokenId: null,
      prefixEmbeds,
    });
    expect(out.sequences).toEqual(expected);
  });
});
