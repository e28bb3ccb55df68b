import { defaultGenerator, type Generator, rand, type Tensor } from '@statetune/tensor';
import type { MambaForCausalLM } from '../model/causal-lm.js';
import { MambaModelError } from '../model/errors.js';
import { BeamSearchScorer, type Candidate, type EarlyStopping } from './beam-scorer.js';
import { argmax, logSoftmax, sampleIndex, warp } from './logits.js';
import { DecodeSession } from './session.js';

/** Options of {@link generate}. Greedy by default; `doSample` samples; `numBeams > 1` beams. */
export interface GenerateOptions {
  /** Most new tokens per sequence. */
  readonly maxNewTokens: number;
  /**
   * Fewest new tokens (default 0): end tokens get -Infinity before that, as Hugging Face's
   * `MinNewTokensLengthLogitsProcessor` does (in beam search on the log-softmax, as there).
   */
  readonly minNewTokens?: number;
  /**
   * Token(s) that end a sequence; default the config's `eosTokenId`; null for none. The
   * end token is part of the returned tokens, as in Hugging Face's output (the paper's
   * evaluation strips one trailing end token before decoding).
   */
  readonly eosTokenId?: number | readonly number[] | null;
  /** Token fed to finished beams (default the config's `padTokenId`, else 0). */
  readonly padTokenId?: number;

  /** Sample instead of taking the most likely token. */
  readonly doSample?: boolean;
  /** Sampling temperature (> 0, default 1). */
  readonly temperature?: number;
  /** Sample among the k most likely tokens (default 0 = all; Hugging Face defaults to 50). */
  readonly topK?: number;
  /** Sample among the most likely tokens whose probability reaches topP (default 1). */
  readonly topP?: number;
  /** Random stream of sampling (default: the global generator). */
  readonly generator?: Generator;

  /** Beams per prompt (default 1: no beam search). */
  readonly numBeams?: number;
  /** Exponent of the length normalisation `sumLogprobs / length ** lengthPenalty` (default 1). */
  readonly lengthPenalty?: number;
  /** Beam search finishing rule, as Hugging Face's `early_stopping` (default false). */
  readonly earlyStopping?: EarlyStopping;
  /** Hypotheses returned per prompt by beam search (default 1, at most numBeams). */
  readonly numReturnSequences?: number;

  /** Prompt-tuning embeddings before every prompt: (p, dModel) or (prompts, p, dModel). */
  readonly prefixEmbeds?: Tensor | null;
  /** Row of every batched PEFT entry-point tensor each prompt uses (default: prompt i, row i). */
  readonly adapterRows?: readonly number[] | null;
}

/** Result of {@link generate}. */
export interface GenerateOutput {
  /**
   * New tokens of each returned sequence: one per prompt, or numReturnSequences per prompt
   * (prompt-major, best first) for beam search.
   */
  readonly sequences: number[][];
  /**
   * Per sequence: greedy and sampling give the sum of the model's log-probabilities of the
   * tokens (before end-token suppression and sampling warpers); beam search gives the
   * hypothesis score `sumLogprobs / generatedLength ** lengthPenalty`, the end token counted
   * in the length as Hugging Face transformers 4.40 counts it.
   */
  readonly scores: number[];
}

/**
 * Generates continuations of token prompts of any lengths with the recurrent step: greedy,
 * sampling or beam search. Each prompt is prefilled through the parallel path (prompts of
 * the same length together), then all sequences step together; a sequence stops at its
 * end-of-sequence token or after `maxNewTokens`.
 */
export async function generate(
  model: MambaForCausalLM,
  prompts: readonly (readonly number[])[],
  options: GenerateOptions,
): Promise<GenerateOutput> {
  const o = resolve(model, options);
  const session = await DecodeSession.start(model, {
    prompts,
    prefixEmbeds: options.prefixEmbeds,
    adapterRows: options.adapterRows,
  });
  try {
    if (o.numBeams > 1) return await beamSearch(session, prompts.length, o);
    return await decode(session, prompts.length, o);
  } finally {
    session.dispose();
  }
}

