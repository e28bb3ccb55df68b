import { type Generator, rand, type Tensor, tensor } from '@statetune/tensor';

/** A character vocabulary built from a corpus: one id per distinct character, sorted. */
export class CharVocab {
  readonly chars: string[];
  private readonly ids: Map<string, number>;

  constructor(text: string) {
    this.chars = [...new Set(text)].sort();
    this.ids = new Map(this.chars.map((c, i) => [c, i]));
  }

  get size(): number {
    return this.chars.length;
  }

  encode(text: string): Int32Array {
    const out = new Int32Array(text.length);
    for (let i = 0; i < text.length; i++) {
      const id = this.ids.get(text[i]);
      if (id === undefined) {
        throw new Error(
          `character ${JSON.stringify(text[i])} at offset ${i} is not in the vocabulary`,
        );
      }
      out[i] = id;
    }
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    return Array.from(ids, (i) => this.chars[i] ?? '?').join('');
  }
}

/** Random windows of a token stream: inputs and next-token targets, both (batch, seqlen) int32. */
export function sampleBatch(
  stream: Int32Array,
  batch: number,
  seqlen: number,
  generator: Generator,
): { inputs: Tensor; targets: Tensor } {
  if (stream.length < seqlen + 2) {
    throw new Error(
      `the text (${stream.length} characters) is shorter than one window (${seqlen + 1})`,
    );
  }
  const u = rand([batch], { generator }).dataSync();
  const inputs = new Int32Array(batch * seqlen);
  const targets = new Int32Array(batch * seqlen);
  for (let b = 0; b < batch; b++) {
    const s = Math.floor(u[b] * (stream.length - seqlen - 1));
    inputs.set(stream.subarray(s, s + seqlen), b * seqlen);
    targets.set(stream.subarray(s + 1, s + seqlen + 1), b * seqlen);
  }
  return {
    inputs: tensor(inputs, { shape: [batch, seqlen] }),
    targets: tensor(targets, { shape: [batch, seqlen] }),
  };
}
