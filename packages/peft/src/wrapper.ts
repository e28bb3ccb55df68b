import type { MambaForCausalLM } from '@statetune/mamba';
import { Module, type Tensor } from '@statetune/tensor';
import { Adapter, type ForwardExtras, type PeftConfigBase } from './adapter.js';
import { PeftError } from './errors.js';

/** A layer with a `forward` (a projection, a conv, or another wrapper). */
export type ForwardModule = Module & { forward(x: Tensor): Tensor };

/**
 * A module installed in place of a mixer layer (`in_proj`, `conv1d`, ...) that computes the
 * layer's output through its `base` and changes it for the adapters it holds. The base's
 * weight and bias are registered as this module's own `weight` and `bias` (the same tensors),
 * so the model's parameter names (`...mixer.in_proj.weight`) do not change while it is
 * installed. Wrappers of different methods can stack (BitFit around LoRA); each holds the
 * pieces of every adapter of its method on that layer, keyed by adapter name.
 */
export abstract class LayerWrapper extends Module {
  /** The layer's weight (the base layer's own tensor). */
  readonly weight: Tensor;
  /** The layer's bias (the base layer's own tensor), or null. */
  readonly bias: Tensor | null;
  /** The adapter whose pieces apply in the next forward; null for none. */
  activeAdapter: string | null = null;

  constructor(
    /** The module this one replaced (possibly another wrapper). */
    public base: ForwardModule,
    /** Where it sits in the model (for messages). */
    readonly path: string,
  ) {
    super();
    const { weight, bias } = base as unknown as { weight?: Tensor; bias?: Tensor | null };
    if (!weight) throw new PeftError(`${path}: the layer there has no weight to adapt`);
    // Registering flips requiresGrad on; the base weights keep whatever the model had.
    const frozen = [weight.requiresGrad, bias?.requiresGrad ?? false] as const;
    this.weight = this.registerParameter('weight', weight);
    this.bias = bias ? this.registerParameter('bias', bias) : null;
    weight.requiresGrad = frozen[0];
    if (bias) bias.requiresGrad = frozen[1];
  }

  /** The layer's output for `x`. */
  abstract forward(x: Tensor): Tensor;

  /** Whether any adapter still has pieces here (the wrapper is removed when none has). */
  abstract get isEmpty(): boolean;

  /** Drops an adapter's pieces (unmerge first); no-op for an adapter it does not hold. */
  abstract removeAdapter(adapterName: string): void;

  /** Writes an adapter's effect into the base weights (no-op when already merged). */
  abstract merge(adapterName: string): void;

  /** Takes a merged adapter's effect back out of the base weights (no-op when not merged). */
  abstract unmerge(adapterName: string): void;
}

/**
 * An adapter made of {@link LayerWrapper} pieces (LoRA, BitFit): it switches its wrappers on
 * and off, removes its pieces on detach (and a wrapper left empty) and merges by asking every
 * wrapper to write its pieces into the weights. Subclasses create the wrappers and push them
 * to {@link WrapperAdapter.wrappers} in their constructor.
 */
export abstract class WrapperAdapter<
  C extends PeftConfigBase,
  W extends LayerWrapper,
> extends Adapter<C> {
  /** The wrappers holding this adapter's pieces. */
  protected readonly wrappers: W[] = [];
  private isMerged = false;

  override activate(): ForwardExtras {
    for (const w of this.wrappers) w.activeAdapter = this.adapterName;
    return {};
  }

  override deactivate(): void {
    for (const w of this.wrappers) if (w.activeAdapter === this.adapterName) w.activeAdapter = null;
  }

  override detach(): void {
    for (const w of this.wrappers) {
      w.removeAdapter(this.adapterName);
      if (w.isEmpty) removeWrapper(this.model, w);
    }
    this.wrappers.length = 0;
  }

  /** Writes the adapter's effect into the base weights (kept reversible by unmerge). */
  override merge(): void {
    if (this.isMerged) return;
    for (const w of this.wrappers) w.merge(this.adapterName);
    this.isMerged = true;
  }

  /** Takes the adapter's effect back out of the base weights. */
  override unmerge(): void {
    if (!this.isMerged) {
      throw new PeftError(`${this.config.peft_type} adapter "${this.adapterName}" is not merged`);
    }
    for (const w of this.wrappers) w.unmerge(this.adapterName);
    this.isMerged = false;
  }

  override get merged(): boolean {
    return this.isMerged;
  }
}

/** The wrappers at a model path, outermost first. */
function chain(model: MambaForCausalLM, path: string): LayerWrapper[] {
  const out: LayerWrapper[] = [];
  let m: Module = model.getSubmodule(path);
  while (m instanceof LayerWrapper) {
    out.push(m);
    m = m.base;
  }
  return out;
}

/** The wrapper of this class at a path (anywhere in a stack of wrappers), or null. */
export function findWrapper<W extends LayerWrapper>(
  model: MambaForCausalLM,
  path: string,
  // biome-ignore lint/suspicious/noExplicitAny: a constructor of any signature
  cls: abstract new (...args: any[]) => W,
): W | null {
  return (chain(model, path).find((w) => w instanceof cls) as W | undefined) ?? null;
}

/**
 * The wrapper of this class at a path, installed around what is there now when there is
 * none yet (a second adapter of a method reuses the first one's wrapper).
 */
export function wrapperAt<W extends LayerWrapper>(
  model: MambaForCausalLM,
  path: string,
  // biome-ignore lint/suspicious/noExplicitAny: a constructor of any signature
  cls: abstract new (...args: any[]) => W,
  make: (base: ForwardModule) => W,
): W {
  const found = findWrapper(model, path, cls);
  if (found) return found;
  const wrapper = make(model.getSubmodule(path) as ForwardModule);
  // A wrapper follows the model's training mode from the start.
  wrapper.train(model.training);
  model.setSubmodule(path, wrapper);
  return wrapper;
}

/**
 * Takes a wrapper out of the model, leaving the module it replaced in its place (or, when
 * another wrapper has since been installed around it, making that one wrap its base).
 */
export function removeWrapper(model: MambaForCausalLM, wrapper: LayerWrapper): void {
  const wrappers = chain(model, wrapper.path);
  const i = wrappers.indexOf(wrapper);
  if (i < 0) return;
  if (i === 0) model.setSubmodule(wrapper.path, wrapper.base);
  else wrappers[i - 1].base = wrapper.base;
}