interface Resolved {
  maxNewTokens: number;
  minNewTokens: number;
  eos: Set<number>;
  padTokenId: number;
  doSample: boolean;
  temperature: number;
  topK: number;
  topP: number;
  generator: Generator;
  numBeams: number;
  lengthPenalty: number;
  earlyStopping: EarlyStopping;
  numReturnSequences: number;
}

function resolve(model: MambaForCausalLM, o: GenerateOptions): Resolved {
  const fail = (msg: string): never => {
    throw new MambaModelError(`generate: ${msg}`);
  };
  const int = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) fail(`${name} must be an integer >= ${min}, got ${v}`);
    return v;
  };
  const cfg = model.config;
  const eosIn = o.eosTokenId === undefined ? (cfg.eosTokenId ?? null) : o.eosTokenId;
  const eos = new Set<number>(eosIn === null ? [] : typeof eosIn === 'number' ? [eosIn] : eosIn);
  const token = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 0 || v >= cfg.vocabSize) {
      fail(`${name} must be a token id in [0, ${cfg.vocabSize}), got ${v}`);
    }
    return v;
  };
  for (const e of eos) token('eosTokenId', e);
  const padTokenId = token('padTokenId', o.padTokenId ?? cfg.padTokenId ?? 0);
  const lengthPenalty = o.lengthPenalty ?? 1;
  if (!Number.isFinite(lengthPenalty))
    fail(`lengthPenalty must be a finite number, got ${lengthPenalty}`);
  const numBeams = int('numBeams', o.numBeams ?? 1, 1);
  const temperature = o.temperature ?? 1;
  if (!(temperature > 0)) fail(`temperature must be > 0, got ${temperature}`);
  const topP = o.topP ?? 1;
  if (!(topP > 0 && topP <= 1)) fail(`topP must be in (0, 1], got ${topP}`);
  const numReturnSequences = int('numReturnSequences', o.numReturnSequences ?? 1, 1);
  if (numReturnSequences > numBeams) {
    fail(`numReturnSequences (${numReturnSequences}) must not exceed numBeams (${numBeams})`);
  }
  if (numBeams > 1 && o.doSample) fail('beam sampling is not supported; use numBeams or doSample');
  return {
    maxNewTokens: int('maxNewTokens', o.maxNewTokens, 1),
    minNewTokens: int('minNewTokens', o.minNewTokens ?? 0, 0),
    eos,
    padTokenId,
    doSample: o.doSample ?? false,
    temperature,
    topK: int('topK', o.topK ?? 0, 0),
    topP,
    generator: o.generator ?? defaultGenerator,
    numBeams,
    lengthPenalty,
    earlyStopping: o.earlyStopping ?? false,
    numReturnSequences,
  };
}

/** Suppresses end tokens before minNewTokens (Hugging Face's MinNewTokensLengthLogitsProcessor). */
function suppressEos(row: Float32Array | Float64Array, o: Resolved, generated: number): void {
  if (generated < o.minNewTokens) for (const e of o.eos) row[e] = Number.NEGATIVE_INFINITY;
}

/** Greedy decoding or sampling; finished sequences leave the batch. */
async function decode(session: DecodeSession, batch: number, o: Resolved): Promise<GenerateOutput> {
  const sequences: number[][] = Array.from({ length: batch }, () => []);
  const scores = new Array<number>(batch).fill(0);
  let active = Array.from({ length: batch }, (_, i) => i);
  const v = session.vocab;
  for (let t = 0; t < o.maxNewTokens; t++) {
    // One uniform per prompt and step, so a prompt's draws do not depend on the others finishing.
    const uniforms = o.doSample ? await uniformsOn(session, batch, o.generator) : null;
    const tokens: number[] = [];
    const keep: number[] = [];
    active.forEach((seq, row) => {
      const logits = session.logits.slice(row * v, (row + 1) * v);
      // The score is the model's log-probability; the choice sees the processed logits.
      const lp = logSoftmax(logits);
      suppressEos(logits, o, t);
      const token = uniforms ? sampleIndex(warp(logits, o), uniforms[seq]) : argmax(logits);
      sequences[seq].push(token);
      scores[seq] += lp[token];
      if (!o.eos.has(token)) {
        keep.push(row);
        tokens.push(token);
      }
    });
    const next = keep.map((row) => active[row]);
    if (next.length === 0 || t === o.maxNewTokens - 1) break;
    if (next.length < active.length) session.select(keep);
    active = next;
    await session.step(tokens);
  }
  return { sequences, scores };
}

