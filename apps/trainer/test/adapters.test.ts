import { join } from 'node:path';
import { getPeftModel } from '@statetune/peft';
import { saveAdapter } from '@statetune/peft/node';
import { Generator, noGrad, randn, tensor } from '@statetune/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapterRunner, loadAdapters } from '../src/run/adapters.js';
import { loadModel } from '../src/run/setup.js';
import { tempDir, tinyModel } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let modelDir: string;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  modelDir = await tinyModel(dir);
});
afterAll(() => cleanup());

describe('loaded adapters', () => {
  it('are in evaluation mode: LoRA dropout does not change what eval and generate compute', async () => {
    // A LoRA adapter with heavy dropout and non-zero weights (B starts at zero, which would
    // hide dropout), saved as an adapter folder.
    const peft = getPeftModel(await loadModel(modelDir), {
      peft_type: 'LORA',
      r: 2,
      lora_dropout: 0.5,
    });
    const g = new Generator(3);
    noGrad(() => {
      for (const p of peft.trainableParameters()) p.assign(randn(p.shape, { generator: g }));
    });
    const adapterDir = join(dir, 'lora');
    await saveAdapter(peft, adapterDir);

    const loaded = await loadAdapters(await loadModel(modelDir), [adapterDir]);
    const runner = adapterRunner(loaded.peft as NonNullable<typeof loaded.peft>, loaded.names[0]);
    const logits = async () => {
      const out = runner.forward({
        inputIds: tensor(new Int32Array([5, 9, 17, 33]), { shape: [1, 4] }),
      });
      const data = Array.from(await out.logits.data());
      out.logits.dispose();
      return data;
    };
    expect(await logits()).toEqual(await logits());
  });
});
