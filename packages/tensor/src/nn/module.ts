import { keep, noGrad } from '../engine.js';
import { fmtShape, TensorError } from '../errors.js';
import { shapesEqual } from '../shape.js';
import { Tensor } from '../tensor.js';

/** Results of {@link Module.loadStateDict}. */
export interface LoadResult {
  /** Names the module has but the dict lacked. */
  readonly missing: string[];
  /** Names in the dict the module does not have. */
  readonly unexpected: string[];
}

/**
 * A layer or model: named parameters, buffers and child modules, addressed by dotted names
 * such as `backbone.layers.0.mixer.in_proj.weight`, as PyTorch's `state_dict` names them.
 * Parameters are leaves that require gradients; buffers are state that is saved but not
 * trained. Children can be replaced by name, which is how adapters (LoRA) wrap layers
 * without the model knowing.
 */
export class Module {
  /** Training mode (dropout on); switch with train() / eval(). */
  training = true;
  private readonly params = new Map<string, Tensor>();
  private readonly buffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  /** Adds a trainable parameter; the tensor is kept out of tidy() scopes. */
  protected registerParameter(name: string, t: Tensor): Tensor {
    this.checkName(name);
    if (t.isLeaf) t.requiresGrad = true;
    // A name for messages; namedParameters() gives the full dotted path.
    t.name ??= name;
    this.params.set(name, keep(t));
    return t;
  }

  /** Adds non-trainable state that is saved with the parameters. */
  protected registerBuffer(name: string, t: Tensor): Tensor {
    this.checkName(name);
    this.buffers.set(name, keep(t));
    return t;
  }

  /** Adds a child module. */
  protected registerModule<M extends Module>(name: string, m: M): M {
    this.checkName(name);
    this.children.set(name, m);
    return m;
  }

  private checkName(name: string): void {
    if (!name || name.includes('.')) {
      throw new TensorError(
        'Module',
        `a member name must be non-empty and have no dots, got "${name}"`,
      );
    }
    if (this.params.has(name) || this.buffers.has(name) || this.children.has(name)) {
      throw new TensorError('Module', `"${name}" is already registered on this module`);
    }
  }

  /**
   * Every parameter with its dotted name, depth first in registration order. A tensor shared
   * by several modules (tied weights) is listed once, under its first name, as PyTorch's
   * named_parameters does, so optimizers and counts see it once; stateDict keeps every name.
   */
  namedParameters(prefix = ''): [string, Tensor][] {
    return unique(this.collect('params', prefix));
  }

  /** Every parameter. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Parameters that currently require gradients. */
  trainableParameters(): Tensor[] {
    return this.parameters().filter((p) => p.requiresGrad);
  }

  /** Every buffer with its dotted name (a shared one once, under its first name). */
  namedBuffers(prefix = ''): [string, Tensor][] {
    return unique(this.collect('buffers', prefix));
  }

