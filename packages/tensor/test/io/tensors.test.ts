import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CpuBackend,
  SafetensorsError,
  type Tensor,
  tensor,
  tensorsFromSafetensors,
  tensorsToSafetensors,
} from '../../src/index.js';
import { loadSafetensors, saveSafetensors } from '../../src/node.js';
import { values } from '../helpers.js';

/** The JSON header of a safetensors file, read by hand (8-byte little-endian length, then JSON). */
function header(
  bytes: Uint8Array,
): Record<string, { dtype: string; shape: number[]; data_offsets: number[] }> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
}

function sample(): Map<string, Tensor> {
  return new Map<string, Tensor>([
    [
      'layers.0.mixer.in_proj.weight',
      tensor([
        [0.1, -2.5, 3e-5],
        [1e10, -0, 7],
      ]),
    ],
    ['layers.0.mixer.A_log', tensor([Math.PI, -Math.E, 1 / 3], { dtype: 'float64' })],
    [
      'input_ids',
      tensor(
        [
          [1, -2, 2147483647],
          [-2147483648, 0, 50277],
        ],
        { dtype: 'int32' },
      ),
    ],
    ['scalar', tensor(4.5)],
    ['empty', tensor(new Float32Array(0), { shape: [0, 3] })],
  ]);
}

describe('tensorsToSafetensors / tensorsFromSafetensors', () => {
  it('round-trips float32, float64 and int32 exactly, with names, shapes and metadata', async () => {
    const src = sample();
    const bytes = await tensorsToSafetensors(src, { metadata: { format: 'pt', note: 'ü' } });
    const h = header(bytes);
    expect(h['layers.0.mixer.in_proj.weight']).toMatchObject({ dtype: 'F32', shape: [2, 3] });
    expect(h['layers.0.mixer.A_log']).toMatchObject({ dtype: 'F64', shape: [3] });
    expect(h.input_ids).toMatchObject({ dtype: 'I32', shape: [2, 3] });
    const { tensors, metadata } = tensorsFromSafetensors(bytes);
    expect(metadata).toEqual({ format: 'pt', note: 'ü' });
    expect([...tensors.keys()].sort()).toEqual([...src.keys()].sort());
    for (const [name, t] of src) {
      const got = tensors.get(name) as Tensor;
      expect(got.name).toBe(name);
      expect(got.dtype, name).toBe(t.dtype);
      expect(got.shape, name).toEqual(t.shape);
      expect(values(got), name).toEqual(values(t));
      expect(got.requiresGrad).toBe(false);
    }
    expect(Object.is(values(tensors.get('layers.0.mixer.in_proj.weight') as Tensor)[4], -0)).toBe(
      true,
    );
  });

  it('accepts a plain object and writes a view in row-major order', async () => {
    const base = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const bytes = await tensorsToSafetensors({ t: base.transpose(), s: base.slice(1, 1, 3) });
    const { tensors } = tensorsFromSafetensors(bytes);
    expect(tensors.get('t')?.shape).toEqual([3, 2]);
    expect(values(tensors.get('t') as Tensor)).toEqual([1, 4, 2, 5, 3, 6]);
    expect(values(tensors.get('s') as Tensor)).toEqual([2, 3, 5, 6]);
  });

  it('stores as F16 and BF16 (rounded to nearest even), read back as float32', async () => {
    const v = [0.1, 1 / 3, 65504, -1.5, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1e-8];
    const bytes = await tensorsToSafetensors(
      { half: tensor(v), alsoHalf: tensor(v, { dtype: 'float64' }) },
      { storeAs: 'F16' },
    );
    expect(header(bytes).half.dtype).toBe('F16');
    // 2 bytes per value.
    expect(header(bytes).half.data_offsets[1] - header(bytes).half.data_offsets[0]).toBe(
      2 * v.length,
    );
    const { tensors } = tensorsFromSafetensors(bytes);
    const f16 = [0.0999755859375, 0.333251953125, 65504, -1.5, 1, 1 + 2 ** -9, 0];
    expect(values(tensors.get('half') as Tensor)).toEqual(f16);
    expect(tensors.get('half')?.dtype).toBe('float32');
    expect(values(tensors.get('alsoHalf') as Tensor)).toEqual(f16);

    const w = [0.1, 1 / 3, 3, -1.5, 1 + 2 ** -8, 1 + 3 * 2 ** -8];
    const bf = tensorsFromSafetensors(
      await tensorsToSafetensors({ w: tensor(w) }, { storeAs: 'BF16' }),
    );
    expect(values(bf.tensors.get('w') as Tensor)).toEqual([
      0.10009765625, 0.333984375, 3, -1.5, 1, 1.015625,
    ]);
  });

  it('stores int32 as I64 per name, and reads it back as int32', async () => {
    const ids = tensor([0, -1, 2147483647, -2147483648], { dtype: 'int32' });
    const bytes = await tensorsToSafetensors(
      { ids, x: tensor([1.25]) },
      { storeAs: { ids: 'I64' } },
    );
    const h = header(bytes);
    expect(h.ids).toMatchObject({ dtype: 'I64', shape: [4] });
    expect(h.x.dtype).toBe('F32');
    // The I64 words are little-endian two's complement.
    const dataStart =
      8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    const raw = new DataView(
      bytes.buffer,
      bytes.byteOffset + dataStart + h.ids.data_offsets[0],
      32,
    );
    expect([0, 1, 2, 3].map((i) => raw.getBigInt64(8 * i, true))).toEqual([
      0n,
      -1n,
      2147483647n,
      -2147483648n,
    ]);
    const back = tensorsFromSafetensors(bytes).tensors.get('ids') as Tensor;
    expect(back.dtype).toBe('int32');
    expect(values(back)).toEqual([0, -1, 2147483647, -2147483648]);
  });

  it('rejects a storeAs that does not fit the dtype, or names a tensor not being saved', async () => {
    await expect(
      tensorsToSafetensors({ ids: tensor([1], { dtype: 'int32' }) }, { storeAs: 'F16' }),
    ).rejects.toThrow(/tensor "ids".*cannot be stored as "F16"/);
    await expect(
      tensorsToSafetensors({ weight: tensor([1]) }, { storeAs: { wieght: 'F16' } }),
    ).rejects.toThrow(/storeAs names "wieght", which is not among the tensors being saved/);
  });

  it('uploads to the backend it is given', async () => {
    const backend = new CpuBackend();
    const { tensors } = tensorsFromSafetensors(await tensorsToSafetensors({ a: tensor([1, 2]) }), {
      backend,
    });
    expect(tensors.get('a')?.backend).toBe(backend);
  });

  it('names the source of malformed bytes', () => {
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setBigUint64(0, 1000n, true);
    expect(() => tensorsFromSafetensors(bytes, { source: 'adapter_model.safetensors' })).toThrow(
      /^adapter_model\.safetensors: /,
    );
    expect(() => tensorsFromSafetensors(new Uint8Array(3))).toThrow(SafetensorsError);
  });
});

