import { Generator, noGrad, randn } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import { BeamHypotheses } from '../src/generation/beam-scorer.js';
import { warp } from '../src/generation/logits.js';
import { generate, MambaForCausalLM, mambaConfig } from '../src/index.js';
import { values } from './helpers.js';

function tinyModel(vocabSize: number, seed = 3): MambaForCausalLM {
  const config = mambaConfig({ dModel: 8, nLayer: 2, vocabSize, dState: 4, dtRank: 2 });
  return new MambaForCausalLM(config, { generator: new Generator(seed) });
}

/**
 * The references below compute log-probabilities themselves (not with the package's own
 * logSoftmax, which generation uses), so a fault there cannot cancel out.
 */
function refLogSoftmax(row: ArrayLike<number>): number[] {
  const xs = Array.from(row);
  const max = Math.max(...xs);
  const lse = max + Math.log(xs.reduce((s, x) => s + Math.exp(x - max), 0));
  return xs.map((x) => x - lse);
}

function refSoftmax(row: ArrayLike<number>): number[] {
  return refLogSoftmax(row).map(Math.exp);
}

/** Sum of log-probabilities of `tokens` after `prompt`, from the parallel forward. */
function sumLogprobs(m: MambaForCausalLM, prompt: number[], tokens: number[]): number {
  const ids = [...prompt, ...tokens];
  const v = m.config.vocabSize;
  const logits = noGrad(() => values(m.forward({ inputIds: [ids] }).logits));
  let sum = 0;
  tokens.forEach((tok, j) => {
    const pos = prompt.length - 1 + j;
    sum += refLogSoftmax(logits.slice(pos * v, (pos + 1) * v))[tok];
  });
  return sum;
}

/**
 * Every sequence beam search can return: ended by an end token within maxNew, or maxNew
 * long; no end token among the first minNew tokens.
 */
function allSequences(vocab: number, eos: number | number[], maxNew: number, minNew = 0) {
  const ends = new Set(typeof eos === 'number' ? [eos] : eos);
  const out: number[][] = [];
  const grow = (prefix: number[]) => {
    for (let t = 0; t < vocab; t++) {
      if (ends.has(t) && prefix.length < minNew) continue;
      const s = [...prefix, t];
      if (ends.has(t) || s.length === maxNew) out.push(s);
      else grow(s);
    }
  };
  grow([]);
  return out;
}

