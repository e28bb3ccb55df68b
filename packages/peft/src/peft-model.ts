import {
  type CausalLMInput,
  type CausalLMOutput,
  type GenerateOptions,
  type GenerateOutput,
  generate,
  type MambaForCausalLM,
} from '@statetune/mamba';
import { Generator, noGrad, stack, type Tensor, zeros } from '@statetune/tensor';
import type { Adapter, ForwardExtras, MixerEntries } from './adapter.js';
import { type PeftConfig, type PeftConfigInput, parsePeftConfig, peftMethod } from './config.js';
import { PeftError } from './errors.js';

/** Options of {@link getPeftModel} and {@link PeftModel.addAdapter}. */
export interface AddAdapterOptions {
  /** Name of the adapter (default `default`, as PEFT). */
  readonly adapterName?: string;
  /** Random stream of the adapter's initialisation (default `new Generator(42)`). */
  readonly generator?: Generator;
  /** Encodes text to token ids (prompt tuning initialised from a text). */
  readonly encode?: (text: string) => readonly number[];
  /** Whether its parameters train when it is active (default true; loaded adapters: false). */
  readonly isTrainable?: boolean;
}

/** Inputs of {@link PeftModel.forward}: the model's, plus per-sequence adapters. */
export interface PeftForwardInput extends CausalLMInput {
  /**
   * The adapter each sequence of the batch uses (null: the base model). Only state-based
   * adapters (state offset, initial state) can be mixed in a batch: they enter the scan as
   * per-sequence rows, so a mixed batch costs what a single-adapter batch does.
   */
  readonly adapterNames?: readonly (string | null)[] | null;
}

/** Options of {@link PeftModel.generate}. */
export interface PeftGenerateOptions extends GenerateOptions {
  /** The adapter each prompt uses (null: the base model); see {@link PeftForwardInput}. */
  readonly adapterNames?: readonly (string | null)[] | null;
}

/** Trainable and total parameter counts (PEFT's `get_nb_trainable_parameters`). */
export interface ParameterCounts {
  readonly trainable: number;
  readonly all: number;
}

/** The mixer fields an adapter may set; cleared before every forward. */
const ENTRY_FIELDS = [
  'initialState',
  'stateOffset',
  'outputOffset',
  'extraStates',
  'convState',
] as const;

/**
 * A Mamba model with named adapters (Hugging Face PEFT's `PeftModel`). One adapter is active
 * at a time (its parameters are the trainable ones; the base weights are frozen, except under
 * full fine-tuning); state-based adapters can also be mixed per sequence in one batch.
 *
 * @example
 * ```ts
 * const peft = getPeftModel(model, { peft_type: 'STATE_OFFSET_TUNING', variant: 'h' });
 * peft.printTrainableParameters();
 * const { loss } = peft.forward({ inputIds, labels });
 * ```
 */
export class PeftModel {
  /** The adapted model (its weights are not changed by training an adapter). */
  readonly baseModel: MambaForCausalLM;
  private readonly adapters = new Map<string, Adapter>();
  private readonly trainable = new Map<string, boolean>();
  private active: string;
  private disabled = false;

  constructor(
    model: MambaForCausalLM,
    config: PeftConfigInput | PeftConfig,
    options: AddAdapterOptions = {},
  ) {
    this.baseModel = model;
    const before = model.parameters().map((p) => p.requiresGrad);
    model.freeze();
    this.active = options.adapterName ?? 'default';
    try {
      this.addAdapter(config, options);
    } catch (e) {
      // A bad config leaves the model as it was given.
      model.parameters().forEach((p, i) => {
        p.requiresGrad = before[i];
      });
      throw e;
    }
  }

  /** The active adapter's name. */
  get activeAdapter(): string {
    return this.active;
  }

  /** Every adapter's config by name. */
  get peftConfig(): ReadonlyMap<string, PeftConfig> {
    return new Map([...this.adapters].map(([n, a]) => [n, a.config as PeftConfig]));
  }

  /** Names of the adapters, in the order they were added. */
  get adapterNames(): string[] {
    return [...this.adapters.keys()];
  }

  /** Whether {@link disableAdapter} is in effect. */
  get isDisabled(): boolean {
    return this.disabled;
  }

  /** The adapter of this name (the active one by default). */
  adapter(name: string = this.active): Adapter {
    const a = this.adapters.get(name);
    if (!a) {
      throw new PeftError(
        `no adapter named "${name}" (adapters: ${this.adapterNames.join(', ') || 'none'})`,
      );
    }
    return a;
  }

