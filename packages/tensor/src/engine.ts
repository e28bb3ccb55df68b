import type { Backend } from './backend.js';
import { CpuBackend } from './cpu/backend.js';
import { TensorError } from './errors.js';

/**
 * Global state of the tensor core: the registered backends and the one in use, the
 * gradient mode, and the stack of memory scopes opened by `tidy`.
 */

/** Anything that can be disposed now: tensors and anything holding them. */
export interface Disposable {
  dispose(): void;
}

interface Registration {
  readonly factory: () => Backend | Promise<Backend>;
  /** Higher is preferred by `auto`. */
  readonly priority: number;
  instance?: Backend;
}

const registry = new Map<string, Registration>();
let current: Backend | null = null;
const defaultBackendName = 'cpu';

/**
 * Makes a backend available by name. `auto` tries registered backends from the highest
 * priority down; `cpu` is registered with priority 0.
 */
export function registerBackend(
  name: string,
  factory: () => Backend | Promise<Backend>,
  priority = 1,
): void {
  registry.set(name, { factory, priority });
}

/** Names of the registered backends. */
export function listBackends(): string[] {
  return [...registry.keys()];
}

/** What `setBackend` and `backend` options accept. */
export type BackendName = 'auto' | 'cpu' | 'webgpu' | (string & {});

async function instantiate(name: string): Promise<Backend> {
  const reg = registry.get(name);
  if (!reg) {
    throw new TensorError(
      'setBackend',
      `backend "${name}" is not registered (registered: ${listBackends().join(', ') || 'none'}); ` +
        (name === 'webgpu'
          ? "import '@statetune/webgpu' and call its registration before choosing it"
          : 'register it with registerBackend first'),
    );
  }
  reg.instance ??= await reg.factory();
  return reg.instance;
}

/** Options of {@link setBackend}. */
export interface SetBackendOptions {
  /** Called with a one-line notice when `auto` falls back (default: console.warn). */
  readonly onNotice?: (message: string) => void;
}

/**
 * Chooses the backend new tensors live on. `auto` takes the registered backend with the
 * highest priority that starts, and falls back to the CPU with a one-line notice saying
 * why; naming a backend that cannot start is an error that says why.
 */
export async function setBackend(
  choice: BackendName | Backend,
  options: SetBackendOptions = {},
): Promise<Backend> {
  if (typeof choice !== 'string') {
    current = choice;
    return choice;
  }
  if (choice !== 'auto') {
    current = await instantiate(choice);
    return current;
  }
  const candidates = [...registry.entries()].sort((a, b) => b[1].priority - a[1].priority);
  const notices: string[] = [];
  for (const [name] of candidates) {
    try {
      current = await instantiate(name);
      if (notices.length > 0) {
        (options.onNotice ?? console.warn)(
          `statetune: using the ${name} backend (${notices.join('; ')})`,
        );
      }
      return current;
    } catch (err) {
      notices.push(`${name} unavailable: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new TensorError('setBackend', `no backend could start: ${notices.join('; ')}`);
}

/** The backend new tensors are created on. */
export function getBackend(): Backend {
  if (current) return current;
  const reg = registry.get(defaultBackendName);
  if (!reg)
    throw new TensorError(
      'getBackend',
      `the default backend "${defaultBackendName}" is not registered`,
    );
  const made = reg.factory();
  if (made instanceof Promise) {
    throw new TensorError(
      'getBackend',
      `backend "${defaultBackendName}" starts asynchronously: await setBackend() first`,
    );
  }
  reg.instance = made;
  current = made;
  return made;
}

registerBackend('cpu', () => new CpuBackend(), 0);

/** A backend instance by name, if it has been started. */
export function findBackend(name: string): Backend | undefined {
  if (current?.name === name) return current;
  return registry.get(name)?.instance;
}

// Gradient mode.

let gradEnabled = true;

/** True when ops record on the autograd tape. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording gradients (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Runs `fn` with gradient recording switched on or off. */
export function withGradEnabled<T>(enabled: boolean, fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = enabled;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

// Memory scopes.

/** Something a scope can track: a tensor, released when its scope ends unless kept. */
export interface Tracked extends Disposable {
  readonly isDisposed: boolean;
}

const scopes: Set<Tracked>[] = [];

/** Adds a newly created tensor to the innermost open scope. */
export function track(t: Tracked): void {
  if (scopes.length > 0) scopes[scopes.length - 1].add(t);
}

/**
 * Removes tensors from every open scope so that the scopes' ends do not dispose them
 * (parameters, optimizer state, gradients).
 */
export function keep<T extends Tracked | null | undefined>(t: T): T {
  if (t) for (const s of scopes) s.delete(t);
  return t;
}

function collect(value: unknown, into: Set<Tracked>, seen = new Set<object>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (isTracked(value)) {
    into.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, into, seen);
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, into, seen);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, into, seen);
  }
}

function isTracked(v: object): v is Tracked {
  return typeof (v as Tracked).dispose === 'function' && 'isDisposed' in v;
}

/**
 * Runs `fn` and disposes every tensor created inside it, except those it returns (found in
 * the result, its arrays, maps and plain objects), which move to the enclosing scope. On a
 * device this is how a training step releases its activations deterministically.
 * `fn` must be synchronous.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tracked>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw err;
  }
  scopes.pop();
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    throw new TensorError(
      'tidy',
      'the function returned a Promise; tidy only scopes synchronous work',
    );
  }
  const kept = new Set<Tracked>();
  collect(result, kept);
  const parent = scopes.length > 0 ? scopes[scopes.length - 1] : null;
  for (const t of scope) {
    if (kept.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/** Disposes every tensor found in the arguments (arrays, maps and plain objects are searched). */
export function dispose(...values: unknown[]): void {
  const found = new Set<Tracked>();
  collect(values, found);
  for (const t of found) t.dispose();
}
