import { type Backend, setBackend, type Tensor } from '@statetune/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { generate, type MambaForCausalLM } from '../src/index.js';
import { attachAdapter } from './adapters.js';
import { loadCase, relErr, rows, tinyManifest, tinyModel, values } from './helpers.js';

const methods = Object.keys(tinyManifest().methods).filter((m) => m !== 'base');

/**
 * The WebGPU backend, or null (with the reason printed) when the package cannot be loaded or
 * the machine has no WebGPU adapter. Any other failure (a device that fails while the backend
 * starts, a kernel that does not compile) fails the tests instead of skipping them. With
 * STATETUNE_REQUIRE_WEBGPU=1 (CI) a missing adapter is a failure too.
 */
async function gpuBackend(): Promise<Backend | null> {
  const required = process.env.STATETUNE_REQUIRE_WEBGPU === '1';
  let webgpu: typeof import('@statetune/webgpu');
  try {
    webgpu = await import('@statetune/webgpu');
  } catch (err) {
    if (required) throw err;
    console.warn(`mamba webgpu tests skipped: ${(err as Error).message}`);
    return null;
  }
  try {
    return await webgpu.createWebGpuBackend();
  } catch (err) {
    if (required || !(err instanceof webgpu.WebGpuUnavailableError)) throw err;
    console.warn(`mamba webgpu tests skipped: ${(err as Error).message}`);
    return null;
  }
}

const gpu = await gpuBackend();

async function onGpu(): Promise<MambaForCausalLM> {
  await setBackend(gpu as Backend);
  return tinyModel();
}

describe.skipIf(!gpu)('mamba-tiny on webgpu', () => {
  afterAll(async () => {
    await setBackend('cpu');
  });

  it('base case: logits, loss and gradients', async () => {
    const model = await onGpu();
    const c = await loadCase('base');
    const move = (t: Tensor) => t.to(gpu as Backend);
    const { logits, loss } = model.forward({
      inputIds: await move(c.get('input_ids') as Tensor),
      labels: await move(c.get('labels') as Tensor),
    });
    expect(logits.backend).toBe(gpu);
    const got = Array.from(await logits.data());
    expect(relErr(got, values(c.get('expected.logits') as Tensor))).toBeLessThan(1e-5);
    const l = Array.from(await (loss as Tensor).data());
    expect(relErr(l, values(c.get('expected.loss') as Tensor))).toBeLessThan(1e-5);
    (loss as Tensor).backward();
    for (const [name, p] of model.namedParameters()) {
      const g = Array.from(await (p.grad as Tensor).data());
      expect(relErr(g, values(c.get(`expected.grad.${name}`) as Tensor)), name).toBeLessThan(1e-4);
    }
  });

  it.each(methods)('%s through the PEFT entry points: logits and loss', async (method) => {
    const model = await onGpu();
    const c = await loadCase(method);
    const adapter = new Map<string, Tensor>();
    for (const [name, t] of c) {
      if (name.startsWith('adapter.')) adapter.set(name.slice(8), await t.to(gpu as Backend));
    }
    const { prefixEmbeds } = attachAdapter(model, adapter);
    const { logits, loss } = model.forward({
      inputIds: await (c.get('input_ids') as Tensor).to(gpu as Backend),
      labels: await (c.get('labels') as Tensor).to(gpu as Backend),
      prefixEmbeds,
    });
    const got = Array.from(await logits.data());
    expect(relErr(got, values(c.get('expected.logits') as Tensor))).toBeLessThan(1e-5);
    const l = Array.from(await (loss as Tensor).data());
    expect(relErr(l, values(c.get('expected.loss') as Tensor))).toBeLessThan(1e-5);
  });

  it('greedy tokens from input_ids[:, :5]', async () => {
    const model = await onGpu();
    const c = await loadCase('base');
    const expected = rows(c.get('expected.greedy_tokens') as Tensor);
    const prompts = rows(c.get('input_ids') as Tensor).map((r) => r.slice(0, 5));
    const out = await generate(model, prompts, { maxNewTokens: 6, eosTokenId: null });
    expect(out.sequences).toEqual(expected);
  });
});
