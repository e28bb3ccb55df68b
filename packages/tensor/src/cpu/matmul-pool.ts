/**
 * The worker pool of the float32 matmul: a synchronous fork-join from the calling thread.
 *
 * Operands that are not already in shared memory are copied into one reusable
 * SharedArrayBuffer; the job (views on it plus tiling) is posted to each worker's port and
 * the workers are woken through `Atomics.notify`. Workers block in `Atomics.wait` and read
 * the job with `receiveMessageOnPort`, so neither side needs its event loop. Every thread,
 * the caller included, claims output tiles from one shared counter, and the caller waits
 * (`Atomics.wait`) until all tiles are done, so a worker that is slow to start only means
 * less help, never a wrong or missing tile.
 *
 * `node:worker_threads` is looked up lazily through `process.getBuiltinModule` (Node
 * >= 20.16) or, failing that, loaded by a dynamic import whose result later calls use;
 * anywhere else (a browser bundle) the pool is simply unavailable.
 */

import type * as NodeOs from 'node:os';
import type * as NodeWorkerThreads from 'node:worker_threads';
import {
  createMatmulF32Kernel,
  type MatmulEngine,
  type MatmulF32Kernel,
  type MatmulJob,
} from './matmul-kernel.js';

type WorkerThreads = typeof NodeWorkerThreads;

interface NodeModules {
  readonly workerThreads: WorkerThreads;
  readonly os: typeof NodeOs;
}

interface WorkerData {
  /** `[generation, stop (0 | 1), workers ready]`. */
  readonly ctrl: Int32Array;
  readonly port: NodeWorkerThreads.MessagePort;
  readonly wasm: Uint8Array | null;
}

interface Pool {
  readonly workers: NodeWorkerThreads.Worker[];
  readonly ports: NodeWorkerThreads.MessagePort[];
  readonly ctrl: Int32Array;
}

const GENERATION = 0;
const STOP = 1;
const READY = 2;

/** Fewer rows than this per tile makes packing and scheduling dominate. */
const MIN_TILE_ROWS = 32;
const MIN_TILE_COLS = 64;
/**
 * Tiles per thread: enough for the threads to even out, few enough to keep tiles large
 * (64 x 512 tiles run ~15% slower than 512 x 512 ones, from repacking B).
 */
const TILES_PER_THREAD = 3;

let nodeModules: NodeModules | null | undefined;
let importStarted = false;
let pool: Pool | undefined;
/** Set when a worker failed; from then on every call stays on the calling thread. */
let poolFailed = false;
let staging: Float32Array | undefined;
let lastTasks = 0;
let lastWorkerTasks = 0;

/**
 * The Node modules the pool needs: `null` where there are none (browser), `undefined` while a
 * dynamic import is still on its way (Node < 20.16).
 */
export function nodeBuiltins(): NodeModules | null | undefined {
  if (nodeModules !== undefined) return nodeModules;
  const proc = (globalThis as { process?: NodeJS.Process }).process;
  if (typeof proc?.versions?.node !== 'string') {
    nodeModules = null;
    return nodeModules;
  }
  const getBuiltin = (proc as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof getBuiltin === 'function') {
    const workerThreads = getBuiltin.call(proc, 'node:worker_threads') as WorkerThreads | undefined;
    const os = getBuiltin.call(proc, 'node:os') as typeof NodeOs | undefined;
    nodeModules = workerThreads && os ? { workerThreads, os } : null;
    return nodeModules;
  }
  if (!importStarted) {
    importStarted = true;
    // Specifiers in variables keep bundlers from resolving Node built-ins for the browser.
    const wtId = 'node:worker_threads';
    const osId = 'node:os';
    Promise.all([import(/* @vite-ignore */ wtId), import(/* @vite-ignore */ osId)]).then(
      ([workerThreads, os]) => {
        nodeModules = { workerThreads, os };
      },
      () => {
        nodeModules = null;
      },
    );
  }
  return undefined;
}

