/**
 * The worker pool of the CPU kernels (matmul, selective scan): a synchronous fork-join from
 * the calling thread, one pool for every kernel so that they never compete for cores.
 *
 * A job is cut into tasks that the threads claim from a shared counter (`sync`, see
 * {@link PoolJob}). The job, whose arrays live in shared memory, is posted to each worker's
 * port and the workers are woken through `Atomics.notify`. Workers block in `Atomics.wait`
 * and read the job with `receiveMessageOnPort`, so neither side needs its event loop. The
 * caller claims tasks too and then waits (`Atomics.wait`) until every task is done, so a
 * worker that is slow to start only means less help, never a wrong or missing result.
 *
 * Each worker builds the kernels from their source (`createMatmulF32Kernel.toString()`,
 * `createScanKernel.toString()`), whether this file runs from TypeScript sources (vitest) or
 * from the bundled dist, and makes a kernel's engine (WebAssembly instance and scratch) on
 * its first job of that kind.
 *
 * `node:worker_threads` is looked up lazily through `process.getBuiltinModule` (Node
 * >= 20.16) or, failing that, loaded by a dynamic import whose result later calls use;
 * anywhere else (a browser bundle) the pool is simply unavailable.
 */

import type * as NodeOs from 'node:os';
import type * as NodeWorkerThreads from 'node:worker_threads';
import { TensorError } from '../errors.js';
import { createMatmulF32Kernel } from './matmul-kernel.js';
import { createScanKernel } from './scan-kernel.js';
import { SCAN_ABI } from './scan-wasm.js';

type WorkerThreads = typeof NodeWorkerThreads;

interface NodeModules {
  readonly workerThreads: WorkerThreads;
  readonly os: typeof NodeOs;
}

/** The kernels workers can run, by the name jobs give. */
export type PoolKernelName = 'matmul' | 'scan';

/** What every job has: tasks claimed through a shared counter. */
export interface PoolJob {
  /**
   * `[next task, tasks done, failed (0 | 1)]`, in shared memory, fresh for each job. A
   * thread claims task `Atomics.add(sync, 0, 1)`, counts it in `sync[1]` when done and
   * notifies on `sync[1]` after the last; a task that throws sets `sync[2]`.
   */
  readonly sync: Int32Array;
  readonly tasks: number;
}

/** What a worker receives for each job. */
interface JobMessage {
  readonly kind: PoolKernelName;
  /** The kernel's WebAssembly module, or null for its JS fallback. */
  readonly wasm: Uint8Array | null;
  readonly job: PoolJob;
}

interface WorkerData {
  /** `[generation, stop (0 | 1), workers ready]`. */
  readonly ctrl: Int32Array;
  readonly port: NodeWorkerThreads.MessagePort;
}

interface Pool {
  readonly workers: NodeWorkerThreads.Worker[];
  readonly ports: NodeWorkerThreads.MessagePort[];
  readonly ctrl: Int32Array;
}

const GENERATION = 0;
const STOP = 1;
const READY = 2;

let nodeModules: NodeModules | null | undefined;
let importStarted = false;
let pool: Pool | undefined;
/** Set when a worker failed; from then on every call stays on the calling thread. */
let poolFailed = false;
let threadSetting: number | 'auto' = 'auto';
let arena: SharedArrayBuffer | undefined;
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

/**
 * How many threads the CPU kernels may use, the calling thread included: `'auto'` (the
 * default) uses `os.availableParallelism()`, `1` disables workers. Workers exist only in
 * Node; elsewhere every call runs on the calling thread. Results do not depend on it: the
 * kernels split work the same way whatever the thread count.
 *
 * @throws TensorError unless `threads` is `'auto'` or a positive integer.
 */
export function setCpuThreads(threads: number | 'auto', caller = 'setCpuThreads'): void {
  if (threads !== 'auto' && !(Number.isInteger(threads) && threads >= 1)) {
    throw new TensorError(
      caller,
      `threads must be 'auto' or a positive integer, got ${String(threads)}`,
    );
  }
  threadSetting = threads;
}

/** The thread count {@link setCpuThreads} resolves to here (1 where there are no workers). */
export function cpuThreads(): number {
  if (threadSetting !== 'auto') return threadSetting;
  const os = nodeBuiltins()?.os;
  if (os === undefined) return 1;
  return typeof os.availableParallelism === 'function'
    ? os.availableParallelism()
    : os.cpus().length;
}

/**
 * Whether {@link runParallel} can run a job now: more than one thread, Node's workers at
 * hand, and no worker failure so far. Callers check this before staging data in shared
 * memory.
 */
export function poolUsable(): boolean {
  return !poolFailed && cpuThreads() >= 2 && Boolean(nodeBuiltins());
}