  /**
   * Adds an adapter (validating its config) without making it active, unless it is the
   * first. Full fine-tuning cannot sit beside other adapters: it trains the base weights.
   */
  addAdapter(config: PeftConfigInput | PeftConfig, options: AddAdapterOptions = {}): Adapter {
    const name = options.adapterName ?? 'default';
    if (this.adapters.has(name)) {
      throw new PeftError(
        `an adapter named "${name}" already exists; delete it first or pick another name`,
      );
    }
    if (!/^[A-Za-z0-9_-]+$/.test(name)) {
      throw new PeftError(
        `adapter name "${name}" must use letters, digits, "_" or "-" (it names a folder)`,
      );
    }
    const parsed = parsePeftConfig(config, `adapter "${name}"`);
    const full = [...this.adapters].find(([, a]) => a.config.peft_type === 'FULL_FINETUNING');
    if (full || (parsed.peft_type === 'FULL_FINETUNING' && this.adapters.size > 0)) {
      const fullName = full ? full[0] : name;
      throw new PeftError(
        `adapter "${name}" (${parsed.peft_type}): FULL_FINETUNING (adapter "${fullName}") trains the base weights themselves, so it cannot be combined with other adapters (adapters: ${this.adapterNames.join(', ')})`,
      );
    }
    const adapter = peftMethod(parsed.peft_type).create(this.baseModel, name, parsed, {
      generator: options.generator ?? new Generator(42),
      encode: options.encode,
    });
    this.adapters.set(name, adapter);
    this.trainable.set(name, options.isTrainable ?? true);
    if (this.adapters.size === 1) this.active = name;
    this.syncTrainable();
    return adapter;
  }

  /**
   * Makes an adapter the active one (its parameters trainable, the others frozen). Other
   * adapters merged into the weights are unmerged first, as PEFT does.
   */
  setAdapter(name: string): void {
    this.adapter(name);
    for (const [n, a] of this.adapters) if (n !== name && a.merged) a.unmerge();
    this.active = name;
    this.syncTrainable();
  }

  /** Removes an adapter and its wrappers; the active one only when it is the last. */
  deleteAdapter(name: string): void {
    const a = this.adapter(name);
    if (name === this.active && this.adapters.size > 1) {
      throw new PeftError(
        `"${name}" is the active adapter; setAdapter() another one before deleting it`,
      );
    }
    if (a.merged) a.unmerge();
    this.remove(name, a);
    this.clearEntries();
  }

  /**
   * Runs the base model without any adapter until {@link enableAdapter}. A merged adapter
   * is unmerged first (it stays unmerged afterwards), as PEFT's `disable_adapter` does.
   */
  disableAdapter(): void {
    if (this.adapter().config.peft_type === 'FULL_FINETUNING') {
      throw new PeftError(
        `adapter "${this.active}" (FULL_FINETUNING) cannot be disabled: it trains the base weights, so there is no base model to fall back to`,
      );
    }
    for (const a of this.adapters.values()) if (a.merged) a.unmerge();
    this.disabled = true;
  }

  /** Turns the active adapter back on after {@link disableAdapter}. */
  enableAdapter(): void {
    this.disabled = false;
  }

  /**
   * Runs `fn` with the adapter disabled (PEFT's `with model.disable_adapter():`). When `fn`
   * returns a promise (`generate`), the adapter comes back on once it settles.
   */
  withAdapterDisabled<T>(fn: () => T): T {
    const was = this.disabled;
    this.disableAdapter();
    let result: T;
    try {
      result = fn();
    } catch (e) {
      this.disabled = was;
      throw e;
    }
    if (result instanceof Promise) {
      return result.finally(() => {
        this.disabled = was;
      }) as T;
    }
    this.disabled = was;
    return result;
  }

  /**
   * Forward with the active adapter (or per-sequence adapters, or none when disabled). The
   * mixers' entry points hold the adapter's tensors during the call only: they are cleared
   * when it returns, so a later `baseModel.forward` never reads tensors that a `tidy()`
   * scope around this call has disposed.
   */
  forward(input: PeftForwardInput): CausalLMOutput {
    const { adapterNames, ...rest } = input;
    try {
      const { extras, rows } = this.prepare(adapterNames ?? null, batchOf(input.inputIds));
      return this.baseModel.forward({
        ...rest,
        prefixEmbeds: rest.prefixEmbeds ?? extras.prefixEmbeds ?? null,
        adapterRows: rows ?? rest.adapterRows ?? null,
      });
    } finally {
      this.clearEntries();
    }
  }