/** The body of each worker thread; self-contained, like the kernel, since it ships as source. */
function matmulWorkerMain(kernel: MatmulF32Kernel, wt: WorkerThreads): void {
  const { ctrl, port, wasm } = wt.workerData as WorkerData;
  const eng = kernel.createEngine(wasm);
  // ctrl indices as GENERATION, STOP, READY above, which this source cannot see.
  Atomics.add(ctrl, 2, 1);
  let seen = 0;
  for (;;) {
    Atomics.wait(ctrl, 0, seen);
    seen = Atomics.load(ctrl, 0);
    if (Atomics.load(ctrl, 1) !== 0) break;
    // Only the newest job can have tiles left; older ones were finished by other threads.
    let job: MatmulJob | undefined;
    for (let msg = wt.receiveMessageOnPort(port); msg !== undefined; ) {
      job = msg.message as MatmulJob;
      msg = wt.receiveMessageOnPort(port);
    }
    if (job !== undefined) kernel.runTasks(eng, job);
  }
  port.close();
}

function workerSource(): string {
  return [
    "'use strict';",
    `const kernel = (${createMatmulF32Kernel.toString()})();`,
    `(${matmulWorkerMain.toString()})(kernel, require('node:worker_threads'));`,
  ].join('\n');
}

function startPool(wt: WorkerThreads, size: number, wasm: Uint8Array | null): Pool | undefined {
  const ctrl = new Int32Array(new SharedArrayBuffer(3 * 4));
  const started: Pool = { workers: [], ports: [], ctrl };
  const source = workerSource();
  try {
    for (let i = 0; i < size; i++) {
      const { port1, port2 } = new wt.MessageChannel();
      const workerData: WorkerData = { ctrl, port: port2, wasm };
      const worker = new wt.Worker(source, { eval: true, workerData, transferList: [port2] });
      worker.unref();
      port1.unref();
      worker.on('error', () => {
        poolFailed = true;
      });
      started.workers.push(worker);
      started.ports.push(port1);
    }
  } catch {
    poolFailed = true;
    void stopPool(started);
    return undefined;
  }
  return started;
}

async function stopPool(p: Pool): Promise<void> {
  Atomics.store(p.ctrl, STOP, 1);
  Atomics.add(p.ctrl, GENERATION, 1);
  Atomics.notify(p.ctrl, GENERATION);
  for (const port of p.ports) port.close();
  await Promise.all(p.workers.map((w) => w.terminate()));
}

/** Stops the pool and frees the shared staging memory; the next parallel call starts afresh. */
export async function shutdownPool(): Promise<void> {
  const p = pool;
  pool = undefined;
  staging = undefined;
  poolFailed = false;
  if (p !== undefined) await stopPool(p);
}

/** Pool size, workers up and running, and how the last parallel job was shared. */
export function poolStats(): {
  workers: number;
  ready: number;
  tasks: number;
  workerTasks: number;
} {
  return {
    workers: pool?.workers.length ?? 0,
    ready: pool === undefined ? 0 : Atomics.load(pool.ctrl, READY),
    tasks: lastTasks,
    workerTasks: lastWorkerTasks,
  };
}

function isShared(x: Float32Array): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && x.buffer instanceof SharedArrayBuffer;
}

function offsetRange(offsets: ArrayLike<number>, blockSize: number): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (let i = 0; i < offsets.length; i++) {
    lo = Math.min(lo, offsets[i]);
    hi = Math.max(hi, offsets[i]);
  }
  return [lo, hi + blockSize];
}

function stagingArea(floats: number): Float32Array {
  if (staging === undefined || staging.length < floats) {
    const grown = Math.max(floats, Math.ceil((staging?.length ?? 0) * 1.25));
    staging = new Float32Array(new SharedArrayBuffer(grown * 4));
  }
  return staging;
}

/**
 * `out[batch] = op(a[batch]) @ op(b[batch])` on `threads` threads (the caller and
 * `threads - 1` workers), with `matmulF32`'s contract and `k >= 1`. Returns false, having
 * written nothing, when workers are unavailable or the problem is too small to split; the
 * caller then runs it on its own thread. May also return false after a worker failed, in
 * which case `out` may hold partial results that the caller overwrites.
 */
