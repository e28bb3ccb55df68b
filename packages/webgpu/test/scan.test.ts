import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { selectiveScan, type Tensor, TensorError, tensor } from '@statetune/tensor';
import { loadSafetensors } from '@statetune/tensor/node';
import { afterAll, describe, expect, it } from 'vitest';
import {
  SCAN_CHUNK,
  type ScanAllocator,
  type ScanGpuGrads,
  type ScanGpuInputs,
  WebGpuScan,
  type WebGpuScanOptions,
} from '../src/scan/index.js';

// GPUBufferUsage / GPUMapMode, numerically.
const STORAGE = 0x80;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;
const MAP_READ = 0x1;

const REQUIRE = process.env.STATETUNE_REQUIRE_WEBGPU === '1';

/**
 * The GPU object of Dawn: it must stay referenced while its devices live (once collected,
 * Dawn's event processing touches freed memory).
 */
let gpu: GPU | null = null;

/**
 * A device with subgroups when the adapter has them; null (with the reason) only when there is
 * no adapter. Once an adapter is found, a device it refuses fails the file instead of skipping.
 */
async function openDevice(): Promise<{ device: GPUDevice | null; reason: string }> {
  let adapter: GPUAdapter | null;
  try {
    const mod = (await import('webgpu')) as {
      create: (options: string[]) => GPU;
      globals: object;
    };
    const g = globalThis as Record<string, unknown>;
    for (const [k, v] of Object.entries(mod.globals)) if (!(k in g)) g[k] = v;
    gpu = mod.create([]);
    adapter = await gpu.requestAdapter();
  } catch (err) {
    return { device: null, reason: `WebGPU is unavailable: ${(err as Error).message}` };
  }
  if (!adapter) return { device: null, reason: 'no WebGPU adapter was found' };
  const requiredFeatures: GPUFeatureName[] = adapter.features.has('subgroups') ? ['subgroups'] : [];
  return { device: await adapter.requestDevice({ requiredFeatures }), reason: '' };
}

const { device, reason } = await openDevice();
if (!device) {
  const message = `scan tests skipped: ${reason} (set STATETUNE_REQUIRE_WEBGPU=1 to fail instead)`;
  if (!REQUIRE) console.warn(message);
}

afterAll(() => {
  device?.destroy();
});

/** Allocates buffers larger than asked and filled with NaN, as a pool's reused buckets may be. */
class TestAllocator implements ScanAllocator {
  readonly live = new Set<GPUBuffer>();
  private readonly released: GPUBuffer[] = [];
  constructor(private readonly dev: GPUDevice) {}

  alloc(bytes: number): GPUBuffer {
    const buffer = garbageBuffer(this.dev, Math.ceil((bytes * 1.25 + 20) / 16) * 16);
    this.live.add(buffer);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    if (!this.live.delete(buffer)) throw new Error('released a buffer that is not live');
    this.released.push(buffer);
  }

  /** Destroys released buffers once the queue has run what used them. */
  async settle(): Promise<void> {
    await this.dev.queue.onSubmittedWorkDone();
    for (const b of this.released.splice(0)) b.destroy();
  }
}

function garbageBuffer(dev: GPUDevice, size: number, data?: Float32Array): GPUBuffer {
  const buffer = dev.createBuffer({
    size,
    usage: STORAGE | COPY_SRC | COPY_DST,
    mappedAtCreation: true,
  });
  const view = new Float32Array(buffer.getMappedRange());
  view.fill(Number.NaN);
  if (data) view.set(data);
  buffer.unmap();
  return buffer;
}

/** An input buffer holding `data` followed by NaN padding. */
function upload(dev: GPUDevice, data: Float32Array): GPUBuffer {
  return garbageBuffer(dev, Math.ceil((data.byteLength + 36) / 16) * 16, data);
}

async function readBack(dev: GPUDevice, buffer: GPUBuffer, floats: number): Promise<Float32Array> {
  const staging = dev.createBuffer({ size: floats * 4, usage: MAP_READ | COPY_DST });
  const encoder = dev.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, floats * 4);
  dev.queue.submit([encoder.finish()]);
  await staging.mapAsync(MAP_READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return out;
}

