import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Backend, setBackend, type Tensor, tensorsToSafetensors } from '@statetune/tensor';
import { loadSafetensors } from '@statetune/tensor/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, PeftError, type PeftModel } from '../src/index.js';
import {
  findAdapters,
  loadAdapter,
  loadPeftModel,
  readAdapterConfig,
  saveAdapter,
  writeAdapterFiles,
} from '../src/node.js';
import {
  gpuBackend,
  METHOD_CASES,
  perturb,
  relErr,
  smallModel,
  tokenRows,
  values,
  valuesOf,
} from './helpers.js';

const ids = tokenRows(2, 6);
const logitsOf = (p: PeftModel) => values(p.forward({ inputIds: ids }).logits);

let root: string;
let count = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'statetune-peft-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
const freshDir = () => join(root, `case-${count++}`);

describe.each(METHOD_CASES)('%s saved and loaded', (type, config) => {
  it('round trip: same logits, PEFT keys and adapter_config.json', async () => {
    const peft = getPeftModel(smallModel(), config);
    perturb(peft.adapter());
    const want = logitsOf(peft);
    const dir = freshDir();
    await saveAdapter(peft, dir, { baseModelNameOrPath: 'tiny/mamba' });
    expect((await readdir(dir)).sort()).toEqual([
      'adapter_config.json',
      'adapter_model.safetensors',
    ]);

    const json = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8'));
    expect(json).toMatchObject({
      peft_type: type,
      base_model_name_or_path: 'tiny/mamba',
      inference_mode: true,
      task_type: 'CAUSAL_LM',
    });
    const { tensors } = await loadSafetensors(join(dir, 'adapter_model.safetensors'));
    const a = peft.adapter();
    const keys = [...a.adapterStateDict().keys()].map((k) => a.keyPrefix + k);
    expect([...tensors.keys()].sort()).toEqual(keys.sort());
    for (const k of tensors.keys()) {
      expect(k.startsWith('base_model.model.backbone.') || k === 'prompt_embeddings', k).toBe(true);
    }

    const loaded = await loadPeftModel(smallModel(), dir);
    expect(loaded.peftConfig.get('default')?.peft_type).toBe(type);
    expect(logitsOf(loaded)).toEqual(want);
    // Loaded for inference: frozen.
    expect(loaded.getNbTrainableParameters().trainable).toBe(0);
    expect(loaded.peftConfig.get('default')?.inference_mode).toBe(true);
    const trainable = await loadPeftModel(smallModel(), dir, { isTrainable: true });
    expect(trainable.peftConfig.get('default')?.inference_mode).toBe(false);
    expect(trainable.getNbTrainableParameters().trainable).toBe(
      peft.getNbTrainableParameters().trainable,
    );
  });

  if (type !== 'FULL_FINETUNING') {
    it('loadAdapter adds it under a name beside another adapter', async () => {
      const peft = getPeftModel(smallModel(), config);
      perturb(peft.adapter(), 5);
      const want = logitsOf(peft);
      const dir = freshDir();
      await saveAdapter(peft, dir);
      const other = getPeftModel(smallModel(), {
        peft_type: 'STATE_OFFSET_TUNING',
        init: 'random',
      });
      await loadAdapter(other, dir, { adapterName: 'loaded' });
      expect(other.adapterNames).toEqual(['default', 'loaded']);
      expect(other.activeAdapter).toBe('default');
      other.setAdapter('loaded');
      expect(logitsOf(other)).toEqual(want);
    });
  }
});