/** `n` uniforms in [0, 1) from the generator, drawn on the model's backend. */
async function uniformsOn(session: DecodeSession, n: number, generator: Generator) {
  const backend = session.model.backbone.embeddings.weight.backend;
  const u = rand([n], { generator, backend });
  const values = await u.data();
  u.dispose();
  return values;
}

/** The best `k` (index, value) pairs of a row, best first (lower index first on ties). */
function topK(row: Float64Array, k: number): { index: number; value: number }[] {
  const best: { index: number; value: number }[] = [];
  for (let i = 0; i < row.length; i++) {
    const value = row[i];
    if (best.length === k && value <= best[k - 1].value) continue;
    let j = best.length;
    while (j > 0 && best[j - 1].value < value) j--;
    best.splice(j, 0, { index: i, value });
    if (best.length > k) best.pop();
  }
  return best;
}

/** Beam search over numBeams rows per prompt (Hugging Face's BeamSearchScorer semantics). */
async function beamSearch(
  session: DecodeSession,
  batch: number,
  o: Resolved,
): Promise<GenerateOutput> {
  const nb = o.numBeams;
  const v = session.vocab;
  // (1 + number of end tokens) * numBeams candidates (at least 2 * numBeams), so that
  // numBeams of them continue even when every end token ranks first for every beam.
  const keep = Math.max(2, 1 + o.eos.size) * nb;
  session.select(Array.from({ length: batch * nb }, (_, r) => Math.floor(r / nb)));
  // Only the first beam of each prompt is live at the start, so the first step does not
  // pick the same token numBeams times.
  let beamScores: number[] = Array.from({ length: batch * nb }, (_, r) =>
    r % nb === 0 ? 0 : -1e9,
  );
  let beamTokens: number[][] = Array.from({ length: batch * nb }, () => []);
  const scorer = new BeamSearchScorer(batch, {
    numBeams: nb,
    lengthPenalty: o.lengthPenalty,
    earlyStopping: o.earlyStopping,
    maxNewTokens: o.maxNewTokens,
    eosTokenIds: o.eos,
    padTokenId: o.padTokenId,
  });
  for (let t = 1; t <= o.maxNewTokens; t++) {
    const nextScores: number[] = [];
    const nextTokens: number[] = [];
    const nextRows: number[] = [];
    const nextBeamTokens: number[][] = [];
    for (let i = 0; i < batch; i++) {
      let candidates: Candidate[] = [];
      if (!scorer.done[i]) {
        for (let b = 0; b < nb; b++) {
          const r = i * nb + b;
          // Hugging Face's beam search runs the logits processors on the log-softmax, so a
          // suppressed end token does not renormalise the other tokens' log-probabilities.
          const lp = logSoftmax(session.logits.subarray(r * v, (r + 1) * v));
          suppressEos(lp, o, t - 1);
          for (let k = 0; k < lp.length; k++) lp[k] += beamScores[r];
          for (const c of topK(lp, keep)) {
            candidates.push({ beam: b, token: c.index, score: c.value });
          }
        }
        // Best `keep` over the prompt's beams; ties by flat index as a top-k would.
        candidates = candidates
          .sort((x, y) => y.score - x.score || x.beam * v + x.token - (y.beam * v + y.token))
          .slice(0, keep);
      }
      const local = beamTokens.slice(i * nb, (i + 1) * nb);
      const chosen = scorer.process(i, candidates, local, t);
      for (const c of chosen) {
        nextScores.push(c.score);
        nextTokens.push(c.token);
        nextRows.push(i * nb + c.beam);
        nextBeamTokens.push([...local[c.beam], c.token]);
      }
    }
    beamScores = nextScores;
    beamTokens = nextBeamTokens;
    if (scorer.isDone || t === o.maxNewTokens) break;
    session.select(nextRows);
    await session.step(nextTokens);
  }
  const best = scorer.finalize(beamTokens, beamScores, o.numReturnSequences);
  return {
    sequences: best.flatMap((h) => h.map((x) => x.tokens)),
    scores: best.flatMap((h) => h.map((x) => x.score)),
  };
}
