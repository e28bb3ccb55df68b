import { afterAll, describe, expect, it, vi } from 'vitest';
import { matmulF32 } from '../../src/cpu/matmul.js';
import { poolStats, setCpuThreads, shutdownPool } from '../../src/cpu/pool.js';
import {
  configureScanKernel,
  type ScanInputs,
  scanWorkerStats,
  selectiveScanBackward,
  selectiveScanForward,
} from '../../src/cpu/scan.js';
import { buildScanMathWasm, buildScanWasm } from '../../src/cpu/scan-wasm.js';
import { mulberry32, uniform } from '../helpers.js';

// The vector math of the WebAssembly kernel against float64 Math, and the scan's promise that
// results do not depend on the thread count. Accuracy against the float64 reference is in
// scan-kernel.test.ts, for every kernel path.

afterAll(async () => {
  configureScanKernel({});
  setCpuThreads('auto');
  await shutdownPool();
});

/** The part of the WebAssembly JS API used here (the package's lib has no DOM types). */
const wasmApi = (
  globalThis as unknown as {
    WebAssembly: {
      Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer };
      Module: new (bytes: Uint8Array) => object;
      Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
    };
  }
).WebAssembly;

/** The float32 ulp at `x` (denormal spacing below the smallest normal). */
function ulp(x: number): number {
  const a = Math.abs(x);
  if (a < 2 ** -126) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

describe('vector math of the WebAssembly scan kernel', () => {
  const memory = new wasmApi.Memory({ initial: 16 });
  const { exports } = new wasmApi.Instance(new wasmApi.Module(buildScanMathWasm()), {
    env: { mem: memory },
  });
  /** Applies `vexp` or `vsoftplus` to `x` (at most 256 Ki values). */
  const apply = (name: 'vexp' | 'vsoftplus', x: ArrayLike<number>): Float32Array => {
    const mem = new Float32Array(memory.buffer);
    const n = Math.ceil(x.length / 4) * 4;
    mem.fill(0, 0, n);
    mem.set(x);
    (exports[name] as (ptr: number, count: number) => void)(0, n / 4);
    return mem.slice(0, x.length);
  };
  const maxUlp = (got: Float32Array, x: Float32Array, ref: (v: number) => number) => {
    let worst = 0;
    for (let i = 0; i < x.length; i++) {
      const want = ref(x[i]);
      worst = Math.max(worst, Math.abs(got[i] - want) / ulp(want));
    }
    return worst;
  };

  it('compiles, and the scan module does too', () => {
    expect(() => new wasmApi.Module(buildScanWasm())).not.toThrow();
    expect(configureScanKernel({})).toBe(true);
  });

  it('exp is within about 1 ulp of Math.exp wherever the result is a normal float32', () => {
    // Decays exp(dt A) have arguments in (-inf, 0]; the rest of the range is for the gate.
    const rand = mulberry32(1);
    for (const [lo, hi] of [
      [-20, 0],
      [-86.9, 88.7],
    ]) {
      const x = uniform(rand, 1 << 18, lo, hi);
      expect(maxUlp(apply('vexp', x), x, Math.exp), `[${lo}, ${hi}]`).toBeLessThan(1.1);
    }
    const exact = Float32Array.from([0, -0, 1, -1, 0.5, -0.5, Math.LN2, -Math.LN2, 10, -10]);
    expect(maxUlp(apply('vexp', exact), exact, Math.exp)).toBeLessThan(1.1);
    expect(Array.from(apply('vexp', [0, -0]))).toEqual([1, 1]);
  });

  it('exp underflows to exactly 0 for very negative arguments, without NaN', () => {
    const x = [-87.4, -88, -100, -103.9, -104, -150, -1e4, -3.4e38, Number.NEGATIVE_INFINITY];
    for (const v of apply('vexp', x)) expect(Object.is(v, 0), String(v)).toBe(true);
    // Just above the cut the result is the smallest normals, not denormals or garbage.
    const [justAbove] = apply('vexp', [-86.5]);
    expect(justAbove / Math.exp(-86.5)).toBeCloseTo(1, 6);
  });

  it('exp overflows to Infinity and keeps NaN', () => {
    expect(Array.from(apply('vexp', [88.8, 89, 100, 3.4e38, Number.POSITIVE_INFINITY]))).toEqual(
      new Array(5).fill(Number.POSITIVE_INFINITY),
    );
    const [big] = apply('vexp', [88.7]);
    expect(big / Math.exp(Math.fround(88.7))).toBeCloseTo(1, 6);
    expect(Number.isNaN(apply('vexp', [Number.NaN])[0])).toBe(true);
  });

  it("softplus matches PyTorch's (threshold 20) within 4 ulp", () => {
    const softplus = (v: number) => (v > 20 ? v : Math.log1p(Math.exp(v)));
    const rand = mulberry32(2);
    const x = uniform(rand, 1 << 18, -80, 40);
    expect(maxUlp(apply('vsoftplus', x), x, softplus)).toBeLessThan(4);
    // Above the threshold softplus is the identity, exactly; below it, log1p keeps tiny
    // values exact rather than rounding 1 + e to 1.
    const above = Float32Array.from([20.000002, 20.5, 25, 1e6]);
    expect(Array.from(apply('vsoftplus', above))).toEqual(Array.from(above));
    const tiny = Float32Array.from([-30, -50, -80]);
    expect(maxUlp(apply('vsoftplus', tiny), tiny, softplus)).toBeLessThan(4);
    const [atThreshold] = apply('vsoftplus', [20]);
    expect(atThreshold).toBe(Math.fround(Math.log1p(Math.exp(20))));
    expect(Array.from(apply('vsoftplus', [Number.NEGATIVE_INFINITY, -1e30]))).toEqual([0, 0]);
    expect(Number.isNaN(apply('vsoftplus', [Number.NaN])[0])).toBe(true);
  });
});

describe('thread-count determinism', () => {
  // Every sum that crosses channels or the batch: dA, dD, ddeltaBias, dh0 and dStateOffset
  // (shared by the batch) and dB, dC (over channels). 3 x 13 blocks of 4 channels = 39 tasks.
  const [batch, dim, seqlen, dstate] = [3, 51, 70, 7];
  const rand = mulberry32(3);
  const bdl = batch * dim * seqlen;
  const inputs: ScanInputs = {
    shape: { batch, dim, seqlen, dstate },
    u: uniform(rand, bdl, -1, 1),
    delta: uniform(rand, bdl, -3, 1),
    A: uniform(rand, dim * dstate, -2, -0.2),
    B: uniform(rand, batch * dstate * seqlen, -1, 1),
    C: uniform(rand, batch * dstate * seqlen, -1, 1),
    D: uniform(rand, dim, -1, 1),
    z: uniform(rand, bdl, -2, 2),
    deltaBias: uniform(rand, dim, -0.5, 0.2),
    deltaSoftplus: true,
    h0: uniform(rand, dim * dstate, -1, 1),
    h0PerBatch: false,
    stateOffset: uniform(rand, dim * dstate, -1, 1),
    offsetPerBatch: false,
  };
  const dout = uniform(rand, bdl, -1, 1);
  const dLast = uniform(rand, batch * dim * dstate, -1, 1);

  /** Forward and backward results, by name. */
  function run(): Map<string, Float32Array> {
    const fwd = selectiveScanForward(inputs, { saveCheckpoints: true, chunkSize: 16 });
    const forwardByWorkers = scanWorkerStats().workerTasks;
    const grads = selectiveScanBackward(inputs, fwd, dout, dLast);
    const out = new Map<string, Float32Array>([
      ['y', fwd.y],
      ['lastState', fwd.lastState],
      ['checkpoints', fwd.checkpoints],
    ]);
    for (const [name, g] of Object.entries(grads)) if (g !== null) out.set(name, g);
    out.set('workers', Float32Array.of(forwardByWorkers, scanWorkerStats().workerTasks));
    return out;
  }

  function expectBitwiseEqual(got: Map<string, Float32Array>, want: Map<string, Float32Array>) {
    for (const [name, a] of want) {
      if (name === 'workers') continue;
      const b = got.get(name)!;
      const bitsA = new Uint32Array(a.buffer, a.byteOffset, a.length);
      const bitsB = new Uint32Array(b.buffer, b.byteOffset, b.length);
      let differing = 0;
      for (let i = 0; i < bitsA.length; i++) if (bitsA[i] !== bitsB[i]) differing++;
      expect(b.length, name).toBe(a.length);
      expect(differing, `${name}: elements that differ`).toBe(0);
    }
  }

  for (const simd of [true, false]) {
    it(`gives bitwise the same results on 1, 2 and 3 threads (${simd ? 'WebAssembly' : 'JS'})`, async () => {
      configureScanKernel({ simd, parallelMinStates: 0 });
      setCpuThreads(1);
      const single = run();
      expect(Array.from(single.get('workers')!)).toEqual([0, 0]);
      for (const threads of [2, 3]) {
        setCpuThreads(threads);
        run(); // starts the pool
        await vi.waitFor(() => expect(poolStats().ready).toBe(threads - 1), { timeout: 20_000 });
        // Repeat until workers took tasks of both directions (they may be slow to wake).
        let took = false;
        for (let attempt = 0; attempt < 20 && !took; attempt++) {
          const threaded = run();
          expectBitwiseEqual(threaded, single);
          const [fwdTasks, bwdTasks] = threaded.get('workers')!;
          took = fwdTasks > 0 && bwdTasks > 0;
        }
        expect(took, `workers took part with ${threads} threads`).toBe(true);
      }
    });
  }

  it('shares the worker pool with matmul', async () => {
    configureScanKernel({ parallelMinStates: 0 });
    setCpuThreads(2);
    run();
    await vi.waitFor(() => expect(poolStats().ready).toBe(1), { timeout: 20_000 });
    const [m, n, k] = [256, 256, 256];
    const a = uniform(rand, m * k, -1, 1);
    const b = uniform(rand, k * n, -1, 1);
    matmulF32(new Float32Array(m * n), 0, a, [0], false, b, [0], false, m, n, k);
    // Same single worker, still up: matmul did not start a pool of its own.
    expect(poolStats().workers).toBe(1);
    expect(poolStats().ready).toBe(1);
    expect(poolStats().tasks).toBeGreaterThan(1);
  });
});