  /** Parameters or buffers under every name they have, depth first. */
  private collect(kind: 'params' | 'buffers', prefix: string): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this[kind]) out.push([prefix + n, t]);
    for (const [n, c] of this.children) out.push(...c.collect(kind, `${prefix}${n}.`));
    return out;
  }

  /** Every module below this one (this one first, named ''), with dotted names. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix.replace(/\.$/, ''), this]];
    for (const [n, c] of this.children) out.push(...c.namedModules(`${prefix}${n}.`));
    return out;
  }

  /** Direct children with their names. */
  namedChildren(): [string, Module][] {
    return [...this.children];
  }

  /** The module at a dotted path ('' is this one). */
  getSubmodule(path: string): Module {
    if (path === '') return this;
    let m: Module = this;
    for (const part of path.split('.')) {
      const next = m.children.get(part);
      if (!next) {
        throw new TensorError(
          'getSubmodule',
          `no module "${path}" (stopped at "${part}"; children there: ${[...m.children.keys()].join(', ') || 'none'})`,
        );
      }
      m = next;
    }
    return m;
  }

  /** Replaces the module at a dotted path (wrapping a layer with an adapter). */
  setSubmodule(path: string, module: Module): void {
    const dot = path.lastIndexOf('.');
    const parent = this.getSubmodule(dot < 0 ? '' : path.slice(0, dot));
    const name = path.slice(dot + 1);
    const old = parent.children.get(name);
    if (!old) {
      throw new TensorError('setSubmodule', `no module "${path}" to replace`);
    }
    parent.children.set(name, module);
    // Fields that held the old child (this.inProj = registerModule('in_proj', ...)) follow.
    const fields = parent as unknown as Record<string, unknown>;
    for (const key of Object.keys(fields)) if (fields[key] === old) fields[key] = module;
    parent.onChildReplaced(name, module);
  }

  /** Called after a child is replaced, for subclasses that hold children in collections. */
  protected onChildReplaced(_name: string, _module: Module): void {}

  /** The parameter or buffer at a dotted path. */
  getTensor(path: string): Tensor {
    const dot = path.lastIndexOf('.');
    const owner = this.getSubmodule(dot < 0 ? '' : path.slice(0, dot));
    const name = path.slice(dot + 1);
    const t = owner.params.get(name) ?? owner.buffers.get(name);
    if (!t) throw new TensorError('getTensor', `no parameter or buffer "${path}"`);
    return t;
  }

  /** Stops gradients to every parameter (base weights under an adapter). */
  freeze(): this {
    for (const p of this.parameters()) p.requiresGrad = false;
    return this;
  }

  /** Lets gradients reach every parameter again. */
  unfreeze(): this {
    for (const p of this.parameters()) p.requiresGrad = true;
    return this;
  }

  /** Sets training mode here and below. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Sets evaluation mode here and below. */
  eval(): this {
    return this.train(false);
  }

  /** Number of parameter elements (only trainable ones when asked). */
  numParameters(options: { trainableOnly?: boolean } = {}): number {
    const list = options.trainableOnly ? this.trainableParameters() : this.parameters();
    return list.reduce((n, p) => n + p.size, 0);
  }

  /** Drops every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Parameters and buffers by dotted name (a tied tensor under each of its names, as PyTorch). */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.collect('params', ''), ...this.collect('buffers', '')]);
  }

  /**
   * Copies values into the parameters and buffers by name, in place (converting dtypes, and
   * copying through the host from another backend that reads synchronously, such as a
   * checkpoint read on the CPU). A tensor whose shape differs is an error naming it; with
   * `strict` (default) so are missing and unexpected names. Nothing is written unless every
   * check passes.
   */
  loadStateDict(
    dict: Map<string, Tensor> | Record<string, Tensor>,
    options: { strict?: boolean } = {},
  ): LoadResult {
    const strict = options.strict ?? true;
    const entries = dict instanceof Map ? dict : new Map(Object.entries(dict));
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !entries.has(k));
    const unexpected = [...entries.keys()].filter((k) => !own.has(k));
    const problems: string[] = [];
    for (const [name, t] of entries) {
      const target = own.get(name);
      if (!target) continue;
      if (!shapesEqual(target.shape, t.shape)) {
        problems.push(
          `${name}: expected shape ${fmtShape(target.shape)}, got ${fmtShape(t.shape)}`,
        );
      } else if (t.isDisposed) {
        problems.push(`${name}: the tensor given was disposed`);
      } else if (t.backend !== target.backend && !t.backend.canReadSync) {
        problems.push(
          `${name}: lives on the ${t.backend.name} backend, which reads asynchronously; move it to ${target.backend.name} first`,
        );
      }
    }
    if (strict && missing.length > 0) problems.push(`missing: ${missing.join(', ')}`);
    if (strict && unexpected.length > 0) problems.push(`unexpected: ${unexpected.join(', ')}`);
    if (problems.length > 0) {
      throw new TensorError(
        'loadStateDict',
        `cannot load the state dict:\n  ${problems.join('\n  ')}`,
      );
    }
    noGrad(() => {
      for (const [name, t] of entries) {
        const target = own.get(name);
        if (!target) continue;
        if (t.backend === target.backend) {
          target.assign(t);
        } else {
          const moved = Tensor.fromData(
            target.backend.upload(t.dataSync()),
            t.shape,
            t.dtype,
            target.backend,
          );
          target.assign(moved);
          moved.dispose();
        }
      }
    });
    return { missing, unexpected };
  }

  /** Releases every parameter and buffer now (device memory). */
  dispose(): void {
    for (const [, t] of this.stateDict()) {
      t.grad?.dispose();
      t.dispose();
    }
  }
}

/** The first entry for each tensor. */
function unique(entries: [string, Tensor][]): [string, Tensor][] {
  const seen = new Set<Tensor>();
  return entries.filter(([, t]) => !seen.has(t) && seen.add(t) !== undefined);
}

/** Children addressed by index ("0", "1", ...), as torch.nn.ModuleList. */
export class ModuleList<M extends Module = Module> extends Module {
  private readonly items: M[] = [];

  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.push(m);
  }

  /** Appends a module under the next index. */
  push(m: M): void {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
  }

  /** The module at an index. */
  at(i: number): M {
    const m = this.items[i];
    if (!m)
      throw new TensorError(
        'ModuleList',
        `index ${i} is out of range for ${this.items.length} modules`,
      );
    return m;
  }

  /** Number of modules. */
  get length(): number {
    return this.items.length;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }

  protected override onChildReplaced(name: string, module: Module): void {
    this.items[Number(name)] = module as M;
  }
}
