import type { Tensor } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import { getPeftModel } from '../src/index.js';
import {
  expectForward,
  fixtureMethod,
  GRAD_TOL,
  loadCase,
  relErr,
  rows,
  tinyManifest,
  tinyModel,
  values,
} from './helpers.js';

const methods = Object.keys(tinyManifest().methods).filter((m) => m !== 'base');

/** A PeftModel on mamba-tiny with the case's adapter tensors loaded through the saved keys. */
async function setup(method: string) {
  const c = await loadCase(method);
  const { config, key } = fixtureMethod(method, c);
  const peft = getPeftModel(await tinyModel(), config);
  const tensors = new Map<string, Tensor>();
  for (const [name, t] of c) {
    if (name.startsWith('adapter.')) tensors.set(key(name.slice('adapter.'.length)), t);
  }
  expect(tensors.size).toBeGreaterThan(0);
  peft.adapter().loadAdapterStateDict(tensors, method);
  return { peft, c, key };
}

it('cases.json lists the PEFT methods besides base', () => {
  // describe.each over an empty list would run nothing and pass.
  expect(methods.length).toBeGreaterThan(0);
});

describe.each(methods)('mamba-tiny %s as a PEFT adapter', (method) => {
  it('logits, loss and the gradients of the adapter tensors', async () => {
    const { peft, c, key } = await setup(method);
    const { logits, loss } = peft.forward({
      inputIds: c.get('input_ids') as Tensor,
      labels: c.get('labels') as Tensor,
    });
    expectForward(c, logits, loss);
    loss?.backward();
    const own = new Map(peft.adapter().namedParameters());
    let checked = 0;
    for (const [name, expected] of c) {
      if (!name.startsWith('expected.grad.')) continue;
      const p = own.get(key(name.slice('expected.grad.'.length)));
      expect(p, name).toBeDefined();
      expect(p?.grad, name).not.toBeNull();
      expect(relErr(values(p?.grad as Tensor), values(expected)), name).toBeLessThan(GRAD_TOL);
      checked++;
    }
    expect(checked).toBe(own.size);
    // Base weights are frozen: no gradient reaches them.
    for (const p of peft.baseModel.parameters()) expect(p.grad).toBeNull();
  });

  it('greedy tokens from input_ids[:, :5] with the adapter active', async () => {
    const { peft, c } = await setup(method);
    const expected = rows(c.get('expected.greedy_tokens') as Tensor);
    const prompts = rows(c.get('input_ids') as Tensor).map((r) => r.slice(0, 5));
    const out = await peft.generate(prompts, {
      maxNewTokens: expected[0].length,
      eosTokenId: null,
    });
    expect(out.sequences).toEqual(expected);
  });
});