describe('beam search', () => {
  const vocab = 3;
  const eos = 0;
  const maxNew = 3;
  // Enough beams that no candidate is ever cut: beam search is then exhaustive.
  const numBeams = 12;

  for (const lengthPenalty of [1, 0.5, 2]) {
    it(`equals a brute-force search on a 3-token vocabulary (lengthPenalty ${lengthPenalty})`, async () => {
      const m = tinyModel(vocab);
      const prompts = [
        [1, 2, 2, 1],
        [2, 1],
      ];
      const out = await generate(m, prompts, {
        maxNewTokens: maxNew,
        numBeams,
        numReturnSequences: 4,
        eosTokenId: eos,
        lengthPenalty,
      });
      prompts.forEach((prompt, p) => {
        const ranked = allSequences(vocab, eos, maxNew)
          .map((s) => ({ s, score: sumLogprobs(m, prompt, s) / s.length ** lengthPenalty }))
          .sort((a, b) => b.score - a.score)
          .slice(0, 4);
        expect(out.sequences.slice(p * 4, p * 4 + 4)).toEqual(ranked.map((r) => r.s));
        out.scores.slice(p * 4, p * 4 + 4).forEach((score, k) => {
          expect(score).toBeCloseTo(ranked[k].score, 5);
        });
      });
    });
  }

  it('keeps (1 + end tokens) * numBeams candidates, so several end tokens never starve the beams', async () => {
    const m = tinyModel(vocab);
    const prompts = [[1, 2, 2, 1], [2, 1], [1]];
    const ends = [0, 1];
    const out = await generate(m, prompts, {
      maxNewTokens: maxNew,
      numBeams,
      numReturnSequences: 4,
      eosTokenId: ends,
    });
    prompts.forEach((prompt, p) => {
      const ranked = allSequences(vocab, ends, maxNew)
        .map((s) => ({ s, score: sumLogprobs(m, prompt, s) / s.length }))
        .sort((a, b) => b.score - a.score)
        .slice(0, 4);
      expect(out.sequences.slice(p * 4, p * 4 + 4)).toEqual(ranked.map((r) => r.s));
    });
  });

  it('minNewTokens removes early end tokens without renormalising the log-probabilities', async () => {
    // Hugging Face applies the logits processors to the log-softmax in beam search, so a
    // hypothesis scores the model's own log-probabilities.
    const m = tinyModel(vocab);
    const prompt = [2, 1, 1];
    const out = await generate(m, [prompt], {
      maxNewTokens: maxNew,
      minNewTokens: 2,
      numBeams,
      numReturnSequences: 4,
      eosTokenId: eos,
    });
    const ranked = allSequences(vocab, eos, maxNew, 2)
      .map((s) => ({ s, score: sumLogprobs(m, prompt, s) / s.length }))
      .sort((a, b) => b.score - a.score)
      .slice(0, 4);
    expect(out.sequences).toEqual(ranked.map((r) => r.s));
    out.scores.forEach((score, k) => {
      expect(score).toBeCloseTo(ranked[k].score, 5);
    });
  });

  it('a batch of prompts of different lengths equals each prompt alone', async () => {
    const m = tinyModel(11);
    const prompts = [[1, 2, 3], [4], [5, 6, 7, 8, 9, 10, 1], [2, 2]];
    const options = { maxNewTokens: 5, numBeams: 3, numReturnSequences: 2, eosTokenId: 0 };
    const batched = await generate(m, prompts, options);
    for (let p = 0; p < prompts.length; p++) {
      const alone = await generate(m, [prompts[p]], options);
      expect(batched.sequences.slice(2 * p, 2 * p + 2)).toEqual(alone.sequences);
      alone.scores.forEach((s, k) => {
        expect(batched.scores[2 * p + k]).toBeCloseTo(s, 5);
      });
    }
  });

  it('finds sequences at least as likely as greedy decoding', async () => {
    const m = tinyModel(11);
    const prompts = [
      [1, 2, 3],
      [4, 5],
    ];
    const greedy = await generate(m, prompts, { maxNewTokens: 6, eosTokenId: null });
    const beam = await generate(m, prompts, {
      maxNewTokens: 6,
      eosTokenId: null,
      numBeams: 2,
      lengthPenalty: 0,
      earlyStopping: true,
    });
    expect(beam.sequences.length).toBe(2);
    // Not necessarily equal to greedy, but never worse in total log-probability.
    beam.sequences.forEach((s, i) => {
      expect(sumLogprobs(m, prompts[i], s)).toBeGreaterThanOrEqual(
        sumLogprobs(m, prompts[i], greedy.sequences[i]) - 1e-5,
      );
    });
  });
});

/**
 * Beam search for one prompt written out as Hugging Face transformers 4.40 runs it
 * (`_beam_search` with `BeamSearchScorer`), on logits from the parallel forward of every
 * beam's whole sequence: the stored hypothesis leaves out its end token and is normalised by
 * the generated length counting that token; `finalize` appends the end token again.
 */