/** The body of each worker thread; self-contained, like the kernels, since it ships as source. */
function workerMain(
  kernels: Record<
    PoolKernelName,
    {
      createEngine(wasm: Uint8Array | null): unknown;
      runTasks(engine: unknown, job: PoolJob): number;
    }
  >,
  wt: WorkerThreads,
): void {
  const { ctrl, port } = wt.workerData as WorkerData;
  const engines = new Map<string, unknown>();
  // ctrl indices as GENERATION, STOP, READY above, which this source cannot see.
  Atomics.add(ctrl, 2, 1);
  let seen = 0;
  for (;;) {
    Atomics.wait(ctrl, 0, seen);
    seen = Atomics.load(ctrl, 0);
    if (Atomics.load(ctrl, 1) !== 0) break;
    // Only the newest job can have tasks left; older ones were finished by other threads.
    let msg: JobMessage | undefined;
    for (let m = wt.receiveMessageOnPort(port); m !== undefined; ) {
      msg = m.message as JobMessage;
      m = wt.receiveMessageOnPort(port);
    }
    if (msg === undefined) continue;
    const kernel = kernels[msg.kind];
    const key = `${msg.kind}:${msg.wasm === null ? 'js' : 'wasm'}`;
    let engine = engines.get(key);
    if (engine === undefined) {
      engine = kernel.createEngine(msg.wasm);
      engines.set(key, engine);
    }
    kernel.runTasks(engine, msg.job);
  }
  port.close();
}

function workerSource(): string {
  return [
    "'use strict';",
    'const kernels = {',
    `  matmul: (${createMatmulF32Kernel.toString()})(),`,
    `  scan: (${createScanKernel.toString()})(${JSON.stringify(SCAN_ABI)}),`,
    '};',
    `(${workerMain.toString()})(kernels, require('node:worker_threads'));`,
  ].join('\n');
}

function startPool(wt: WorkerThreads, size: number): Pool | undefined {
  const ctrl = new Int32Array(new SharedArrayBuffer(3 * 4));
  const started: Pool = { workers: [], ports: [], ctrl };
  const source = workerSource();
  try {
    for (let i = 0; i < size; i++) {
      const { port1, port2 } = new wt.MessageChannel();
      const workerData: WorkerData = { ctrl, port: port2 };
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
  arena = undefined;
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

/**
 * Shared memory of at least `bytes` for staging a job's arrays, reused from call to call
 * (a fresh buffer per call would page-fault its way through every byte again). Valid until
 * the next call; callers copy results out before returning.
 */
export function sharedArena(bytes: number): SharedArrayBuffer {
  if (arena === undefined || arena.byteLength < bytes) {
    const grown = Math.max(bytes, Math.ceil((arena?.byteLength ?? 0) * 1.25));
    arena = new SharedArrayBuffer(Math.ceil(grown / 16) * 16);
  }
  return arena;
}

/** Whether `x` lives in shared memory, where workers can read and write it in place. */
export function isShared(x: Float32Array | Float64Array): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && x.buffer instanceof SharedArrayBuffer;
}

/**
 * Runs `job` on {@link cpuThreads} threads: the caller (through `runMine`, which claims
 * tasks like the workers do and returns how many it ran) and the workers, each running
 * kernel `kind` with `wasm`. Every array the tasks write must be in shared memory. Returns
 * false when the pool is unavailable (nothing ran) or a task failed (some tasks may have
 * written); the caller then runs the job on its own thread.
 */
export function runParallel(
  kind: PoolKernelName,
  wasm: Uint8Array | null,
  job: PoolJob,
  runMine: () => number,
): boolean {
  if (poolFailed && pool !== undefined) {
    void stopPool(pool);
    pool = undefined;
  }
  const threads = cpuThreads();
  if (poolFailed || threads < 2 || job.tasks < 2) return false;
  const builtins = nodeBuiltins();
  if (!builtins) return false;

  if (pool !== undefined && pool.workers.length !== threads - 1) {
    void stopPool(pool);
    pool = undefined;
  }
  pool ??= startPool(builtins.workerThreads, threads - 1);
  if (pool === undefined) return false;

  const message: JobMessage = { kind, wasm, job };
  for (const port of pool.ports) port.postMessage(message);
  Atomics.add(pool.ctrl, GENERATION, 1);
  Atomics.notify(pool.ctrl, GENERATION);

  const mine = runMine();
  const { sync, tasks } = job;
  for (let done = Atomics.load(sync, 1); done < tasks; done = Atomics.load(sync, 1)) {
    Atomics.wait(sync, 1, done);
  }
  lastTasks = tasks;
  lastWorkerTasks = tasks - mine;
  if (Atomics.load(sync, 2) !== 0) {
    poolFailed = true;
    return false;
  }
  return true;
}
