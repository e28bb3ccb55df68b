import {
  AdamW,
  clipGradNorm,
  cosineSchedule,
  crossEntropy,
  Generator,
  LrScheduler,
  noGrad,
  rand,
  type Tensor,
  tensor,
  tidy,
} from '@statetune/tensor';
import { CharVocab, sampleBatch } from './data.js';
import { TinyMamba, type TinyMambaConfig } from './model.js';

/** Settings of one training run. */
export interface TrainOptions {
  readonly steps: number;
  readonly batch: number;
  readonly seqlen: number;
  readonly lr: number;
  readonly seed: number;
  readonly model: Omit<TinyMambaConfig, 'vocabSize'>;
  /** Called with one line of progress at a time. */
  readonly log: (line: string) => void;
}

/** What a run produced. */
export interface TrainResult {
  readonly vocabSize: number;
  readonly parameters: number;
  readonly losses: { step: number; loss: number; lr: number }[];
  readonly validationBefore: number;
  readonly validationAfter: number;
  readonly tokensPerSecond: number;
  readonly seconds: number;
  readonly sample: string;
}

function lossOf(model: TinyMamba, inputs: Tensor, targets: Tensor): Tensor {
  const logits = model.forward(inputs);
  return crossEntropy(logits.reshape(-1, logits.shape[2]), targets.reshape(-1));
}

/** Mean next-character loss on fixed windows of held-out text. */
function validate(model: TinyMamba, stream: Int32Array, seqlen: number, seed: number): number {
  const generator = new Generator(seed);
  return noGrad(() =>
    tidy(() => {
      let total = 0;
      for (let i = 0; i < 4; i++) {
        const { inputs, targets } = sampleBatch(stream, 8, seqlen, generator);
        total += lossOf(model, inputs, targets).item();
      }
      return total / 4;
    }),
  );
}

/** Samples `n` characters after `prompt` at temperature 0.8, from a seeded stream. */
function generate(
  model: TinyMamba,
  vocab: CharVocab,
  prompt: string,
  n: number,
  seqlen: number,
  seed: number,
): string {
  const generator = new Generator(seed);
  const ids = Array.from(vocab.encode(prompt));
  model.eval();
  noGrad(() => {
    for (let i = 0; i < n; i++) {
      tidy(() => {
        const context = ids.slice(-seqlen);
        const logits = model.forward(
          tensor(Int32Array.from(context), { shape: [1, context.length] }),
        );
        const probs = logits
          .select(1, context.length - 1)
          .select(0, 0)
          .div(0.8)
          .softmax(-1)
          .dataSync();
        const u = rand([1], { generator }).item();
        let acc = 0;
        let pick = probs.length - 1;
        for (let k = 0; k < probs.length; k++) {
          acc += probs[k];
          if (u < acc) {
            pick = k;
            break;
          }
        }
        ids.push(pick);
      });
    }
  });
  model.train();
  return vocab.decode(ids);
}

/**
 * Trains the tiny model on a text: 90% for training windows, 10% held out. AdamW with weight
 * decay on matrices only, warmup then cosine decay, gradient clipping at 1.
 */
export function train(text: string, options: TrainOptions): TrainResult {
  const { steps, batch, seqlen, log } = options;
  const vocab = new CharVocab(text);
  const all = vocab.encode(text);
  const cut = Math.floor(all.length * 0.9);
  const trainStream = all.subarray(0, cut);
  const heldOut = all.subarray(cut);
  const generator = new Generator(options.seed);
  const model = new TinyMamba({ vocabSize: vocab.size, ...options.model }, generator);
  const named = model.namedParameters();
  // Weight decay on the matrices; none on norms, biases, D and A_log (decay would pull A
  // towards -1 for every state).
  const decayed = named
    .filter(([name, p]) => p.rank >= 2 && !name.endsWith('.A_log'))
    .map(([, p]) => p);
  const rest = named.map(([, p]) => p).filter((p) => !decayed.includes(p));
  const optimizer = new AdamW(
    [
      { params: decayed, options: { weightDecay: 0.1 } },
      { params: rest, options: { weightDecay: 0 } },
    ],
    { lr: options.lr, beta2: 0.99 },
  );
  const scheduler = new LrScheduler(
    optimizer,
    cosineSchedule(Math.min(20, steps), steps, { minRatio: 0.1 }),
  );
  log(
    `vocabulary ${vocab.size} characters, ${model.numParameters().toLocaleString('en-US')} parameters, ${trainStream.length.toLocaleString('en-US')} training characters`,
  );

  const validationBefore = validate(model, heldOut, seqlen, options.seed + 1);
  log(`validation loss before training: ${validationBefore.toFixed(4)}`);
  const losses: TrainResult['losses'] = [];
  const started = performance.now();
  for (let step = 1; step <= steps; step++) {
    const lr = scheduler.lastLr[0];
    const loss = tidy(() => {
      const { inputs, targets } = sampleBatch(trainStream, batch, seqlen, generator);
      const l = lossOf(model, inputs, targets);
      l.backward();
      clipGradNorm(model.parameters(), 1.0);
      return l.item();
    });
    if (!Number.isFinite(loss))
      throw new Error(`the loss became ${loss} at step ${step}; lower the learning rate`);
    optimizer.step();
    optimizer.zeroGrad();
    scheduler.step();
    losses.push({ step, loss, lr });
    if (step % 25 === 0 || step === 1 || step === steps) {
      const seconds = (performance.now() - started) / 1000;
      const rate = (step * batch * seqlen) / seconds;
      log(
        `step ${String(step).padStart(4)}/${steps}  loss ${loss.toFixed(4)}  lr ${lr.toExponential(2)}  ${Math.round(rate).toLocaleString('en-US')} tokens/s`,
      );
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const validationAfter = validate(model, heldOut, seqlen, options.seed + 1);
  log(`validation loss after training: ${validationAfter.toFixed(4)}`);
  const sample = generate(model, vocab, 'ROMEO:\n', 160, seqlen, options.seed + 2);
  return {
    vocabSize: vocab.size,
    parameters: model.numParameters(),
    losses,
    validationBefore,
    validationAfter,
    tokensPerSecond: (steps * batch * seqlen) / seconds,
    seconds,
    sample,
  };
}