function referenceBeamSearch(
  m: MambaForCausalLM,
  prompt: number[],
  o: {
    numBeams: number;
    maxNew: number;
    eos: number;
    lengthPenalty: number;
    early: boolean | 'never';
  },
): { tokens: number[]; score: number }[] {
  const v = m.config.vocabSize;
  const nb = o.numBeams;
  const hyps: { score: number; tokens: number[]; ended: boolean }[] = [];
  let worst = 1e9;
  const add = (tokens: number[], sum: number, len: number, ended: boolean) => {
    const score = sum / len ** o.lengthPenalty;
    if (hyps.length < nb || score > worst) {
      hyps.push({ score, tokens, ended });
      if (hyps.length > nb) {
        const order = hyps.map((h, i) => [h.score, i]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        hyps.splice(order[0][1], 1);
        worst = order[1][0];
      } else {
        worst = Math.min(score, worst);
      }
    }
  };
  let beams = Array.from({ length: nb }, (_, b) => ({
    tokens: [] as number[],
    score: b ? -1e9 : 0,
  }));
  let done = false;
  for (let cur = 1; cur <= o.maxNew && !done; cur++) {
    const all: { beam: number; token: number; score: number }[] = [];
    beams.forEach((b, beam) => {
      const ids = [...prompt, ...b.tokens];
      const logits = noGrad(() => values(m.forward({ inputIds: [ids] }).logits));
      const lp = refLogSoftmax(logits.slice((ids.length - 1) * v, ids.length * v));
      lp.forEach((l, token) => {
        all.push({ beam, token, score: b.score + l });
      });
    });
    all.sort((a, b) => b.score - a.score || a.beam * v + a.token - (b.beam * v + b.token));
    const top = all.slice(0, 2 * nb);
    const next: typeof beams = [];
    for (let rank = 0; rank < top.length && next.length < nb; rank++) {
      const c = top[rank];
      if (c.token === o.eos) {
        if (rank < nb) add([...beams[c.beam].tokens], c.score, cur, true);
      } else {
        next.push({ tokens: [...beams[c.beam].tokens, c.token], score: c.score });
      }
    }
    const length = o.early === 'never' ? o.maxNew : cur;
    done =
      hyps.length >= nb && (o.early === true || worst >= top[0].score / length ** o.lengthPenalty);
    beams = next;
  }
  if (!done) for (const b of beams) add(b.tokens, b.score, b.tokens.length, false);
  // Stable ascending sort popped from the end: on equal scores the later hypothesis first.
  return hyps
    .map((h, i) => ({ h, i }))
    .sort((a, b) => a.h.score - b.h.score || a.i - b.i)
    .reverse()
    .map(({ h }) => ({ tokens: h.ended ? [...h.tokens, o.eos] : h.tokens, score: h.score }));
}

describe('beam search against Hugging Face, step by step', () => {
  for (const [lengthPenalty, early] of [
    [1, false],
    [0.7, false],
    [1, 'never'],
    [0.5, true],
  ] as const) {
    it(`lengthPenalty ${lengthPenalty}, earlyStopping ${early}`, async () => {
      // Model and prompts where dropping end tokens ranked below numBeams, and the length
      // isDone divides by, change the result.
      const m = tinyModel(9, 14);
      const prompts = [[1, 2, 3], [4], [2, 1], [3, 3, 1, 2]];
      // An end token the model likes, so hypotheses end early and some end tokens rank
      // below numBeams (those are dropped).
      const greedy = await generate(m, prompts, { maxNewTokens: 1, eosTokenId: null });
      const eos = greedy.sequences[0][0];
      const o = { numBeams: 3, maxNew: 6, eos, lengthPenalty, early };
      const out = await generate(m, prompts, {
        maxNewTokens: o.maxNew,
        numBeams: o.numBeams,
        numReturnSequences: o.numBeams,
        eosTokenId: eos,
        lengthPenalty,
        earlyStopping: early,
      });
      let ended = 0;
      prompts.forEach((prompt, p) => {
        const expected = referenceBeamSearch(m, prompt, o);
        const got = out.sequences.slice(p * o.numBeams, (p + 1) * o.numBeams);
        expect(got).toEqual(expected.map((h) => h.tokens));
        expected.forEach((h, k) => {
          expect(out.scores[p * o.numBeams + k]).toBeCloseTo(h.score, 5);
        });
        ended += got.filter((s) => s.at(-1) === eos).length;
      });
      // The case exercises finished hypotheses.
      expect(ended).toBeGreaterThan(0);
    });
  }
});

describe('BeamHypotheses (Hugging Face rules)', () => {
  it('keeps the best numBeams length-normalised hypotheses', () => {
    const h = new BeamHypotheses(2, 1, false, 10);
    h.add([1, 0], -4, 2); // -2
    h.add([2, 0], -3, 3); // -1
    h.add([3, 0], -10, 2); // -5: worse than both, dropped
    h.add([4, 0], -1, 1); // -1 replaces -2
    expect(h.beams.map((b) => b.score).sort()).toEqual([-1, -1]);
  });

  it('isDone: not before numBeams hypotheses; then by the best attainable score', () => {
    const h = new BeamHypotheses(2, 1, false, 10);
    h.add([1], -2, 2); // -1
    expect(h.isDone(-0.1, 2)).toBe(false);
    h.add([2], -2, 2); // -1
    // Done when the worst kept score (-1) is at least the best candidate's sum / length.
    expect(h.isDone(-3, 2)).toBe(true); // -1.5
    expect(h.isDone(-1, 2)).toBe(false); // -0.5
    // earlyStopping 'never' divides by the longest possible length instead.
    const never = new BeamHypotheses(2, 1, 'never', 10);
    never.add([1], -2, 2);
    never.add([2], -2, 2);
    expect(never.isDone(-9, 2)).toBe(false); // -0.9
    expect(never.isDone(-11, 2)).toBe(true); // -1.1
    const early = new BeamHypotheses(1, 1, true, 10);
    expect(early.isDone(0, 1)).toBe(false);
    early.add([1], -5, 1);
    expect(early.isDone(0, 1)).toBe(true);
  });
});

describe('greedy decoding', () => {
  it('a batch of prompts of different lengths equals each prompt alone, and stops at eos', async () => {
    const m = tinyModel(13, 5);
    const prompts = [[1, 2, 3, 4, 5], [6], [7, 8, 9], [10, 11, 12, 1, 2, 3, 4, 5, 6]];
    const free = await generate(m, prompts, { maxNewTokens: 8, eosTokenId: null });
    const eos = free.sequences[0][2];
    const out = await generate(m, prompts, { maxNewTokens: 8, eosTokenId: eos });
    prompts.forEach((_, i) => {
      const full = free.sequences[i];
      const stop = full.indexOf(eos);
      expect(out.sequences[i]).toEqual(stop < 0 ? full : full.slice(0, stop + 1));
    });
    expect(out.sequences[0].at(-1)).toBe(eos);
    for (let i = 0; i < prompts.length; i++) {
      const alone = await generate(m, [prompts[i]], { maxNewTokens: 8, eosTokenId: eos });
      expect(out.sequences[i]).toEqual(alone.sequences[0]);
      expect(out.scores[i]).toBeCloseTo(alone.scores[0], 5);
      expect(out.scores[i]).toBeCloseTo(sumLogprobs(m, prompts[i], out.sequences[i]), 4);
    }
  });

  it('minNewTokens suppresses eos', async () => {
    const m = tinyModel(13, 5);
    const free = await generate(m, [[1, 2]], { maxNewTokens: 4, eosTokenId: null });
    const eos = free.sequences[0][0];
    expect(
      (await generate(m, [[1, 2]], { maxNewTokens: 4, eosTokenId: eos })).sequences[0],
    ).toEqual([eos]);
    const held = await generate(m, [[1, 2]], { maxNewTokens: 4, eosTokenId: eos, minNewTokens: 2 });
    expect(held.sequences[0].slice(0, 2)).not.toContain(eos);
    // The score stays the model's log-probability of the tokens (not renormalised without eos).
    expect(held.scores[0]).toBeCloseTo(sumLogprobs(m, [1, 2], held.sequences[0]), 4);
  });
});

describe('generate token options', () => {
  it('refuses end and padding tokens outside the vocabulary, and a non-finite lengthPenalty', async () => {
    const m = tinyModel(13);
    const run = (o: object) => generate(m, [[1, 2]], { maxNewTokens: 2, ...o });
    await expect(run({ eosTokenId: 13 })).rejects.toThrow(
      'generate: eosTokenId must be a token id in [0, 13), got 13',
    );
    await expect(run({ eosTokenId: [0, -1] })).rejects.toThrow('eosTokenId must be a token id');
    await expect(run({ numBeams: 2, padTokenId: 99 })).rejects.toThrow(
      'padTokenId must be a token id in [0, 13), got 99',
    );
    await expect(run({ numBeams: 2, lengthPenalty: Number.NaN })).rejects.toThrow(
      'lengthPenalty must be a finite number, got NaN',
    );
  });
});

describe('sampling', () => {
  const prompts = [[1, 2, 3], [4, 5], [6]];

  it('is reproducible with a seed and changes with it', async () => {
    const m = tinyModel(17);
    const run = (seed: number) =>
      generate(m, prompts, {
        maxNewTokens: 10,
        doSample: true,
        eosTokenId: null,
        generator: new Generator(seed),
      });
    const a = await run(42);
    const b = await run(42);
    const c = await run(43);
    expect(a.sequences).toEqual(b.sequences);
    expect(a.sequences).not.toEqual(c.sequences);
  });

  it('topK 1 and a tiny temperature are greedy', async () => {
    const m = tinyModel(17);
    const greedy = await generate(m, prompts, { maxNewTokens: 6, eosTokenId: null });
    const k1 = await generate(m, prompts, {
      maxNewTokens: 6,
      doSample: true,
      topK: 1,
      eosTokenId: null,
      generator: new Generator(1),
    });
    const cold = await generate(m, prompts, {
      maxNewTokens: 6,
      doSample: true,
      temperature: 1e-9,
      eosTokenId: null,
      generator: new Generator(2),
    });
    expect(k1.sequences).toEqual(greedy.sequences);
    expect(cold.sequences).toEqual(greedy.sequences);
  });

  it('draws tokens with the model probabilities', async () => {
    const m = tinyModel(5);
    const n = 3000;
    const out = await generate(
      m,
      Array.from({ length: n }, () => [1, 2]),
      { maxNewTokens: 1, doSample: true, eosTokenId: null, generator: new Generator(7) },
    );
    const logits = noGrad(() => values(m.forward({ inputIds: [[1, 2]] }).logits));
    const probs = refSoftmax(logits.slice(5, 10));
    const counts = new Array(5).fill(0);
    for (const s of out.sequences) counts[s[0]]++;
    counts.forEach((c, t) => {
      const sd = Math.sqrt(n * probs[t] * (1 - probs[t]));
      expect(Math.abs(c - n * probs[t])).toBeLessThan(4 * sd + 1);
    });
  });
});

describe('logit warpers', () => {
  it('topK keeps the k largest; topP keeps the smallest set reaching p', () => {
    const row = [Math.log(0.1), Math.log(0.5), Math.log(0.15), Math.log(0.25)];
    const k2 = warp(row, { topK: 2 });
    expect(Array.from(k2).map(Number.isFinite)).toEqual([false, true, false, true]);
    const p = warp(row, { topP: 0.7 });
    expect(Array.from(p).map(Number.isFinite)).toEqual([false, true, false, true]);
    const p2 = warp(row, { topP: 0.8 });
    expect(Array.from(p2).map(Number.isFinite)).toEqual([false, true, true, true]);
    const t = warp(row, { temperature: 2 });
    expect(t[1]).toBeCloseTo(Math.log(0.5) / 2, 12);
  });

  it('applies temperature before top-p, as Hugging Face orders its warpers', () => {
    // At temperature 0.5 the probabilities (0.5, 0.3, 0.2) become (0.658, 0.237, 0.105):
    // top-p 0.65 then keeps only the first token (it would keep two before the temperature).
    const row = [Math.log(0.5), Math.log(0.3), Math.log(0.2)];
    expect(Array.from(warp(row, { topP: 0.65 })).map(Number.isFinite)).toEqual([true, true, false]);
    const both = warp(row, { temperature: 0.5, topP: 0.65 });
    expect(Array.from(both).map(Number.isFinite)).toEqual([true, false, false]);
    // top-p always keeps the most likely token.
    expect(Array.from(warp(row, { topP: 1e-9 })).map(Number.isFinite)).toEqual([
      true,
      false,
      false,
    ]);
  });
});

describe('multi-adapter generation', () => {
  it('per-prompt adapter rows with prompts of different lengths equal each prompt with its own adapter', async () => {
    const m = tinyModel(13, 9);
    const { dInner, dState } = m.config;
    const offsets = m.mixers.map((_, i) =>
      randn([3, dInner, dState], { std: 2, generator: new Generator(40 + i) }),
    );
    const initial = m.mixers.map((_, i) =>
      randn([3, dInner, dState], { std: 2, generator: new Generator(50 + i) }),
    );
    const use = (row: number | null) => {
      m.mixers.forEach((x, i) => {
        x.stateOffset = row === null ? offsets[i] : offsets[i].select(0, row);
        x.initialState = row === null ? initial[i] : initial[i].select(0, row);
      });
    };
    const prompts = [[1, 2, 3], [4], [5, 6, 7, 8]];
    const adapterRows = [2, 0, 2];
    for (const extra of [{}, { numBeams: 2 }]) {
      const options = { maxNewTokens: 6, eosTokenId: null, ...extra };
      use(null);
      const batched = await generate(m, prompts, { ...options, adapterRows });
      for (let p = 0; p < prompts.length; p++) {
        use(adapterRows[p]);
        const alone = await generate(m, [prompts[p]], options);
        expect(batched.sequences[p]).toEqual(alone.sequences[0]);
      }
    }
    // The adapters matter: the same prompt under two rows decodes differently.
    use(null);
    const two = await generate(m, [prompts[0], prompts[0]], {
      maxNewTokens: 6,
      eosTokenId: null,
      adapterRows: [0, 1],
    });
    expect(two.sequences[0]).not.toEqual(two.sequences[1]);
  });
});
