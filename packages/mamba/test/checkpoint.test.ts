import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SafetensorsDType } from '@statetune/tensor';
import { readSafetensorsFile, writeSafetensorsFile } from '@statetune/tensor/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFloats } from '../src/checkpoint/convert.js';
import {
  type Checkpoint,
  canonicalTensorName,
  expectedTensors,
  openCheckpointFromFiles,
  validateCheckpoint,
} from '../src/checkpoint/index.js';
import { openCheckpoint } from '../src/checkpoint/node.js';
import { parseMambaConfig } from '../src/config.js';
import {
  stateDictPickle,
  type TorchTensorSpec,
  torchArchive,
} from './fixtures-hostile/builders.js';
import { fixturesDir } from './helpers.js';

const HF = join(fixturesDir(), 'mamba-tiny');
const SSM = join(fixturesDir(), 'mamba-tiny-ssm');
const BIN = join(fixturesDir(), 'mamba-tiny-bin');

/** The reference weights: the Hugging Face fixture read by the tensor core's own reader. */
let reference: Map<string, { shape: number[]; values: Float32Array }>;
let tmp: string;

beforeAll(async () => {
  const { tensors } = await readSafetensorsFile(join(HF, 'model.safetensors'));
  reference = new Map();
  for (const [name, t] of tensors)
    reference.set(name, { shape: t.shape, values: t.values as Float32Array });
  tmp = await mkdtemp(join(tmpdir(), 'statetune-ckpt-'));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function bits(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

/** Checks that a checkpoint validates and gives exactly `expected` for every canonical name. */
async function expectSameWeights(
  ckpt: Checkpoint,
  expected: Map<string, { shape: readonly number[]; values: Float32Array }> = reference,
): Promise<void> {
  validateCheckpoint(ckpt);
  const names = ckpt.tensors().map((t) => t.name);
  expect(names).toEqual([...expectedTensors(ckpt.config).keys()]);
  expect(names.sort()).toEqual([...expected.keys()].sort());
  for (const info of ckpt.tensors()) {
    const want = expected.get(info.name)!;
    expect(info.shape, info.name).toEqual(want.shape);
    const got = await ckpt.read(info.name);
    expect(got).toBeInstanceOf(Float32Array);
    expect(bits(got), info.name).toEqual(bits(want.values));
  }
}

describe('fixture checkpoints', () => {
  const cases = [
    { dir: HF, layout: 'hf', format: 'safetensors', weights: 'model.safetensors' },
    { dir: SSM, layout: 'state-spaces', format: 'safetensors', weights: 'model.safetensors' },
    { dir: BIN, layout: 'state-spaces', format: 'pytorch', weights: 'pytorch_model.bin' },
  ] as const;

  for (const c of cases) {
    it(`opens ${c.dir.split(/[\\/]/).pop()} from disk with bit-identical tensors`, async () => {
      const ckpt = await openCheckpoint(c.dir);
      try {
        expect(ckpt.layout).toBe(c.layout);
        expect(ckpt.format).toBe(c.format);
        expect(ckpt.config.dModel).toBe(32);
        await expectSameWeights(ckpt);
        // Tied: the head reads as the embedding and is not listed.
        expect(ckpt.tensors().some((t) => t.name === 'lm_head.weight')).toBe(false);
        expect(bits(await ckpt.read('lm_head.weight'))).toEqual(
          bits(reference.get('backbone.embeddings.weight')!.values),
        );
        const embedding = ckpt.tensors()[0];
        expect(embedding.sourceName).toBe(
          c.layout === 'hf' ? 'backbone.embeddings.weight' : 'backbone.embedding.weight',
        );
        expect(embedding.dtype).toBe('F32');
        await expect(ckpt.read('backbone.nope')).rejects.toThrow(/has no tensor "backbone.nope"/);
      } finally {
        await ckpt.close();
      }
      await expect(ckpt.read('backbone.norm_f.weight')).rejects.toThrow(/closed/);
    });

    it(`opens ${c.dir.split(/[\\/]/).pop()} from in-memory files (the browser path)`, async () => {
      const files = {
        'config.json': await readFile(join(c.dir, 'config.json')),
        [c.weights]: new Blob([await readFile(join(c.dir, c.weights))]),
      };
      const ckpt = await openCheckpointFromFiles(files, 'mem');
      expect(ckpt.layout).toBe(c.layout);
      expect(ckpt.format).toBe(c.format);
      await expectSameWeights(ckpt);
      await ckpt.close();
    });
  }

  it('maps the state-spaces embedding name to the canonical one', () => {
    expect(canonicalTensorName('backbone.embedding.weight')).toBe('backbone.embeddings.weight');
    expect(canonicalTensorName('backbone.layers.3.mixer.A_log')).toBe(
      'backbone.layers.3.mixer.A_log',
    );
  });

  it('lists the shapes a configuration implies', () => {
    const config = parseMambaConfig({ d_model: 768, n_layer: 24, vocab_size: 50277, ssm_cfg: {} });
    const shapes = expectedTensors(config);
    expect(shapes.size).toBe(1 + 24 * 10 + 1);
    expect(shapes.get('backbone.embeddings.weight')).toEqual([50280, 768]);
    expect(shapes.get('backbone.layers.23.mixer.x_proj.weight')).toEqual([48 + 32, 1536]);
    expect(shapes.get('backbone.layers.0.mixer.conv1d.weight')).toEqual([1536, 1, 4]);
    expect(shapes.get('backbone.layers.0.mixer.dt_proj.weight')).toEqual([1536, 48]);
    expect(shapes.has('lm_head.weight')).toBe(false);
    const untied = expectedTensors({
      ...config,
      tieEmbeddings: false,
      useBias: true,
      convBias: false,
    });
    expect(untied.get('lm_head.weight')).toEqual([50280, 768]);
    expect(untied.get('backbone.layers.0.mixer.in_proj.bias')).toEqual([3072]);
    expect(untied.get('backbone.layers.0.mixer.out_proj.bias')).toEqual([768]);
    expect(untied.has('backbone.layers.0.mixer.conv1d.bias')).toBe(false);
  });
});

/** Writes the reference weights as safetensors with every tensor stored as `storeAs`. */
async function writeAs(
  path: string,
  names: readonly string[],
  storeAs: SafetensorsDType,
): Promise<void> {
  const tensors = Object.fromEntries(
    names.map((n) => {
      const t = reference.get(n)!;
      return [n, { dtype: 'float32' as const, shape: t.shape, values: t.values, storeAs }];
    }),
  );
  await writeSafetensorsFile(path, tensors);
}

describe('sharded safetensors', () => {
  it('opens model.safetensors.index.json with two shards', async () => {
    const dir = join(tmp, 'sharded');
    await rm(dir, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    await writeFile(join(dir, 'config.json'), await readFile(join(HF, 'config.json')));
    const names = [...reference.keys()];
    const half = Math.ceil(names.length / 2);
    const shards = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    await writeAs(join(dir, shards[0]), names.slice(0, half), 'F32');
    await writeAs(join(dir, shards[1]), names.slice(half), 'F32');
    const weightMap = Object.fromEntries(names.map((n, i) => [n, shards[i < half ? 0 : 1]]));
    await writeFile(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }),
    );
    const ckpt = await openCheckpoint(dir);
    expect(ckpt.format).toBe('safetensors');
    await expectSameWeights(ckpt);
    await ckpt.close();

    // The same files in memory.
    const files: Record<string, Uint8Array> = {};
    for (const f of ['config.json', 'model.safetensors.index.json', ...shards])
      files[f] = await readFile(join(dir, f));
    const mem = await openCheckpointFromFiles(files);
    await expectSameWeights(mem);
    await mem.close();

    // An index that names a tensor its shard lacks, or a shard that does not exist.
    const bad = { ...weightMap, 'backbone.norm_f.weight': shards[0] };
    await expect(
      openCheckpointFromFiles({
        ...files,
        'model.safetensors.index.json': new TextEncoder().encode(
          JSON.stringify({ weight_map: bad }),
        ),
      }),
    ).rejects.toThrow(
      /model.safetensors.index.json: says tensor "backbone.norm_f.weight" is in model-00001-of-00002.safetensors/,
    );
    const { [shards[1]]: _, ...missingShard } = files;
    await expect(openCheckpointFromFiles(missingShard)).rejects.toThrow(
      /lists shard "model-00002-of-00002.safetensors", which does not exist/,
    );
  });
});

describe('F16, BF16 and F64 storage', () => {
  it('decodes known bit patterns exactly', () => {
    const f16 = new Uint8Array(
      new Uint16Array([0x3e00, 0x0001, 0x7c00, 0xfc00, 0xc248, 0x8000, 0x7bff]).buffer,
    );
    expect([...decodeFloats(f16, 'F16', 7)]).toEqual([
      1.5,
      2 ** -24,
      Infinity,
      -Infinity,
      -3.140625,
      -0,
      65504,
    ]);
    const bf16 = new Uint8Array(new Uint16Array([0x3fc0, 0xc049, 0x7f80, 0x0001]).buffer);
    expect([...decodeFloats(bf16, 'BF16', 4)]).toEqual([1.5, -3.140625, Infinity, 2 ** -133]);
    expect(Number.isNaN(decodeFloats(new Uint8Array([0x00, 0x7e]), 'F16', 1)[0])).toBe(true);
    const be = new Uint8Array([0x3f, 0xc0, 0x00, 0x00]);
    expect(decodeFloats(be, 'F32', 1, false)[0]).toBe(1.5);
    const f64 = new Uint8Array(new Float64Array([0.1, -2]).buffer);
    expect([...decodeFloats(f64, 'F64', 2)]).toEqual([Math.fround(0.1), -2]);
  });

  for (const dtype of ['F16', 'BF16', 'F64'] as const) {
    it(`reads a ${dtype} safetensors checkpoint like the tensor core does`, async () => {
      const dir = join(tmp, dtype);
      await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
      await writeFile(join(dir, 'config.json'), await readFile(join(HF, 'config.json')));
      await writeAs(join(dir, 'model.safetensors'), [...reference.keys()], dtype);
      const decoded = (await readSafetensorsFile(join(dir, 'model.safetensors'))).tensors;
      const expected = new Map(
        [...decoded].map(([n, t]) => [n, { shape: t.shape, values: Float32Array.from(t.values) }]),
      );
      const ckpt = await openCheckpoint(dir);
      expect(ckpt.tensors()[0].dtype).toBe(dtype);
      await expectSameWeights(ckpt, expected);
      await ckpt.close();
      const mem = await openCheckpointFromFiles({
        'config.json': await readFile(join(dir, 'config.json')),
        'model.safetensors': await readFile(join(dir, 'model.safetensors')),
      });
      await expectSameWeights(mem, expected);
      await mem.close();
    });
  }
});

/** The reference weights under their state-spaces names. */
function ssmNames(): string[] {
  return [...reference.keys()].map((n) =>
    n === 'backbone.embeddings.weight' ? 'backbone.embedding.weight' : n,
  );
}

function refBySsmName(name: string) {
  return reference.get(canonicalTensorName(name))!;
}

function swap(bytes: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += size)
    for (let j = 0; j < size; j++) out[i + j] = bytes[i + size - 1 - j];
  return out;
}

describe('pytorch_model.bin variants', () => {
  let config: Uint8Array;
  beforeAll(async () => {
    config = await readFile(join(BIN, 'config.json'));
  });

  it('reads tensors packed into one storage at offsets, in an OrderedDict, zip64, big-endian', async () => {
    const names = ssmNames();
    const specs: TorchTensorSpec[] = [];
    const chunks: Float32Array[] = [];
    let offset = 3; // a storage that does not start with the first tensor
    chunks.push(new Float32Array(3).fill(Number.NaN));
    for (const name of names) {
      const t = refBySsmName(name);
      const stride = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
      specs.push({
        name,
        storage: '0',
        storageType: 'FloatStorage',
        storageNumel: 0,
        offset,
        shape: t.shape,
        stride,
      });
      chunks.push(t.values);
      offset += t.values.length;
    }
    const all = new Float32Array(offset);
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
    }
    const fixed = specs.map((s) => ({ ...s, storageNumel: offset }));
    const little = new Uint8Array(all.buffer);
    for (const variant of [
      { byteorder: 'little', bytes: little, zip64: false, ordered: true },
      { byteorder: 'big', bytes: swap(little, 4), zip64: true, ordered: false },
    ]) {
      const bin = torchArchive(
        stateDictPickle(fixed, variant.ordered),
        { '0': variant.bytes },
        variant,
      );
      const ckpt = await openCheckpointFromFiles({
        'config.json': config,
        'pytorch_model.bin': bin,
      });
      expect(ckpt.format).toBe('pytorch');
      await expectSameWeights(ckpt);
      await ckpt.close();
    }
  });

  it('materialises non-contiguous views and reads F16/BF16/F64 storages, deflated entries', async () => {
    const names = ssmNames();
    for (const [dtype, storageType, size] of [
      ['F32', 'FloatStorage', 4],
      ['F16', 'HalfStorage', 2],
      ['BF16', 'BFloat16Storage', 2],
      ['F64', 'DoubleStorage', 8],
    ] as const) {
      // Reference values as this dtype stores them, through the tensor core's encoder and decoder.
      const path = join(tmp, `ref-${dtype}.safetensors`);
      await writeAs(path, [...reference.keys()], dtype);
      const raw = await readFile(path);
      const headerLength = Number(new DataView(raw.buffer, raw.byteOffset).getBigUint64(0, true));
      const header = JSON.parse(new TextDecoder().decode(raw.subarray(8, 8 + headerLength)));
      const decoded = (await readSafetensorsFile(path)).tensors;
      const storages: Record<string, Uint8Array> = {};
      const specs: TorchTensorSpec[] = [];
      names.forEach((name, i) => {
        const canonical = canonicalTensorName(name);
        const [begin, end] = header[canonical].data_offsets as [number, number];
        let bytes: Uint8Array = raw.subarray(8 + headerLength + begin, 8 + headerLength + end);
        const shape = reference.get(canonical)!.shape;
        let stride = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
        if (shape.length === 2) {
          // Store the transpose and describe the tensor as a transposed view of it.
          const [r, c] = shape;
          const t = new Uint8Array(bytes.length);
          for (let y = 0; y < r; y++) {
            for (let x = 0; x < c; x++)
              t.set(bytes.subarray((y * c + x) * size, (y * c + x + 1) * size), (x * r + y) * size);
          }
          bytes = t;
          stride = [1, r];
        }
        storages[String(i)] = bytes;
        specs.push({
          name,
          storage: String(i),
          storageType,
          storageNumel: bytes.length / size,
          offset: 0,
          shape,
          stride,
        });
      });
      const bin = torchArchive(stateDictPickle(specs), storages, { deflate: dtype === 'F16' });
      const ckpt = await openCheckpointFromFiles({
        'config.json': config,
        'pytorch_model.bin': bin,
      });
      const expected = new Map(
        [...decoded].map(([n, t]) => [n, { shape: t.shape, values: Float32Array.from(t.values) }]),
      );
      expect(ckpt.tensors()[0].dtype).toBe(dtype);
      await expectSameWeights(ckpt, expected);
      await ckpt.close();
    }
  });

  it('reads a hand-written archive from disk, with a torch 2.x style byteorder record', async () => {
    const dir = join(tmp, 'bin');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
    const names = ssmNames();
    const storages: Record<string, Uint8Array> = {};
    const specs = names.map((name, i) => {
      const t = refBySsmName(name);
      storages[String(i)] = new Uint8Array(t.values.buffer.slice(0));
      const stride = t.shape.map((_, d) => t.shape.slice(d + 1).reduce((a, b) => a * b, 1));
      return {
        name,
        storage: String(i),
        storageType: 'FloatStorage',
        storageNumel: t.values.length,
        offset: 0,
        shape: t.shape,
        stride,
      };
    });
    await writeFile(join(dir, 'config.json'), config);
    await writeFile(
      join(dir, 'pytorch_model.bin'),
      torchArchive(stateDictPickle(specs), storages, {
        byteorder: 'little',
        prefix: 'pytorch_model',
      }),
    );
    const ckpt = await openCheckpoint(dir);
    await expectSameWeights(ckpt);
    await ckpt.close();
  });
});
