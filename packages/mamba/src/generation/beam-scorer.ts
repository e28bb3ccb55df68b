/**
 * Beam search bookkeeping as Hugging Face's `BeamSearchScorer` does it: per prompt a set of
 * finished hypotheses scored `sumLogprobs / generatedLength ** lengthPenalty` (the generated
 * length counts the end-of-sequence token, as transformers 4.40 counts it), (1 + number of end
 * tokens) * numBeams candidates per step (at least 2 * numBeams), an end-of-sequence candidate
 * kept only when it ranks among the first numBeams, and the same finishing rules
 * (`earlyStopping` true, false or 'never').
 *
 * @packageDocumentation
 */

import { MambaModelError } from '../model/errors.js';

/** A finished hypothesis. */
export interface Hypothesis {
  /** Generated tokens (the end-of-sequence token included when the hypothesis ended on one). */
  readonly tokens: number[];
  /** Length-normalised score. */
  readonly score: number;
}

/** When a prompt's search stops (Hugging Face's `early_stopping`). */
export type EarlyStopping = boolean | 'never';

/** The best numBeams finished hypotheses of one prompt. */
export class BeamHypotheses {
  readonly beams: Hypothesis[] = [];
  private worstScore = 1e9;

  constructor(
    readonly numBeams: number,
    readonly lengthPenalty: number,
    readonly earlyStopping: EarlyStopping,
    /** Most tokens a hypothesis can have (for earlyStopping 'never'). */
    readonly maxNewTokens: number,
  ) {}

  get size(): number {
    return this.beams.length;
  }

  /** Adds a hypothesis of `generatedLength` tokens when it is among the best numBeams. */
  add(tokens: number[], sumLogprobs: number, generatedLength: number): void {
    const score = sumLogprobs / generatedLength ** this.lengthPenalty;
    if (this.beams.length < this.numBeams || score > this.worstScore) {
      this.beams.push({ tokens, score });
      if (this.beams.length > this.numBeams) {
        let worst = 0;
        for (let i = 1; i < this.beams.length; i++) {
          if (this.beams[i].score < this.beams[worst].score) worst = i;
        }
        this.beams.splice(worst, 1);
        this.worstScore = Math.min(...this.beams.map((b) => b.score));
      } else {
        this.worstScore = Math.min(score, this.worstScore);
      }
    }
  }

  /**
   * Whether no alive beam can beat the worst kept hypothesis any more, given the best sum of
   * log-probabilities among this step's candidates and the current generated length.
   */
  isDone(bestSumLogprobs: number, generatedLength: number): boolean {
    if (this.beams.length < this.numBeams) return false;
    if (this.earlyStopping === true) return true;
    const length =
      this.earlyStopping === 'never' && this.lengthPenalty > 0
        ? this.maxNewTokens
        : generatedLength;
    return this.worstScore >= bestSumLogprobs / length ** this.lengthPenalty;
  }
}

/** One candidate continuation: beam `beam` (0..numBeams-1) extended by `token`. */
export interface Candidate {
  readonly beam: number;
  readonly token: number;
  /** Sum of log-probabilities of the beam's tokens and this one. */
  readonly score: number;
}

/** Options of {@link BeamSearchScorer}. */
export interface BeamSearchOptions {
  readonly numBeams: number;
  readonly lengthPenalty: number;
  readonly earlyStopping: EarlyStopping;
  readonly maxNewTokens: number;
  readonly eosTokenIds: ReadonlySet<number>;
  /** Token fed to the beams of a finished prompt (its results are ignored). */
  readonly padTokenId: number;
}

/** The scorer over a batch of prompts, numBeams rows each. */
export class BeamSearchScorer {
  readonly hyps: BeamHypotheses[];
  readonly done: boolean[];

  constructor(
    batch: number,
    readonly options: BeamSearchOptions,
  ) {
    this.hyps = Array.from(
      { length: batch },
      () =>
        new BeamHypotheses(
          options.numBeams,
          options.lengthPenalty,
          options.earlyStopping,
          options.maxNewTokens,
        ),
    );
    this.done = new Array<boolean>(batch).fill(false);
  }

  /** Whether every prompt is finished. */
  get isDone(): boolean {
    return this.done.every((d) => d);
  }

  /**
   * One step for prompt `i`: `candidates` are its best (1 + end tokens) * numBeams
   * continuations (at least 2 * numBeams), best first; `beamTokens` the tokens generated so far by each of its beams; `generatedLength`
   * the length including this step's token. Returns the numBeams continuing beams.
   */
  process(
    i: number,
    candidates: readonly Candidate[],
    beamTokens: readonly (readonly number[])[],
    generatedLength: number,
  ): Candidate[] {
    const { numBeams, eosTokenIds, padTokenId } = this.options;
    if (this.done[i]) {
      return Array.from({ length: numBeams }, () => ({ beam: 0, token: padTokenId, score: 0 }));
    }
    const next: Candidate[] = [];
    for (let rank = 0; rank < candidates.length; rank++) {
      const c = candidates[rank];
      if (eosTokenIds.has(c.token)) {
        // An end is kept only when it ranks among the first numBeams candidates.
        if (rank >= numBeams) continue;
        this.hyps[i].add([...beamTokens[c.beam], c.token], c.score, generatedLength);
      } else {
        next.push(c);
      }
      if (next.length === numBeams) break;
    }
    if (next.length < numBeams) {
      throw new MambaModelError(
        `beam search: only ${next.length} of ${numBeams} beams could continue: every token of the vocabulary is an end token`,
      );
    }
    const best = Math.max(...candidates.map((c) => c.score));
    this.done[i] = this.done[i] || this.hyps[i].isDone(best, generatedLength);
    return next;
  }

  /**
   * Adds the alive beams of unfinished prompts and returns each prompt's best `count`
   * hypotheses, best first.
   */
  finalize(
    beamTokens: readonly (readonly number[])[],
    beamScores: readonly number[],
    count: number,
  ): Hypothesis[][] {
    const nb = this.options.numBeams;
    return this.hyps.map((h, i) => {
      if (!this.done[i]) {
        for (let b = 0; b < nb; b++) {
          const tokens = beamTokens[i * nb + b];
          h.add([...tokens], beamScores[i * nb + b], tokens.length);
        }
      }
      // Stable sort, best first; on equal scores the later one wins, as popping a sorted list does.
      const sorted = h.beams
        .map((b, k) => ({ b, k }))
        .sort((x, y) => y.b.score - x.b.score || y.k - x.k)
        .map((x) => x.b);
      return sorted.slice(0, count);
    });
  }
}
