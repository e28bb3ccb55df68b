import { concat, dropout, type Generator, linear, noGrad, type Tensor } from '@statetune/tensor';
import { PeftError } from '../../errors.js';
import { type ForwardModule, LayerWrapper } from '../../wrapper.js';
import type { LoraTarget } from './config.js';

/** One low-rank delta on rows [start, end) of a projection's output. */
export interface LoraPiece {
  /** The target name (`x_proj_B`, `dt_proj`, ...). */
  readonly target: LoraTarget;
  /** First output row it changes. */
  readonly start: number;
  /** One past the last output row it changes. */
  readonly end: number;
  /** (r, in) */
  readonly A: Tensor;
  /** (end - start, r) */
  readonly B: Tensor;
  /** lora_alpha / r. */
  readonly scale: number;
  /** Dropout probability on the LoRA input while training. */
  readonly dropout: number;
  /** The stream of the dropout masks. */
  readonly generator: Generator;
}

/** The pieces of one adapter on one projection, and whether they are in the weight. */
interface AdapterPieces {
  readonly pieces: LoraPiece[];
  merged: boolean;
}

/**
 * A projection with LoRA deltas: `base(x) + scale * dropout(x) A^T B^T`, the delta of each
 * piece landing on its rows of the output (a whole projection is one piece over every row).
 * It holds the pieces of every LoRA adapter on the projection; only the active adapter's
 * apply, and none once that adapter is merged into the weight.
 */
export class LoraLayer extends LayerWrapper {
  private readonly adapters = new Map<string, AdapterPieces>();

  constructor(base: ForwardModule, path: string) {
    super(base, path);
    if (this.weight.rank !== 2) {
      throw new PeftError(
        `${path}: LoRA needs a (out, in) weight, got shape [${this.weight.shape}]`,
      );
    }
  }

  /** Output features of the projection. */
  get outFeatures(): number {
    return this.weight.shape[0];
  }

  /** Input features of the projection. */
  get inFeatures(): number {
    return this.weight.shape[1];
  }

  /** Adds an adapter's pieces (its pieces must not overlap). */
  addPieces(adapterName: string, pieces: readonly LoraPiece[]): void {
    if (this.adapters.has(adapterName)) {
      throw new PeftError(`${this.path}: LoRA adapter "${adapterName}" is already on this layer`);
    }
    this.adapters.set(adapterName, {
      pieces: [...pieces].sort((a, b) => a.start - b.start),
      merged: false,
    });
  }

  /** Drops an adapter's pieces (unmerge first). */
  override removeAdapter(adapterName: string): void {
    this.adapters.delete(adapterName);
    if (this.activeAdapter === adapterName) this.activeAdapter = null;
  }

  override get isEmpty(): boolean {
    return this.adapters.size === 0;
  }

  /** Whether an adapter's delta is in the weight. */
  isMerged(adapterName: string): boolean {
    return this.adapters.get(adapterName)?.merged ?? false;
  }

  /** The delta of one piece for the input x: (..., end - start). */
  private delta(p: LoraPiece, x: Tensor): Tensor {
    const xin = dropout(x, p.dropout, { training: this.training, generator: p.generator });
    return linear(linear(xin, p.A), p.B).mul(p.scale);
  }

  override forward(x: Tensor): Tensor {
    const y = this.base.forward(x);
    const active = this.activeAdapter === null ? undefined : this.adapters.get(this.activeAdapter);
    if (!active || active.merged) return y;
    const axis = y.rank - 1;
    const out = this.outFeatures;
    const first = active.pieces[0];
    if (active.pieces.length === 1 && first.start === 0 && first.end === out) {
      return y.add(this.delta(first, x));
    }
    // Pieces on some rows: the untouched rows pass through, each piece's rows get its delta.
    const parts: Tensor[] = [];
    let at = 0;
    for (const p of active.pieces) {
      if (p.start > at) parts.push(y.slice(axis, at, p.start));
      parts.push(y.slice(axis, p.start, p.end).add(this.delta(p, x)));
      at = p.end;
    }
    if (at < out) parts.push(y.slice(axis, at, out));
    return concat(parts, axis);
  }

  /** Adds an adapter's `scale * B A` to its rows of the weight, in place. */
  override merge(adapterName: string): void {
    this.writeDelta(adapterName, true);
  }

  /** Subtracts an adapter's `scale * B A` from the weight again. */
  override unmerge(adapterName: string): void {
    this.writeDelta(adapterName, false);
  }

  private writeDelta(adapterName: string, add: boolean): void {
    const entry = this.adapters.get(adapterName);
    if (!entry || entry.merged === add) return;
    noGrad(() => {
      for (const p of entry.pieces) {
        const rows = this.weight.slice(0, p.start, p.end);
        const d = p.B.matmul(p.A).mul(add ? p.scale : -p.scale);
        const updated = rows.add(d);
        rows.assign(updated);
        for (const t of [d, updated, rows]) t.dispose();
      }
    });
    entry.merged = add;
  }
}
