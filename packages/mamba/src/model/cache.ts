import { concat, dispose, keep, type Tensor, tensor } from '@statetune/tensor';
import { MambaModelError } from './errors.js';
import type { LayerState } from './mixer.js';

/**
 * The recurrent state of a batch of sequences: per layer the last `dConv` conv inputs
 * (batch, dInner, dConv) and the SSM state (batch, dInner, stateSize), plus the row of every
 * batched adapter tensor each sequence uses. A model call that takes a cache reads it and
 * moves it forward in place, so one cache follows one batch through prefill and decoding.
 *
 * The cache owns its tensors: they are exempt from `tidy` scopes (so a cache made or
 * advanced inside `tidy` survives it), and `dispose()` releases them. When a call advances
 * the cache without recording gradients (generation), the previous states are released at
 * once; when gradients flow through the states, they stay for the backward pass and are the
 * caller's to dispose.
 */
export class MambaCache {
  private states: LayerState[];
  /** int32 (batch): the adapter row of each sequence, or null (row i for sequence i). */
  readonly adapterRows: Tensor | null;

  /**
   * @param layers - one state per layer, all with the same batch; the cache takes them over.
   * @param adapterRows - int32 (batch): the adapter row of each sequence, or null (row i
   *   for sequence i); the cache takes it over too.
   */
  constructor(layers: LayerState[], adapterRows: Tensor | null = null) {
    if (layers.length === 0) throw new MambaModelError('MambaCache: needs at least one layer');
    this.states = layers.map(keepState);
    this.adapterRows = adapterRows ? keep(adapterRows) : null;
  }

  /** One state per layer. */
  get layers(): readonly LayerState[] {
    return this.states;
  }

  /**
   * Replaces the states by those after the latest call (the model does this). The old
   * states are released unless gradients are being recorded through the new ones.
   */
  advance(layers: readonly LayerState[]): void {
    if (layers.length !== this.states.length) {
      throw new MambaModelError(
        `MambaCache.advance: ${layers.length} layer states for a cache of ${this.states.length} layers`,
      );
    }
    const old = this.states;
    this.states = layers.map(keepState);
    const recording = layers.some((l) => l.conv.requiresGrad || l.ssm.requiresGrad);
    if (!recording) {
      const fresh = new Set(this.states.flatMap((l) => [l.conv, l.ssm]));
      for (const l of old) for (const t of [l.conv, l.ssm]) if (!fresh.has(t)) t.dispose();
    }
  }

  /** Number of sequences. */
  get batch(): number {
    return this.layers[0].ssm.shape[0];
  }

  /**
   * A new cache whose row i is row `indices[i]` of this one (reordering beams, dropping
   * finished sequences, repeating a prompt's state for each beam).
   */
  select(indices: readonly number[]): MambaCache {
    for (const i of indices) {
      if (!Number.isInteger(i) || i < 0 || i >= this.batch) {
        throw new MambaModelError(
          `MambaCache.select: row ${i} is out of range for a batch of ${this.batch}`,
        );
      }
    }
    const idx = tensor(Int32Array.from(indices), { backend: this.layers[0].ssm.backend });
    const pick = (t: Tensor) => t.indexSelect(0, idx);
    const out = new MambaCache(
      this.layers.map((l) => ({ conv: pick(l.conv), ssm: pick(l.ssm) })),
      this.adapterRows ? pick(this.adapterRows) : null,
    );
    idx.dispose();
    return out;
  }

  /** The caches' sequences one after another, as one batch. */
  static concat(caches: readonly MambaCache[]): MambaCache {
    if (caches.length === 0) throw new MambaModelError('MambaCache.concat: no caches given');
    if (caches.length === 1) return caches[0];
    const n = caches[0].layers.length;
    if (caches.some((c) => c.layers.length !== n)) {
      throw new MambaModelError('MambaCache.concat: the caches have different numbers of layers');
    }
    const withRows = caches.filter((c) => c.adapterRows).length;
    if (withRows !== 0 && withRows !== caches.length) {
      throw new MambaModelError(
        'MambaCache.concat: either every cache or none must carry adapterRows',
      );
    }
    const layers = caches[0].layers.map((_, i) => ({
      conv: concat(
        caches.map((c) => c.layers[i].conv),
        0,
      ),
      ssm: concat(
        caches.map((c) => c.layers[i].ssm),
        0,
      ),
    }));
    const rows = withRows
      ? concat(
          caches.map((c) => c.adapterRows as Tensor),
          0,
        )
      : null;
    return new MambaCache(layers, rows);
  }

  /** Releases the state tensors now (device memory). */
  dispose(): void {
    for (const l of this.states) dispose([l.conv, l.ssm]);
    this.adapterRows?.dispose();
  }
}

function keepState(l: LayerState): LayerState {
  return { conv: keep(l.conv), ssm: keep(l.ssm) };
}