export function runMatmulF32Parallel(
  kernel: MatmulF32Kernel,
  eng: MatmulEngine,
  wasm: Uint8Array | null,
  threads: number,
  out: Float32Array,
  outOffset: number,
  a: Float32Array,
  aOffsets: ArrayLike<number>,
  transA: boolean,
  b: Float32Array,
  bOffsets: ArrayLike<number>,
  transB: boolean,
  m: number,
  n: number,
  k: number,
): boolean {
  if (poolFailed && pool !== undefined) {
    void stopPool(pool);
    pool = undefined;
  }
  if (poolFailed || threads < 2) return false;
  const builtins = nodeBuiltins();
  if (!builtins) return false;

  const batch = aOffsets.length;
  // Near-square tiles: each tile packs its own rows of A and columns of B, so packing
  // grows with rows + columns per tile while work grows with their product.
  const perMatrix = Math.ceil((TILES_PER_THREAD * threads) / batch);
  const clamp = (v: number, hi: number) => Math.max(1, Math.min(v, hi));
  const roundUp = (v: number, to: number) => Math.ceil(v / to) * to;
  let tilesM = clamp(Math.round(Math.sqrt((perMatrix * m) / n)), Math.floor(m / MIN_TILE_ROWS));
  const tileM = Math.min(kernel.maxTileRows, roundUp(Math.ceil(m / tilesM), kernel.MR));
  tilesM = Math.ceil(m / tileM);
  let tilesN = clamp(Math.ceil(perMatrix / tilesM), Math.floor(n / MIN_TILE_COLS));
  const tileN = roundUp(Math.ceil(n / tilesN), kernel.NR);
  tilesN = Math.ceil(n / tileN);
  const tasks = batch * tilesM * tilesN;
  if (tasks < 2) return false;

  if (pool !== undefined && pool.workers.length !== threads - 1) {
    void stopPool(pool);
    pool = undefined;
  }
  pool ??= startPool(builtins.workerThreads, threads - 1, wasm);
  if (pool === undefined) return false;

  // Stage the operands: a and b from the lowest to the highest block any batch entry uses.
  const [aLo, aHi] = isShared(a) ? [0, 0] : offsetRange(aOffsets, m * k);
  const [bLo, bHi] = isShared(b) ? [0, 0] : offsetRange(bOffsets, k * n);
  const outSize = batch * m * n;
  const outStaged = isShared(out) ? 0 : outSize;
  const area = stagingArea(aHi - aLo + (bHi - bLo) + outStaged);
  const stage = (
    x: Float32Array,
    offsets: ArrayLike<number>,
    lo: number,
    hi: number,
    at: number,
  ) => {
    const rebased = Float64Array.from(offsets);
    if (hi === lo) return { x, offsets: rebased };
    area.set(x.subarray(lo, hi), at);
    for (let i = 0; i < rebased.length; i++) rebased[i] += at - lo;
    return { x: area, offsets: rebased };
  };
  const sa = stage(a, aOffsets, aLo, aHi, 0);
  const sb = stage(b, bOffsets, bLo, bHi, aHi - aLo);
  const outAt = aHi - aLo + (bHi - bLo);

  const job: MatmulJob = {
    sync: new Int32Array(new SharedArrayBuffer(3 * 4)),
    out: outStaged ? area : out,
    outOffset: outStaged ? outAt : outOffset,
    a: sa.x,
    aOffsets: sa.offsets,
    transA,
    b: sb.x,
    bOffsets: sb.offsets,
    transB,
    m,
    n,
    k,
    tileM,
    tileN,
    tilesM,
    tilesN,
    tasks,
  };
  for (const port of pool.ports) port.postMessage(job);
  Atomics.add(pool.ctrl, GENERATION, 1);
  Atomics.notify(pool.ctrl, GENERATION);

  const mine = kernel.runTasks(eng, job);
  for (let done = Atomics.load(job.sync, 1); done < tasks; done = Atomics.load(job.sync, 1)) {
    Atomics.wait(job.sync, 1, done);
  }
  lastTasks = tasks;
  lastWorkerTasks = tasks - mine;
  if (Atomics.load(job.sync, 2) !== 0) {
    poolFailed = true;
    return false;
  }
  if (outStaged) out.set(area.subarray(outAt, outAt + outSize), outOffset);
  return true;
}
