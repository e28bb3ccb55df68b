import type { MambaConfig, MambaForCausalLM } from '@statetune/mamba';
import { type Generator, Module, type Tensor } from '@statetune/tensor';
import { PeftError } from './errors.js';
import type { Schema } from './schema.js';

/** Every method's `peft_type`, as `adapter_config.json` spells it. */
export type PeftType =
  | 'STATE_OFFSET_TUNING'
  | 'INITIAL_STATE_TUNING'
  | 'PROMPT_TUNING'
  | 'PREFIX_TUNING'
  | 'LORA'
  | 'BITFIT'
  | 'ADDITIONAL_SCAN'
  | 'FULL_FINETUNING';

/** What an adapter's forward needs besides the model's entry points it sets. */
export interface ForwardExtras {
  /** Embeddings put before the tokens (prompt tuning). */
  readonly prefixEmbeds?: Tensor | null;
}

/**
 * The per-layer entry tensors of a state-based adapter. Adapters that only set these can be
 * mixed in one batch, each sequence using its own (see `PeftModel.forward`'s `adapterNames`).
 */
export interface MixerEntries {
  /** (dInner, dState) */
  readonly initialState?: Tensor | null;
  /** (dInner, dState) */
  readonly stateOffset?: Tensor | null;
  /** (dInner) */
  readonly outputOffset?: Tensor | null;
}

/** Options given to a method when it creates an adapter. */
export interface CreateOptions {
  /** The random stream of the initialisation. */
  readonly generator: Generator;
  /** Encodes a text to token ids (prompt tuning initialised from a text). */
  readonly encode?: (text: string) => readonly number[];
}

/**
 * One named adapter attached to a model. Its parameters are registered under the names
 * `adapter_model.safetensors` uses for them (PEFT keys without the `base_model.model.`
 * prefix), e.g. `backbone.layers.0.mixer.state_offset`, so `namedParameters()` is the saved
 * state unless a method overrides {@link Adapter.adapterStateDict}.
 *
 * The model is never edited except through its PEFT entry points (mixer fields, which
 * {@link PeftModel} clears before every forward) and wrappers that the adapter installs in
 * its constructor and removes in {@link Adapter.detach}. Base weights are never written
 * except by an explicit merge.
 */
export abstract class Adapter<C extends PeftConfigBase = PeftConfigBase> extends Module {
  /** Prefix of the saved keys (`prompt_embeddings` of prompt methods has none). */
  readonly keyPrefix: string = 'base_model.model.';

  constructor(
    /** The model it adapts. */
    readonly model: MambaForCausalLM,
    /** The adapter's name in its PeftModel. */
    readonly adapterName: string,
    /** The validated config. */
    readonly config: C,
  ) {
    super();
  }

  /**
   * Puts the adapter on the model for the next forward: sets the mixers' entry points
   * (computing derived tensors such as a low-rank product from the current parameters) and
   * switches its wrappers on. Called before every forward.
   */
  abstract activate(): ForwardExtras;

  /** Switches its wrappers off (entry points are cleared by the PeftModel). */
  deactivate(): void {}

  /** Removes its wrappers from the model: afterwards the model is as it was before. */
  detach(): void {}

  /**
   * Per-layer entry tensors (a null entry for a layer it leaves alone), for batches in
   * which sequences use different adapters; null when the method cannot be mixed.
   */
  mixerEntries(): readonly (MixerEntries | null)[] | null {
    return null;
  }

  /** Adds the adapter's effect to the base weights (LoRA, BitFit); others cannot. */
  merge(): void {
    throw new PeftError(
      `${this.config.peft_type} adapter "${this.adapterName}" cannot be merged into the weights: ${this.whyNoMerge()}`,
    );
  }

  /** Takes a merged adapter's effect back out of the base weights. */
  unmerge(): void {
    throw new PeftError(`${this.config.peft_type} adapter "${this.adapterName}" is not merged`);
  }

  /** Whether the adapter's effect is currently in the base weights. */
  get merged(): boolean {
    return false;
  }

  /** Why this method has no merge (for the error message). */
  protected whyNoMerge(): string {
    return 'its effect depends on the input at every step, not on a weight';
  }

  /** The tensors `adapter_model.safetensors` holds, by key without {@link keyPrefix}. */
  adapterStateDict(): Map<string, Tensor> {
    return new Map(this.namedParameters());
  }

