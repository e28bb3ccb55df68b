import { noGrad, type Tensor, tensor, tidy } from '@statetune/tensor';
import { MambaCache } from '../model/cache.js';
import type { MambaForCausalLM } from '../model/causal-lm.js';
import { MambaModelError } from '../model/errors.js';

/** What a decoding session starts from. */
export interface SessionStart {
  /** One token list per sequence; lengths may differ. */
  readonly prompts: readonly (readonly number[])[];
  /** Prompt-tuning embeddings put before every prompt: (p, dModel) or (prompts, p, dModel). */
  readonly prefixEmbeds?: Tensor | null;
  /** Row of every batched PEFT entry-point tensor each prompt uses (default: prompt i, row i). */
  readonly adapterRows?: readonly number[] | null;
}

/**
 * A batch of sequences being decoded: the model's cache and the next-token logits of every
 * row on the host. Prompts are prefilled through the parallel path, grouped by length (an
 * SSM has no attention mask, so prompts of different lengths are never padded together),
 * then all rows step together one token at a time. Rows can be reordered, repeated or
 * dropped between steps (beams, finished sequences).
 */
export class DecodeSession {
  private cache: MambaCache;
  /** (rows, vocab) next-token logits, float32. */
  logits: Float32Array;

  private constructor(
    readonly model: MambaForCausalLM,
    cache: MambaCache,
    logits: Float32Array,
  ) {
    this.cache = cache;
    this.logits = logits;
  }

  /** Vocabulary size (columns of {@link DecodeSession.logits}). */
  get vocab(): number {
    return this.model.config.vocabSize;
  }

  /** Number of rows. */
  get rows(): number {
    return this.cache.batch;
  }

  /** Prefills every prompt and returns the session positioned after the prompts. */
  static async start(model: MambaForCausalLM, start: SessionStart): Promise<DecodeSession> {
    const { prompts } = start;
    if (prompts.length === 0) throw new MambaModelError('generate: no prompts given');
    const vocab = model.config.vocabSize;
    prompts.forEach((p, i) => {
      if (p.length === 0) {
        throw new MambaModelError(`generate: prompt ${i} is empty; give at least one token`);
      }
      for (const t of p) {
        if (!Number.isInteger(t) || t < 0 || t >= vocab) {
          throw new MambaModelError(
            `generate: prompt ${i} holds token ${t}, outside the vocabulary [0, ${vocab})`,
          );
        }
      }
    });
    const rowsOf = start.adapterRows ?? prompts.map((_, i) => i);
    if (rowsOf.length !== prompts.length) {
      throw new MambaModelError(
        `generate: adapterRows has ${rowsOf.length} entries for ${prompts.length} prompts`,
      );
    }
    const prefix = start.prefixEmbeds ?? null;
    if (prefix?.rank === 3 && prefix.shape[0] !== prompts.length) {
      throw new MambaModelError(
        `generate: prefixEmbeds has ${prefix.shape[0]} rows for ${prompts.length} prompts`,
      );
    }
    const backend = model.backbone.embeddings.weight.backend;
    const groups = new Map<number, number[]>();
    prompts.forEach((p, i) => {
      const group = groups.get(p.length);
      if (group) group.push(i);
      else groups.set(p.length, [i]);
    });
    const caches: MambaCache[] = [];
    const parts: Float32Array[] = [];
    const order: number[] = [];
    for (const members of groups.values()) {
      const out = noGrad(() =>
        tidy(() => {
          const idx = tensor(Int32Array.from(members), { backend });
          const groupPrefix = prefix && prefix.rank === 3 ? prefix.indexSelect(0, idx) : prefix;
          const { logits, cache } = model.forward({
            inputIds: members.map((i) => prompts[i]),
            prefixEmbeds: groupPrefix,
            adapterRows: members.map((i) => rowsOf[i]),
            returnCache: true,
            lastLogitsOnly: true,
          });
          const last = logits.select(1, 0).contiguous();
          return { last, cache: cache as MambaCache };
        }),
      );
      caches.push(out.cache);
      parts.push((await out.last.data()) as Float32Array);
      out.last.dispose();
      order.push(...members);
    }
    const cache = MambaCache.concat(caches);
    if (caches.length > 1) for (const c of caches) c.dispose();
    const logits = new Float32Array(prompts.length * vocab);
    let offset = 0;
    for (const p of parts) {
      logits.set(p, offset);
      offset += p.length;
    }
    const session = new DecodeSession(model, cache, logits);
    // Back to the prompts' order.
    const position = new Array<number>(prompts.length);
    order.forEach((prompt, row) => {
      position[prompt] = row;
    });
    if (order.some((p, row) => p !== row)) session.select(position);
    return session;
  }

  /** Keeps rows `indices` in that order (repeating or dropping rows). */
  select(indices: readonly number[]): void {
    const next = this.cache.select(indices);
    if (next !== this.cache) this.cache.dispose();
    this.cache = next;
    const v = this.vocab;
    const logits = new Float32Array(indices.length * v);
    indices.forEach((r, i) => {
      logits.set(this.logits.subarray(r * v, (r + 1) * v), i * v);
    });
    this.logits = logits;
  }

  /** Feeds one token per row and updates the logits. */
  async step(tokens: readonly number[]): Promise<void> {
    if (tokens.length !== this.rows) {
      throw new MambaModelError(`step: ${tokens.length} tokens for ${this.rows} rows`);
    }
    // The cache keeps its new states and releases the old ones; tidy frees the rest.
    const logits = noGrad(() => tidy(() => this.model.step(tokens, this.cache)));
    this.logits = (await logits.data()) as Float32Array;
    logits.dispose();
  }

  /** Releases the cache. */
  dispose(): void {
    this.cache.dispose();
  }
}
