import { Conv1d, causalConv1d, Linear, linear, noGrad, type Tensor } from '@statetune/tensor';
import { PeftError } from '../../errors.js';
import { type ForwardModule, LayerWrapper } from '../../wrapper.js';

/** One adapter's trained bias on a layer, and the base bias it replaced while merged. */
interface BiasCopy {
  readonly bias: Tensor;
  /** The base bias before a merge (null when not merged). */
  original: Tensor | null;
}

/**
 * A layer (a projection or the conv) computed with the active BitFit adapter's trained
 * copy of its bias instead of the base bias, which never changes while it trains. It holds
 * the copies of every BitFit adapter on the layer; a merged adapter's copy is in the base
 * bias, so the base layer runs as it is.
 */
export class BitFitLayer extends LayerWrapper {
  private readonly copies = new Map<string, BiasCopy>();
  private readonly conv: boolean;

  constructor(base: ForwardModule, path: string) {
    super(base, path);
    if (!this.bias) {
      throw new PeftError(
        `${path} has no bias for BitFit to train (the model was built without it, e.g. use_bias false)`,
      );
    }
    // A conv's output is (batch, channels, len); a projection's puts features last.
    this.conv = this.weight.rank === 3;
  }

  /** The base bias (always present on a BitFit layer). */
  get baseBias(): Tensor {
    return this.bias as Tensor;
  }

  /** Adds an adapter's trainable bias copy. */
  addCopy(adapterName: string, bias: Tensor): void {
    if (this.copies.has(adapterName)) {
      throw new PeftError(`${this.path}: BitFit adapter "${adapterName}" is already on this layer`);
    }
    this.copies.set(adapterName, { bias, original: null });
  }

  /** Drops an adapter's copy (unmerge first). */
  override removeAdapter(adapterName: string): void {
    this.copies.delete(adapterName);
    if (this.activeAdapter === adapterName) this.activeAdapter = null;
  }

  override get isEmpty(): boolean {
    return this.copies.size === 0;
  }

  override forward(x: Tensor): Tensor {
    const c = this.activeAdapter === null ? undefined : this.copies.get(this.activeAdapter);
    if (!c || c.original) return this.base.forward(x);
    if (this.base instanceof Linear) return linear(x, this.weight, c.bias);
    if (this.base instanceof Conv1d) return causalConv1d(x, this.weight, c.bias);
    // Another wrapper below (LoRA): shift its output by the change of the bias.
    const shift = c.bias.sub(this.baseBias);
    return this.base.forward(x).add(this.conv ? shift.unsqueeze(-1) : shift);
  }

  /** Writes an adapter's trained bias into the base bias, keeping the original. */
  override merge(adapterName: string): void {
    const c = this.copies.get(adapterName);
    if (!c || c.original) return;
    noGrad(() => {
      c.original = this.baseBias.clone();
      this.baseBias.assign(c.bias);
    });
  }

  /** Puts the original base bias back. */
  override unmerge(adapterName: string): void {
    const c = this.copies.get(adapterName);
    const original = c?.original;
    if (!c || !original) return;
    noGrad(() => this.baseBias.assign(original));
    original.dispose();
    c.original = null;
  }
}