describe('several named adapters', () => {
  it('are saved as PEFT lays them out: default in the folder, others in <folder>/<name>', async () => {
    const peft = getPeftModel(smallModel(), { peft_type: 'STATE_OFFSET_TUNING', init: 'random' });
    peft.addAdapter(
      { peft_type: 'STATE_OFFSET_TUNING', variant: 'y', init: 'random' },
      { adapterName: 'sst2' },
    );
    peft.addAdapter({ peft_type: 'INITIAL_STATE_TUNING', init: 'random' }, { adapterName: 'qa' });
    const dir = freshDir();
    await saveAdapter(peft, dir);
    expect((await readdir(dir)).sort()).toEqual([
      'adapter_config.json',
      'adapter_model.safetensors',
      'qa',
      'sst2',
    ]);
    expect((await readAdapterConfig(join(dir, 'sst2'))).peft_type).toBe('STATE_OFFSET_TUNING');
    const found = await findAdapters(dir);
    expect(found.map((f) => [f.name, f.config?.peft_type, f.problem])).toEqual([
      ['default', 'STATE_OFFSET_TUNING', null],
      ['qa', 'INITIAL_STATE_TUNING', null],
      ['sst2', 'STATE_OFFSET_TUNING', null],
    ]);

    const back = await loadPeftModel(smallModel(), dir);
    for (const f of found.slice(1)) await loadAdapter(back, f.dir, { adapterName: f.name });
    for (const name of ['default', 'sst2', 'qa']) {
      peft.setAdapter(name);
      back.setAdapter(name);
      expect(logitsOf(back), name).toEqual(logitsOf(peft));
    }
  });

  it('selectedAdapters saves only those, and an unknown name writes nothing', async () => {
    const peft = getPeftModel(smallModel(), { peft_type: 'STATE_OFFSET_TUNING' });
    peft.addAdapter({ peft_type: 'STATE_OFFSET_TUNING' }, { adapterName: 'b' });
    const dir = freshDir();
    await saveAdapter(peft, dir, { selectedAdapters: ['b'] });
    expect(await readdir(dir)).toEqual(['b']);
    const other = freshDir();
    await expect(saveAdapter(peft, other, { selectedAdapters: ['b', 'zz'] })).rejects.toThrow(
      /no adapter named "zz"/,
    );
    expect(await readdir(other).catch(() => 'absent')).toBe('absent');
  });

  it('saving again replaces the files and leaves no temporary files', async () => {
    const peft = getPeftModel(smallModel(), { peft_type: 'STATE_OFFSET_TUNING', init: 'random' });
    const dir = freshDir();
    await saveAdapter(peft, dir);
    perturb(peft.adapter(), 9);
    await saveAdapter(peft, dir);
    expect((await readdir(dir)).sort()).toEqual([
      'adapter_config.json',
      'adapter_model.safetensors',
    ]);
    expect(logitsOf(await loadPeftModel(smallModel(), dir))).toEqual(logitsOf(peft));
  });
});