  /**
   * Generation (greedy, sampling, beam search) with the active or per-prompt adapters; the
   * entry points are cleared once it settles, as after {@link forward}.
   */
  async generate(
    prompts: readonly (readonly number[])[],
    options: PeftGenerateOptions,
  ): Promise<GenerateOutput> {
    const { adapterNames, ...rest } = options;
    try {
      const { extras, rows } = noGrad(() => this.prepare(adapterNames ?? null, prompts.length));
      return await generate(this.baseModel, prompts, {
        ...rest,
        prefixEmbeds: rest.prefixEmbeds ?? extras.prefixEmbeds ?? null,
        adapterRows: rows ?? rest.adapterRows ?? null,
      });
    } finally {
      this.clearEntries();
    }
  }

  /** Every parameter the optimizer should see (the active adapter's, or all under full fine-tuning). */
  trainableParameters(): Tensor[] {
    const out = new Set<Tensor>();
    for (const a of this.adapters.values())
      for (const p of a.parameters()) if (p.requiresGrad) out.add(p);
    for (const p of this.baseModel.parameters()) if (p.requiresGrad) out.add(p);
    return [...out];
  }

  /** The active adapter's parameters by saved key (for optimizers that want names). */
  namedTrainableParameters(): [string, Tensor][] {
    return this.adapter()
      .namedParameters()
      .filter(([, p]) => p.requiresGrad);
  }

  /** Trainable and total parameter counts: base weights plus every adapter's, counted once. */
  getNbTrainableParameters(): ParameterCounts {
    const all = new Set<Tensor>(this.baseModel.parameters());
    for (const a of this.adapters.values()) for (const p of a.parameters()) all.add(p);
    let total = 0;
    let trainable = 0;
    for (const p of all) {
      total += p.size;
      if (p.requiresGrad) trainable += p.size;
    }
    return { trainable, all: total };
  }

  /**
   * Prints PEFT's line, e.g.
   * `trainable params: 589,824 || all params: 129,725,184 || trainable%: 0.4547`.
   */
  printTrainableParameters(log: (line: string) => void = console.log): void {
    const { trainable, all } = this.getNbTrainableParameters();
    log(formatTrainableParameters(trainable, all));
  }

  /** Training mode (dropout on) for the model and every adapter. */
  train(mode = true): this {
    this.baseModel.train(mode);
    for (const a of this.adapters.values()) a.train(mode);
    return this;
  }

  /** Evaluation mode. */
  eval(): this {
    return this.train(false);
  }

  /** Drops the gradients of every parameter. */
  zeroGrad(): void {
    this.baseModel.zeroGrad();
    for (const a of this.adapters.values()) a.zeroGrad();
  }

  /** Merges an adapter (LoRA, BitFit) into the base weights; it stays active, merged. */
  mergeAdapter(name: string = this.active): void {
    const a = this.adapter(name);
    if (!a.merged) a.merge();
  }

  /** Takes a merged adapter back out of the base weights. */
  unmergeAdapter(name: string = this.active): void {
    const a = this.adapter(name);
    if (a.merged) a.unmerge();
  }

  /**
   * Merges the active adapter into the weights, removes every adapter and returns the plain
   * model (PEFT's `merge_and_unload`), its weights frozen. Methods that cannot merge are an
   * error, before anything changes. Under FULL_FINETUNING the weights are the trained ones.
   */
  mergeAndUnload(): MambaForCausalLM {
    const a = this.adapter();
    if (a.config.peft_type !== 'FULL_FINETUNING' && !a.merged) a.merge();
    return this.unloadAll();
  }

  /**
   * Removes every adapter without merging and returns the model as it was (PEFT's `unload`),
   * its weights frozen as PEFT leaves them. After FULL_FINETUNING the weights keep what was
   * trained (there is no copy of the original ones); they are frozen again too.
   */
  unload(): MambaForCausalLM {
    for (const a of this.adapters.values()) if (a.merged) a.unmerge();
    return this.unloadAll();
  }

  private unloadAll(): MambaForCausalLM {
    for (const [name, a] of [...this.adapters]) this.remove(name, a);
    this.clearEntries();
    return this.baseModel;
  }

