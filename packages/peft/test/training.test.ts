import { AdamW, type Backend, setBackend, type Tensor } from '@statetune/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { getPeftModel, type PeftConfigInput } from '../src/index.js';
import { gpuBackend, METHOD_CASES, smallModel, tokenRows } from './helpers.js';

/** The tiny task: learn to continue these fixed sequences. */
const ids = tokenRows(2, 8);
const STEPS = 4;

/** The loss before and after a few AdamW steps, on the current backend. */
async function train(
  config: PeftConfigInput,
): Promise<{ before: number; after: number; backend: string }> {
  const peft = getPeftModel(smallModel(), config);
  const backend = peft.trainableParameters()[0].backend.name;
  peft.train();
  const opt = new AdamW(peft.trainableParameters(), {
    lr: config.peft_type === 'FULL_FINETUNING' ? 3e-3 : 2e-2,
    weightDecay: 0,
  });
  const lossNow = async () => {
    const { loss } = peft.forward({ inputIds: ids, labels: ids });
    return loss as Tensor;
  };
  let before = Number.NaN;
  for (let step = 0; step < STEPS; step++) {
    const loss = await lossNow();
    if (step === 0) before = (await loss.data())[0];
    loss.backward();
    opt.step();
    opt.zeroGrad();
  }
  const after = (await (await lossNow()).data())[0];
  return { before, after, backend };
}

describe.each(METHOD_CASES)('%s training on the CPU', (_, config) => {
  it('a few AdamW steps lower the loss', async () => {
    const { before, after, backend } = await train(config);
    expect(backend).toBe('cpu');
    expect(Number.isFinite(before)).toBe(true);
    // More than float noise: an adapter the gradient never reaches leaves the loss equal.
    expect(after).toBeLessThan(before * (1 - 1e-5));
  });
});

const gpu = await gpuBackend('peft webgpu training');

describe.skipIf(!gpu)('training on WebGPU', () => {
  afterAll(async () => {
    await setBackend('cpu');
  });

  it.each(METHOD_CASES)('%s: a few AdamW steps lower the loss', async (_, config) => {
    await setBackend(gpu as Backend);
    try {
      const { before, after, backend } = await train(config);
      expect(backend).toBe('webgpu');
      expect(Number.isFinite(before)).toBe(true);
      expect(after).toBeLessThan(before * (1 - 1e-5));
    } finally {
      await setBackend('cpu');
    }
  });
});