/** ||got - expected|| / ||expected||. */
function relErr(got: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(got.length).toBe(expected.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < got.length; i++) {
    const d = got[i] - expected[i];
    num += d * d;
    den += expected[i] * expected[i];
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** A scan problem on the host. */
interface HostScan {
  batch: number;
  dim: number;
  seqlen: number;
  dstate: number;
  softplus: boolean;
  inputs: Record<InputName, Float32Array | null>;
  h0Batched: boolean;
  offsetBatched: boolean;
  dy: Float32Array;
  dLast: Float32Array | null;
}

const INPUTS = ['u', 'delta', 'A', 'B', 'C', 'D', 'z', 'deltaBias', 'h0', 'stateOffset'] as const;
type InputName = (typeof INPUTS)[number];

interface HostResult {
  y: Float32Array;
  lastState: Float32Array;
  grads: Record<InputName, Float32Array | null>;
}

/** The inputs of `p` uploaded to the device, as the scan kernel takes them. */
function uploadInputs(dev: GPUDevice, p: HostScan, saveCheckpoints: boolean): ScanGpuInputs {
  const up = (x: Float32Array | null) => (x ? upload(dev, x) : null);
  const x = p.inputs;
  return {
    batch: p.batch,
    dim: p.dim,
    seqlen: p.seqlen,
    dstate: p.dstate,
    u: up(x.u) as GPUBuffer,
    delta: up(x.delta) as GPUBuffer,
    A: up(x.A) as GPUBuffer,
    B: up(x.B) as GPUBuffer,
    C: up(x.C) as GPUBuffer,
    D: up(x.D),
    z: up(x.z),
    deltaBias: up(x.deltaBias),
    h0: up(x.h0),
    h0Batched: p.h0Batched,
    stateOffset: up(x.stateOffset),
    stateOffsetBatched: p.offsetBatched,
    deltaSoftplus: p.softplus,
    saveCheckpoints,
  };
}

/** Runs forward (with checkpoints) and backward on the GPU and reads everything back. */
async function runGpu(scan: WebGpuScan, p: HostScan): Promise<HostResult> {
  const dev = device as GPUDevice;
  const alloc = new TestAllocator(dev);
  const gpuInputs = uploadInputs(dev, p, true);
  const dy = upload(dev, p.dy);
  const dLast = p.dLast ? upload(dev, p.dLast) : null;
  dev.pushErrorScope('validation');
  const enc1 = dev.createCommandEncoder();
  const fwd = scan.forward(enc1, gpuInputs, alloc);
  dev.queue.submit([enc1.finish()]);
  const enc2 = dev.createCommandEncoder();
  const grads = scan.backward(enc2, gpuInputs, fwd.saved as GPUBuffer, dy, dLast, alloc);
  dev.queue.submit([enc2.finish()]);
  const error = await dev.popErrorScope();
  expect(error?.message ?? null).toBeNull();

  // Only the outputs stay live: the temporaries went back to the allocator.
  const outputs = [fwd.y, fwd.lastState, fwd.saved, ...Object.values(grads)].filter(
    (b): b is GPUBuffer => b !== null,
  );
  expect(new Set(outputs)).toEqual(alloc.live);
  expect(fwd.savedSize).toBe((Math.ceil(p.seqlen / SCAN_CHUNK) + 1) * p.batch * p.dim * p.dstate);

  const bdl = p.batch * p.dim * p.seqlen;
  const bdn = p.batch * p.dim * p.dstate;
  const stateLen = (batched: boolean) => (batched ? bdn : p.dim * p.dstate);
  const sizes: Record<InputName, number> = {
    u: bdl,
    delta: bdl,
    A: p.dim * p.dstate,
    B: p.batch * p.dstate * p.seqlen,
    C: p.batch * p.dstate * p.seqlen,
    D: p.dim,
    z: bdl,
    deltaBias: p.dim,
    h0: stateLen(p.h0Batched),
    stateOffset: stateLen(p.offsetBatched),
  };
  const out = {} as Record<InputName, Float32Array | null>;
  for (const name of INPUTS) {
    const g = grads[name as keyof ScanGpuGrads];
    expect(g === null, `gradient of ${name} present iff the input is`).toBe(
      p.inputs[name] === null,
    );
    out[name] = g ? await readBack(dev, g, sizes[name]) : null;
  }
  const result = {
    y: await readBack(dev, fwd.y, bdl),
    lastState: await readBack(dev, fwd.lastState, bdn),
    grads: out,
  };
  await alloc.settle();
  for (const b of alloc.live) b.destroy();
  for (const b of [dy, dLast, ...Object.values(gpuInputs).filter((v) => typeof v === 'object')]) {
    (b as GPUBuffer | null)?.destroy();
  }
  return result;
}

/** The forward alone without checkpoints (the last state written directly). */
async function runGpuInference(
  scan: WebGpuScan,
  p: HostScan,
): Promise<{ y: Float32Array; lastState: Float32Array }> {
  const dev = device as GPUDevice;
  const alloc = new TestAllocator(dev);
  const encoder = dev.createCommandEncoder();
  const fwd = scan.forward(encoder, uploadInputs(dev, p, false), alloc);
  dev.queue.submit([encoder.finish()]);
  expect(fwd.saved).toBeNull();
  expect(fwd.savedSize).toBe(0);
  const y = await readBack(dev, fwd.y, p.batch * p.dim * p.seqlen);
  const lastState = await readBack(dev, fwd.lastState, p.batch * p.dim * p.dstate);
  await alloc.settle();
  return { y, lastState };
}

/** The same problem through the public op on the CPU backend, with autograd. */
function runCpu(p: HostScan): HostResult {
  const { batch: b, dim: d, seqlen: l, dstate: n } = p;
  const shapes: Record<InputName, number[]> = {
    u: [b, d, l],
    delta: [b, d, l],
    A: [d, n],
    B: [b, n, l],
    C: [b, n, l],
    D: [d],
    z: [b, d, l],
    deltaBias: [d],
    h0: p.h0Batched ? [b, d, n] : [d, n],
    stateOffset: p.offsetBatched ? [b, d, n] : [d, n],
  };
  const leaves = {} as Record<InputName, Tensor | null>;
  for (const name of INPUTS) {
    const v = p.inputs[name];
    leaves[name] = v ? tensor(v, { shape: shapes[name], requiresGrad: true }) : null;
  }
  const { y, lastState } = selectiveScan({
    u: leaves.u as Tensor,
    delta: leaves.delta as Tensor,
    A: leaves.A as Tensor,
    B: leaves.B as Tensor,
    C: leaves.C as Tensor,
    D: leaves.D,
    z: leaves.z,
    deltaBias: leaves.deltaBias,
    h0: leaves.h0,
    stateOffset: leaves.stateOffset,
    deltaSoftplus: p.softplus,
  });
  let loss = y.mul(tensor(p.dy, { shape: [b, d, l] })).sum();
  if (p.dLast) loss = loss.add(lastState.mul(tensor(p.dLast, { shape: [b, d, n] })).sum());
  loss.backward();
  const grads = {} as Record<InputName, Float32Array | null>;
  for (const name of INPUTS) {
    const g = leaves[name]?.grad;
    grads[name] = g ? (g.dataSync() as Float32Array) : null;
  }
  return {
    y: y.dataSync() as Float32Array,
    lastState: lastState.dataSync() as Float32Array,
    grads,
  };
}

function expectClose(
  got: HostResult,
  want: HostResult,
  tol: { forward: number; grads: number },
  where: string,
): void {
  expect(relErr(got.y, want.y), `${where}: y`).toBeLessThan(tol.forward);
  expect(relErr(got.lastState, want.lastState), `${where}: lastState`).toBeLessThan(tol.forward);
  for (const name of INPUTS) {
    const w = want.grads[name];
    const g = got.grads[name];
    expect(g === null, `${where}: gradient of ${name} present`).toBe(w === null);
    if (g && w) expect(relErr(g, w), `${where}: gradient of ${name}`).toBeLessThan(tol.grads);
  }
}

/** Seeded uniform numbers in [lo, hi). */
function rng(seed: number): (n: number, lo?: number, hi?: number) => Float32Array {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return (n, lo = -1, hi = 1) => Float32Array.from({ length: n }, () => lo + (hi - lo) * next());
}

interface RandomSpec {
  batch: number;
  dim: number;
  seqlen: number;
  dstate: number;
  softplus: boolean;
  with: Partial<Record<'D' | 'z' | 'deltaBias' | 'h0' | 'stateOffset' | 'dLast', boolean>>;
  h0Batched?: boolean;
  offsetBatched?: boolean;
}

function randomScan(spec: RandomSpec, seed: number): HostScan {
  const r = rng(seed);
  const { batch: b, dim: d, seqlen: l, dstate: n } = spec;
  const opt = (on: boolean | undefined, make: () => Float32Array) => (on ? make() : null);
  const state = (batched: boolean | undefined) => (batched ? b : 1) * d * n;
  return {
    batch: b,
    dim: d,
    seqlen: l,
    dstate: n,
    softplus: spec.softplus,
    h0Batched: spec.h0Batched ?? false,
    offsetBatched: spec.offsetBatched ?? false,
    inputs: {
      u: r(b * d * l),
      // Without softplus dt must stay positive for a stable recurrence.
      delta: spec.softplus ? r(b * d * l, -3, 1) : r(b * d * l, 0.01, 0.3),
      A: r(d * n, -2, -0.2),
      B: r(b * n * l),
      C: r(b * n * l),
      D: opt(spec.with.D, () => r(d)),
      z: opt(spec.with.z, () => r(b * d * l, -3, 3)),
      deltaBias: opt(spec.with.deltaBias, () => r(d, -0.5, 0.5)),
      h0: opt(spec.with.h0, () => r(state(spec.h0Batched))),
      stateOffset: opt(spec.with.stateOffset, () => r(state(spec.offsetBatched))),
    },
    dy: r(b * d * l),
    dLast: opt(spec.with.dLast, () => r(b * d * n)),
  };
}

const ALL = { D: true, z: true, deltaBias: true, h0: true, stateOffset: true, dLast: true };

/** The two reduction paths, labelled. */
function variants(extra: Partial<WebGpuScanOptions> = {}): [string, WebGpuScan][] {
  const dev = device as GPUDevice;
  return [
    ['subgroups', new WebGpuScan(dev, { subgroups: true, ...extra })],
    ['workgroup memory', new WebGpuScan(dev, { subgroups: false, ...extra })],
  ];
}

if (!device && REQUIRE) {
  it('finds a WebGPU adapter (STATETUNE_REQUIRE_WEBGPU=1)', () => {
    throw new Error(`no WebGPU device: ${reason}`);
  });
}

describe.skipIf(!device)('WebGpuScan', () => {
  it('uses subgroups exactly when asked and the device has them', () => {
    const dev = device as GPUDevice;
    expect(new WebGpuScan(dev, { subgroups: true }).subgroups).toBe(dev.features.has('subgroups'));
    expect(new WebGpuScan(dev, { subgroups: false }).subgroups).toBe(false);
  });

  describe('against the golden fixtures', () => {
    const fixtures =
      process.env.STATETUNE_FIXTURES ??
      fileURLToPath(new URL('../../../fixtures', import.meta.url));
    const dir = join(fixtures, 'scan');
    const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as {
      file: string;
      shape: { batch: number; dim: number; seqlen: number; dstate: number };
      delta_softplus: boolean;
      inputs: string[];
    }[];
    const NAMES: Record<string, InputName> = {
      u: 'u',
      delta: 'delta',
      A: 'A',
      B: 'B',
      C: 'C',
      D: 'D',
      z: 'z',
      delta_bias: 'deltaBias',
      h0: 'h0',
      state_offset: 'stateOffset',
    };
    // Made on first use: collecting the tests must not touch the device (null when skipped).
    let scans: [string, WebGpuScan][] | null = null;

    it('finds cases', () => {
      expect(cases.length).toBeGreaterThan(0);
    });

    for (const c of cases) {
      it(`${c.file} (inputs ${c.inputs.join(',')})`, async () => {
        const { tensors } = await loadSafetensors(join(dir, c.file));
        const get = (name: string) => {
          const t = tensors.get(name);
          if (!t) throw new Error(`${c.file} lacks ${name}`);
          return t;
        };
        const f32 = (name: string) => Float32Array.from(get(name).dataSync() as Float32Array);
        const inputs = Object.fromEntries(INPUTS.map((k) => [k, null])) as HostScan['inputs'];
        for (const name of c.inputs) if (name !== 'dy') inputs[NAMES[name]] = f32(name);
        const { batch, dim, dstate } = c.shape;
        const batched = (name: string) =>
          c.inputs.includes(name) && get(name).size === batch * dim * dstate && batch > 1;
        const p: HostScan = {
          ...c.shape,
          softplus: c.delta_softplus,
          inputs,
          h0Batched: batched('h0'),
          offsetBatched: batched('state_offset'),
          dy: f32('dy'),
          dLast: null,
        };
        const expected: HostResult = {
          y: get('expected.y').dataSync() as unknown as Float32Array,
          lastState: get('expected.last_state').dataSync() as unknown as Float32Array,
          grads: Object.fromEntries(
            INPUTS.map((k) => {
              const file = Object.keys(NAMES).find((f) => NAMES[f] === k) as string;
              const t = c.inputs.includes(file) ? get(`expected.grad.${file}`) : null;
              return [k, t ? (t.dataSync() as unknown as Float32Array) : null];
            }),
          ) as HostResult['grads'],
        };
        scans ??= variants();
        for (const [label, scan] of scans) {
          // Tolerances of the fixtures README.
          expectClose(await runGpu(scan, p), expected, { forward: 1e-5, grads: 1e-4 }, label);
        }
      });
    }
  });

  describe('against the CPU backend', () => {
    const specs: [string, RandomSpec][] = [
      [
        'seqlen 1, dstate 1, every optional input',
        { batch: 2, dim: 3, seqlen: 1, dstate: 1, softplus: true, with: ALL },
      ],
      [
        'odd sizes, batched h0 and offset, no softplus',
        {
          batch: 2,
          dim: 5,
          seqlen: 37,
          dstate: 7,
          softplus: false,
          with: ALL,
          h0Batched: true,
          offsetBatched: true,
        },
      ],
      [
        'no optional input, dstate 16, 17 channels',
        { batch: 3, dim: 17, seqlen: 70, dstate: 16, softplus: true, with: {} },
      ],
      [
        'h0 shared, offset batched, no dLastState',
        {
          batch: 2,
          dim: 9,
          seqlen: 65,
          dstate: 5,
          softplus: true,
          with: { h0: true, stateOffset: true, D: true },
          offsetBatched: true,
        },
      ],
      [
        'h0 batched, offset shared, gate and bias',
        {
          batch: 3,
          dim: 6,
          seqlen: 33,
          dstate: 3,
          softplus: true,
          with: { h0: true, stateOffset: true, z: true, deltaBias: true },
          h0Batched: true,
        },
      ],
    ];
    const large: [string, RandomSpec][] = [
      [
        'dstate 40: two channels per workgroup, states over several subgroups',
        { batch: 2, dim: 3, seqlen: 45, dstate: 40, softplus: true, with: ALL, h0Batched: true },
      ],
      [
        'dstate 256, the largest',
        { batch: 1, dim: 2, seqlen: 9, dstate: 256, softplus: true, with: ALL },
      ],
    ];
    const cuts: [string, Partial<WebGpuScanOptions>][] = [
      ['default cut', {}],
      ['one segment per chunk, one channel slot', { segmentChunks: 1, channelSlots: 1 }],
      ['a single segment', { segmentChunks: 1 << 20 }],
    ];
    specs.forEach(([title, spec], k) => {
      it(title, async () => {
        const p = randomScan(spec, 100 + k);
        const want = runCpu(p);
        for (const [cut, options] of cuts) {
          for (const [label, scan] of variants(options)) {
            const where = `${label}, ${cut}`;
            expectClose(await runGpu(scan, p), want, { forward: 1e-5, grads: 1e-4 }, where);
          }
        }
        const [, scan] = variants()[0];
        const inference = await runGpuInference(scan, p);
        expect(relErr(inference.y, want.y)).toBeLessThan(1e-5);
        expect(relErr(inference.lastState, want.lastState)).toBeLessThan(1e-5);
      });
    });

    large.forEach(([title, spec], k) => {
      it(title, async () => {
        const p = randomScan(spec, 200 + k);
        const want = runCpu(p);
        for (const [label, scan] of variants({ segmentChunks: 1 })) {
          expectClose(await runGpu(scan, p), want, { forward: 1e-5, grads: 1e-4 }, label);
        }
      });
    });

    it('a long sequence (seqlen 2048) split into segments', async () => {
      const spec: RandomSpec = {
        batch: 1,
        dim: 3,
        seqlen: 2048,
        dstate: 4,
        softplus: true,
        with: ALL,
      };
      const p = randomScan(spec, 7);
      const want = runCpu(p);
      for (const [label, scan] of variants()) {
        expectClose(await runGpu(scan, p), want, { forward: 1e-5, grads: 1e-4 }, label);
      }
    });
  });

  it('gives bitwise identical gradients on every run, also after dispose()', async () => {
    const p = randomScan(
      { batch: 2, dim: 19, seqlen: 40, dstate: 16, softplus: true, with: ALL },
      3,
    );
    for (const [, scan] of variants({ segmentChunks: 1, channelSlots: 1 })) {
      const a = await runGpu(scan, p);
      // Also after dropping every cached pipeline and buffer.
      scan.dispose();
      const b = await runGpu(scan, p);
      for (const name of INPUTS) expect(b.grads[name], name).toEqual(a.grads[name]);
    }
  });

  it('rejects bad arguments with a message naming the field', () => {
    const dev = device as GPUDevice;
    const scan = new WebGpuScan(dev, { subgroups: false });
    const alloc = new TestAllocator(dev);
    const buf = (floats: number) => garbageBuffer(dev, floats * 4);
    const base: ScanGpuInputs = {
      batch: 1,
      dim: 2,
      seqlen: 3,
      dstate: 2,
      u: buf(6),
      delta: buf(6),
      A: buf(4),
      B: buf(6),
      C: buf(6),
      D: null,
      z: null,
      deltaBias: null,
      h0: null,
      h0Batched: false,
      stateOffset: null,
      stateOffsetBatched: false,
      deltaSoftplus: true,
      saveCheckpoints: true,
    };
    const encoder = dev.createCommandEncoder();
    const fwd = (over: Partial<ScanGpuInputs>) => () =>
      scan.forward(encoder, { ...base, ...over }, alloc);
    expect(fwd({ dstate: 0 })).toThrow(/dstate must be a positive integer/);
    expect(fwd({ dstate: 300, A: buf(600) })).toThrow(/dstate must be at most 256/);
    expect(fwd({ seqlen: 2.5 })).toThrow(/seqlen must be a positive integer/);
    expect(fwd({ B: null as unknown as GPUBuffer })).toThrow(/B must be a GPUBuffer/);
    const batch2 = { batch: 2, u: buf(12), delta: buf(12), B: buf(12), C: buf(12) };
    expect(fwd({ ...batch2, h0: buf(4), h0Batched: true })).toThrow(
      /h0 holds 16 bytes, less than the 32 of 8 float32 \(batch\*dim\*dstate\)/,
    );
    expect(fwd({ ...batch2, stateOffset: buf(3) })).toThrow(/stateOffset holds .*dim\*dstate/);
    expect(fwd({ deltaSoftplus: undefined as unknown as boolean })).toThrow(TensorError);
    expect(() => scan.backward(encoder, base, buf(2), buf(6), null, alloc)).toThrow(
      /saved holds .*saveCheckpoints/,
    );
    expect(() => new WebGpuScan(dev, { subgroups: true, segmentChunks: 0 })).toThrow(
      /segmentChunks must be a positive integer/,
    );
    expect(alloc.live.size).toBe(0);
    scan.dispose();
  });
});