describe('saveSafetensors / loadSafetensors', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'statetune-tensors-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips a file, names the tensors and leaves no temporary file', async () => {
    const path = join(dir, 'model.safetensors');
    const src = sample();
    await saveSafetensors(path, src, {
      metadata: { format: 'pt' },
      storeAs: { 'layers.0.mixer.A_log': 'F32' },
    });
    expect(await readdir(dir)).toEqual(['model.safetensors']);
    // The file is the same bytes as the in-memory writer produces.
    const inMemory = await tensorsToSafetensors(src, {
      metadata: { format: 'pt' },
      storeAs: { 'layers.0.mixer.A_log': 'F32' },
    });
    expect(new Uint8Array(await readFile(path))).toEqual(inMemory);

    const { tensors, metadata } = await loadSafetensors(path);
    expect(metadata).toEqual({ format: 'pt' });
    for (const [name, t] of src) {
      const got = tensors.get(name) as Tensor;
      expect(got.name).toBe(name);
      expect(got.shape).toEqual(t.shape);
      if (name === 'layers.0.mixer.A_log') {
        expect(got.dtype).toBe('float32');
        expect(values(got)).toEqual(Array.from(new Float32Array(values(t))));
      } else {
        expect(values(got), name).toEqual(values(t));
      }
    }
  });

  it('replaces an existing file', async () => {
    const path = join(dir, 'replace.safetensors');
    await saveSafetensors(path, { a: tensor([1]) });
    await saveSafetensors(path, new Map([['b', tensor([2, 3])]]));
    const { tensors } = await loadSafetensors(path);
    expect([...tensors.keys()]).toEqual(['b']);
  });

  it('gives an error naming a malformed, truncated or missing file', async () => {
    const bad = join(dir, 'bad.safetensors');
    await writeFile(bad, 'not a safetensors file at all');
    await expect(loadSafetensors(bad)).rejects.toThrow(bad);
    await expect(loadSafetensors(bad)).rejects.toBeInstanceOf(SafetensorsError);

    const whole = await tensorsToSafetensors({ a: tensor([1, 2, 3, 4]) });
    const cut = join(dir, 'cut.safetensors');
    await writeFile(cut, whole.subarray(0, whole.length - 4));
    await expect(loadSafetensors(cut)).rejects.toThrow(cut);

    const missing = join(dir, 'missing.safetensors');
    await expect(loadSafetensors(missing)).rejects.toThrow(missing);
  });

  it('names the file when the tensors cannot be written, and writes nothing', async () => {
    const path = join(dir, 'rejected.safetensors');
    await expect(
      saveSafetensors(path, { ids: tensor([1], { dtype: 'int32' }) }, { storeAs: 'BF16' }),
    ).rejects.toThrow(path);
    await expect(
      saveSafetensors(path, { w: tensor([1]) }, { storeAs: { v: 'F16' } }),
    ).rejects.toThrow(
      new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: storeAs names "v"`),
    );
    expect(await readdir(dir)).not.toContain('rejected.safetensors');
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