describe('folders that cannot be loaded', () => {
  /** A folder with a valid saved state-offset adapter, for breaking one piece. */
  async function goodFolder(): Promise<string> {
    const peft = getPeftModel(smallModel(), { peft_type: 'STATE_OFFSET_TUNING', init: 'random' });
    const dir = freshDir();
    await saveAdapter(peft, dir, { baseModelNameOrPath: 'tiny' });
    return dir;
  }

  /** Loads `dir` into a PeftModel and checks the error and that the model did not change. */
  async function expectRejected(dir: string, message: RegExp): Promise<void> {
    const peft = getPeftModel(smallModel(), { peft_type: 'STATE_OFFSET_TUNING', init: 'random' });
    const before = logitsOf(peft);
    const trainable = peft.trainableParameters();
    const err = await loadAdapter(peft, dir, { adapterName: 'new' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PeftError);
    expect((err as Error).message).toMatch(message);
    expect(peft.adapterNames).toEqual(['default']);
    expect(peft.activeAdapter).toBe('default');
    expect(peft.trainableParameters()).toEqual(trainable);
    expect(logitsOf(peft)).toEqual(before);
    // A new PeftModel from the folder fails the same way and leaves the model trainable.
    const model = smallModel();
    await expect(loadPeftModel(model, dir)).rejects.toThrow(message);
    for (const p of model.parameters()) expect(p.requiresGrad).toBe(true);
    for (const m of model.mixers) expect(m.stateOffset).toBeNull();
  }

  async function editConfig(dir: string, edit: (c: Record<string, unknown>) => void) {
    const path = join(dir, 'adapter_config.json');
    const c = JSON.parse(await readFile(path, 'utf8'));
    edit(c);
    await writeFile(path, JSON.stringify(c));
  }

  async function rewriteTensors(dir: string, edit: (t: Map<string, Tensor>) => void) {
    const path = join(dir, 'adapter_model.safetensors');
    const { tensors } = await loadSafetensors(path);
    edit(tensors);
    await writeFile(path, await tensorsToSafetensors(tensors));
  }

  it('a folder that does not exist', async () => {
    await expectRejected(join(root, 'nowhere'), /adapter folder .*nowhere does not exist/);
  });

  it('a file instead of a folder', async () => {
    const dir = await goodFolder();
    await expectRejected(join(dir, 'adapter_config.json'), /is not a folder/);
  });

  it('no adapter_config.json', async () => {
    const dir = await goodFolder();
    await rm(join(dir, 'adapter_config.json'));
    await expectRejected(dir, /no adapter_config\.json/);
  });

  it('no weights', async () => {
    const dir = await goodFolder();
    await rm(join(dir, 'adapter_model.safetensors'));
    await expectRejected(dir, /no adapter_model\.safetensors beside adapter_config\.json/);
  });

  it('adapter_model.bin only', async () => {
    const dir = await goodFolder();
    await rm(join(dir, 'adapter_model.safetensors'));
    await writeFile(join(dir, 'adapter_model.bin'), new Uint8Array(16));
    await expectRejected(dir, /has adapter_model\.bin but no adapter_model\.safetensors/);
  });

  it('adapter_config.json that is not JSON', async () => {
    const dir = await goodFolder();
    await writeFile(join(dir, 'adapter_config.json'), '{"peft_type": "STATE_OFFSET_TUNING",');
    await expectRejected(dir, /adapter_config\.json is not valid JSON/);
  });

  it('an unknown key, with the nearest valid one', async () => {
    const dir = await goodFolder();
    await editConfig(dir, (c) => {
      c.layers_to_tranform = null;
    });
    await expectRejected(
      dir,
      /adapter_config\.json: unknown key "layers_to_tranform" \(did you mean "layers_to_transform"\?\)/,
    );
  });

  it('a peft_type this package does not know', async () => {
    const dir = await goodFolder();
    await editConfig(dir, (c) => {
      c.peft_type = 'IA3';
    });
    await expectRejected(dir, /"peft_type" must be one of .*got "IA3"/);
  });

  it('a peft_type that does not match the tensors', async () => {
    const dir = await goodFolder();
    await editConfig(dir, (c) => {
      c.peft_type = 'INITIAL_STATE_TUNING';
      c.variant = undefined;
      c.r = undefined;
    });
    await expectRejected(
      dir,
      /missing 2 tensor\(s\).*initial_state.*INITIAL_STATE_TUNING adapter does not have/,
    );
  });

  it('tensors of another model, naming the tensor and both shapes', async () => {
    const peft = getPeftModel(smallModel(0, { dState: 6 }), { peft_type: 'STATE_OFFSET_TUNING' });
    const dir = freshDir();
    await saveAdapter(peft, dir, { baseModelNameOrPath: 'bigger' });
    await expectRejected(
      dir,
      /backbone\.layers\.0\.mixer\.state_offset is \[32,6\] but this model needs \[32,4\].*another model/,
    );
  });

  it('a config for a deeper model', async () => {
    const dir = await goodFolder();
    await editConfig(dir, (c) => {
      c.layers_to_transform = [0, 7];
    });
    await expectRejected(dir, /layers_to_transform names layer\(s\) 7 but the model has 2 layers/);
  });

  it('a missing tensor', async () => {
    const dir = await goodFolder();
    await rewriteTensors(dir, (t) =>
      t.delete('base_model.model.backbone.layers.1.mixer.state_offset'),
    );
    await expectRejected(dir, /missing 1 tensor\(s\): backbone\.layers\.1\.mixer\.state_offset/);
  });

  it('an extra tensor', async () => {
    const dir = await goodFolder();
    await rewriteTensors(dir, (t) =>
      t.set(
        'base_model.model.backbone.layers.0.mixer.output_offset',
        t.get('base_model.model.backbone.layers.0.mixer.state_offset') as Tensor,
      ),
    );
    await expectRejected(
      dir,
      /1 tensor\(s\) this STATE_OFFSET_TUNING adapter does not have: backbone\.layers\.0\.mixer\.output_offset/,
    );
  });

  it('a key without the PEFT prefix', async () => {
    const dir = await goodFolder();
    await rewriteTensors(dir, (t) => {
      const k = 'base_model.model.backbone.layers.0.mixer.state_offset';
      t.set('backbone.layers.0.mixer.state_offset', t.get(k) as Tensor);
      t.delete(k);
    });
    await expectRejected(dir, /does not start with "base_model\.model\."/);
  });

  it('weights that are not safetensors', async () => {
    const dir = await goodFolder();
    await writeFile(join(dir, 'adapter_model.safetensors'), new Uint8Array([1, 2, 3, 4, 5]));
    await expectRejected(dir, /adapter_model\.safetensors/);
  });

  it('writeAdapterFiles creates the folder', async () => {
    const dir = join(freshDir(), 'deep', 'er');
    const peft = getPeftModel(smallModel(), { peft_type: 'STATE_OFFSET_TUNING' });
    const { adapterToFiles } = await import('../src/index.js');
    await writeAdapterFiles(dir, await adapterToFiles(peft));
    expect((await readAdapterConfig(dir)).peft_type).toBe('STATE_OFFSET_TUNING');
  });
});

const gpu = await gpuBackend('peft webgpu save-load');

describe.skipIf(!gpu)('adapters trained on WebGPU', () => {
  afterAll(async () => {
    await setBackend('cpu');
  });

  it.each([
    { peft_type: 'STATE_OFFSET_TUNING', variant: 'h', r: 2 },
    { peft_type: 'LORA', r: 2 },
  ] as const)('$peft_type saved from the GPU loads on the CPU', async (config) => {
    const dir = freshDir();
    let want: number[];
    await setBackend(gpu as Backend);
    try {
      const peft = getPeftModel(smallModel(), config);
      perturb(peft.adapter());
      const { logits } = peft.forward({ inputIds: ids });
      expect(logits.backend.name).toBe('webgpu');
      want = await valuesOf(logits);
      await saveAdapter(peft, dir);
    } finally {
      await setBackend('cpu');
    }
    const loaded = await loadPeftModel(smallModel(), dir);
    expect(relErr(logitsOf(loaded), want)).toBeLessThan(1e-5);
  });
});