  /**
   * Takes an adapter off the model and forgets it. Its parameters are frozen: under full
   * fine-tuning they are the model's weights, which must not stay trainable without it.
   */
  private remove(name: string, a: Adapter): void {
    a.deactivate();
    a.detach();
    for (const p of a.parameters()) p.requiresGrad = false;
    this.adapters.delete(name);
    this.trainable.delete(name);
  }

  /** Makes exactly the active adapter's parameters trainable. */
  private syncTrainable(): void {
    for (const [n, a] of this.adapters) {
      const on = n === this.active && this.trainable.get(n) === true;
      for (const p of a.parameters()) p.requiresGrad = on;
    }
  }

  private mergedNames(): string[] {
    return [...this.adapters].filter(([, a]) => a.merged).map(([n]) => n);
  }

  private clearEntries(): void {
    for (const m of this.baseModel.mixers) for (const f of ENTRY_FIELDS) m[f] = null;
  }

  /**
   * Puts the adapters on the model for one forward: clears every entry point, then activates
   * the active adapter, or stacks per-sequence adapters' entries and returns their rows.
   */
  private prepare(
    names: readonly (string | null)[] | null,
    batch: number,
  ): { extras: ForwardExtras; rows: number[] | null } {
    this.clearEntries();
    for (const a of this.adapters.values()) a.deactivate();
    if (names) return { extras: {}, rows: this.prepareMixed(names, batch) };
    if (this.disabled) return { extras: {}, rows: null };
    return { extras: this.adapter().activate(), rows: null };
  }

  private prepareMixed(names: readonly (string | null)[], batch: number): number[] {
    if (names.length !== batch) {
      throw new PeftError(
        `adapterNames has ${names.length} entries but the batch has ${batch} sequences`,
      );
    }
    const merged = this.mergedNames();
    if (merged.length > 0) {
      throw new PeftError(
        `adapter "${merged[0]}" is merged into the weights, which every sequence would see; unmergeAdapter("${merged[0]}") before mixing adapters per sequence`,
      );
    }
    const distinct = [...new Set(names.filter((n): n is string => n !== null))];
    const entries = distinct.map((n) => {
      const e = this.adapter(n).mixerEntries();
      if (!e) {
        throw new PeftError(
          `adapter "${n}" (${this.adapter(n).config.peft_type}) cannot be mixed per sequence; only state-based adapters (STATE_OFFSET_TUNING, INITIAL_STATE_TUNING) can`,
        );
      }
      return e;
    });
    // Row 0 is the base model (zeros), row i + 1 the i-th distinct adapter.
    const rowOf = new Map(distinct.map((n, i) => [n, i + 1]));
    const { dInner, dState } = this.baseModel.config;
    const mixers = this.baseModel.mixers;
    const fields = [
      ['initialState', [dInner, dState]],
      ['stateOffset', [dInner, dState]],
      ['outputOffset', [dInner]],
    ] as const;
    for (let layer = 0; layer < mixers.length; layer++) {
      for (const [field, shape] of fields) {
        const per = entries.map((e) => (e[layer] as MixerEntries | null)?.[field] ?? null);
        if (per.every((t) => t === null)) continue;
        const zero = zeros([...shape], {
          backend: this.baseModel.backbone.embeddings.weight.backend,
        });
        mixers[layer][field] = stack([zero, ...per.map((t) => t ?? zero)], 0);
      }
    }
    return names.map((n) => (n === null ? 0 : (rowOf.get(n) as number)));
  }
}

/**
 * Wraps a model with a first adapter (Hugging Face PEFT's `get_peft_model`): the base
 * weights are frozen and the adapter's parameters are the trainable ones.
 */
export function getPeftModel(
  model: MambaForCausalLM,
  config: PeftConfigInput | PeftConfig,
  options: AddAdapterOptions = {},
): PeftModel {
  return new PeftModel(model, config, options);
}

/** PEFT's line: `trainable params: 1,234 || all params: 5,678 || trainable%: 21.7330`. */
export function formatTrainableParameters(trainable: number, all: number): string {
  // Python's `{:,d}`: digits in groups of three, whatever the locale.
  const fmt = (n: number) => String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const pct = all === 0 ? 0 : (100 * trainable) / all;
  return `trainable params: ${fmt(trainable)} || all params: ${fmt(all)} || trainable%: ${pct.toFixed(4)}`;
}

function batchOf(ids: CausalLMInput['inputIds']): number {
  return 'shape' in ids ? (ids as Tensor).shape[0] : (ids as readonly unknown[]).length;
}