  /**
   * Loads tensors read from an adapter file (keys as {@link adapterStateDict}). Missing,
   * unexpected and misshapen tensors are one error naming each; nothing is written unless
   * all fit.
   */
  loadAdapterStateDict(tensors: ReadonlyMap<string, Tensor>, source: string): void {
    const own = this.adapterStateDict();
    checkTensors(own, tensors, source, this.config.peft_type);
    this.loadStateDict(new Map(tensors), { strict: true });
  }

  /**
   * Registers a parameter at a dotted path (`backbone.layers.0.mixer.state_offset`),
   * creating the intermediate modules, so the name is the saved key.
   */
  protected registerAt(path: string, t: Tensor): Tensor {
    const parts = path.split('.');
    const name = parts.pop() as string;
    if (parts.length === 0) return this.registerParameter(name, t);
    const first = parts.shift() as string;
    const child = new Map(this.namedChildren()).get(first);
    let m = child instanceof PathModule ? child : this.registerModule(first, new PathModule());
    for (const part of parts) m = m.child(part);
    return m.param(name, t);
  }
}

/** An intermediate module of {@link Adapter.registerAt} paths. */
class PathModule extends Module {
  child(name: string): PathModule {
    const found = new Map(this.namedChildren()).get(name);
    return found instanceof PathModule ? found : this.registerModule(name, new PathModule());
  }
  param(name: string, t: Tensor): Tensor {
    return this.registerParameter(name, t);
  }
}

/**
 * Checks tensors read from a file against the ones an adapter expects: names and shapes.
 * A shape mismatch usually means the adapter was made for another model, so the message
 * says so.
 */
export function checkTensors(
  own: ReadonlyMap<string, Tensor>,
  got: ReadonlyMap<string, Tensor>,
  source: string,
  what: string,
): void {
  const problems: string[] = [];
  const missing = [...own.keys()].filter((k) => !got.has(k));
  const unexpected = [...got.keys()].filter((k) => !own.has(k));
  if (missing.length > 0) {
    problems.push(`missing ${missing.length} tensor(s): ${list(missing)}`);
  }
  if (unexpected.length > 0) {
    problems.push(
      `${unexpected.length} tensor(s) this ${what} adapter does not have: ${list(unexpected)}`,
    );
  }
  const misshapen: string[] = [];
  for (const [k, t] of got) {
    const want = own.get(k);
    if (want && want.shape.join(',') !== t.shape.join(',')) {
      misshapen.push(`${k} is [${t.shape}] but this model needs [${want.shape}]`);
    }
  }
  if (misshapen.length > 0) {
    problems.push(
      `${list(misshapen)} (was the adapter made for another model? compare its base_model_name_or_path)`,
    );
  }
  if (problems.length > 0) throw new PeftError(`${source}: ${problems.join('; ')}`);
}

function list(items: readonly string[]): string {
  const head = items.slice(0, 4).join(', ');
  return items.length > 4 ? `${head}, ... (${items.length - 4} more)` : head;
}

/** Keys every method's config has (PEFT writes them into adapter_config.json). */
export interface PeftConfigBase {
  /** The method. */
  readonly peft_type: PeftType;
  /** Always `CAUSAL_LM` here. */
  readonly task_type?: string | null;
  /** The checkpoint the adapter was trained on (a folder or a hub id), for people. */
  readonly base_model_name_or_path?: string | null;
  /** True in saved configs: loaded adapters are frozen unless asked otherwise. */
  readonly inference_mode?: boolean;
}

/**
 * A PEFT method: its config keys and defaults, how it creates an adapter on a model, and
 * how many parameters it trains for a model config (no weights needed).
 */
export interface PeftMethod<C extends PeftConfigBase> {
  /** The `peft_type` it answers to. */
  readonly peftType: C['peft_type'];
  /** One line for docs and `statetune inspect`. */
  readonly description: string;
  /** The method's own keys (without `peft_type` and the common keys). */
  readonly schema: Schema<Omit<C, keyof PeftConfigBase>>;
  /**
   * Keys Hugging Face PEFT writes into this method's adapter_config.json for features not
   * implemented here, with the value meaning "off": accepted at that value and dropped.
   */
  readonly tolerated?: Readonly<Record<string, unknown>>;
  /** Cross-key and model-independent checks after the schema's; returns problems. */
  check?(config: C): string[];
  /** Creates the adapter's parameters (initialised per the config) and attaches it. */
  create(model: MambaForCausalLM, name: string, config: C, options: CreateOptions): Adapter<C>;
  /** The number of parameters it trains on a model of this config. */
  countParameters(model: MambaConfig, config: C): number;
}
