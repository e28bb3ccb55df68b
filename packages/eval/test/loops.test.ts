import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type ClassificationModel,
  evaluateClassification,
  evaluateGeneration,
  type GenerationModel,
  type GenerationOptions,
  MetricError,
} from '../src/index.js';
import { loadWordNet, writeJsonAtomic } from '../src/node.js';

const VOCAB = 20;
const CLASS_TOKENS = [17, 18]; // the ids of "0" and "1"

/** Logits that put the maximum on `token`. */
function row(token: number): Float32Array {
  const r = new Float32Array(VOCAB);
  r[token] = 5;
  return r;
}

describe('evaluateClassification', () => {
  // Each prompt's first id is the token the fake model predicts.
  const model: ClassificationModel & { calls: number[][][] } = {
    calls: [],
    async logits(prompts) {
      this.calls.push(prompts.map((p) => [...p]));
      return prompts.map((p) => {
        if (p[0] === -1) {
          const r = row(17);
          r[3] = Number.NaN;
          return r;
        }
        return row(p[0]);
      });
    },
  };
  const examples = [
    { promptIds: [17, 1, 2], label: 0 }, // predicts class 0: right
    { promptIds: [18, 1], label: 1 }, // class 1: right
    { promptIds: [18, 1], label: 0 }, // class 1: wrong
    { promptIds: [5, 1], label: 1 }, // token 5 is no class: dropped
    { promptIds: [-1, 1], label: 1 }, // NaN at token 3: argmax 3, dropped
  ];

  it('drops and counts out-of-class predictions, as the paper does, then scores the rest', async () => {
    model.calls = [];
    const r = await evaluateClassification(model, examples, {
      classTokenIds: CLASS_TOKENS,
      task: 'mrpc',
    });
    expect(r.total).toBe(5);
    expect(r.outOfClass).toBe(2);
    expect(r.outOfClassIndices).toEqual([3, 4]);
    expect(r.nanRows).toBe(1);
    expect(r.scored).toBe(3);
    expect(r.predictions).toEqual([0, 1, 1, null, null]);
    expect(r.predictedTokens).toEqual([17, 18, 18, 5, 3]);
    // Over the 3 scored: preds [0,1,1], refs [0,1,0] -> accuracy 2/3, F1 2·1/(2+1+0) = 2/3.
    expect(r.metrics?.accuracy).toBeCloseTo(2 / 3, 15);
    expect(r.metrics?.f1).toBeCloseTo(2 / 3, 15);
    expect(model.calls.length).toBe(5); // batch size 1 by default
  });

  it('batches prompts and reports progress', async () => {
    model.calls = [];
    const progress: number[] = [];
    const r = await evaluateClassification(model, examples, {
      classTokenIds: CLASS_TOKENS,
      batchSize: 2,
      onProgress: (d) => progress.push(d),
    });
    expect(model.calls.map((c) => c.length)).toEqual([2, 2, 1]);
    expect(progress).toEqual([2, 4, 5]);
    expect(r.task).toBe('rte');
    expect(Object.keys(r.metrics!)).toEqual(['accuracy']);
  });

  it('reports null metrics when nothing is in class', async () => {
    const r = await evaluateClassification(model, [{ promptIds: [4], label: 0 }], {
      classTokenIds: CLASS_TOKENS,
    });
    expect(r.metrics).toBeNull();
    expect(r.outOfClass).toBe(1);
  });

  it('rejects bad input and bad model output', async () => {
    await expect(
      evaluateClassification(model, [], { classTokenIds: CLASS_TOKENS }),
    ).rejects.toThrow(MetricError);
    await expect(
      evaluateClassification(model, [{ promptIds: [17], label: 2 }], {
        classTokenIds: CLASS_TOKENS,
      }),
    ).rejects.toThrow(/label must be a class index 0..1/);
    await expect(
      evaluateClassification(model, [{ promptIds: [17], label: 0 }], { classTokenIds: [17, 17] }),
    ).rejects.toThrow(/duplicates/);
    await expect(
      evaluateClassification({} as ClassificationModel, examples, { classTokenIds: CLASS_TOKENS }),
    ).rejects.toThrow(/logits\(prompts\) method/);
    const broken: ClassificationModel = { logits: async () => [] };
    await expect(
      evaluateClassification(broken, [{ promptIds: [17], label: 0 }], {
        classTokenIds: CLASS_TOKENS,
      }),
    ).rejects.toThrow(/returned 0 rows for a batch of 1/);
  });
});

describe('evaluateGeneration', () => {
  const words = ['<eos>', 'the', 'cat', 'sat', 'on', 'mat', 'a', 'dog'];
  const decode = (ids: readonly number[]) => ids.map((i) => words[i]).join(' ');
  // The fake model "generates" the prompt back, then EOS; it records the options it got.
  const seen: GenerationOptions[] = [];
  const model: GenerationModel = {
    async generate(prompts, options) {
      seen.push(options);
      return prompts.map((p) => [...p, 0]);
    },
  };
  const examples = [
    { promptIds: [1, 2, 3, 4, 1, 5], references: ['the cat sat on the mat'] },
    { promptIds: [6, 7], references: ['a dog', 'the dog'] },
  ];
  const generation = { numBeams: 5, maxNewTokens: 1024, minLength: 5, eosTokenId: 0 };

  it('batches prompts and reports progress', async () => {
    seen.length = 0;
    const progress: number[] = [];
    const three = [...examples, examples[0]];
    const r = await evaluateGeneration(model, three, {
      decode,
      generation,
      metrics: ['bleu'],
      batchSize: 2,
      onProgress: (d, total) => progress.push(d / total),
    });
    expect(seen.length).toBe(2);
    expect(progress).toEqual([2 / 3, 1]);
    expect(r.predictions).toEqual(['the cat sat on the mat', 'a dog', 'the cat sat on the mat']);
  });

  it('passes decoding settings through, strips one EOS, decodes and scores', async () => {
    seen.length = 0;
    const r = await evaluateGeneration(model, examples, {
      decode,
      generation,
      metrics: ['bleu', 'sacrebleu', 'rouge', { name: 'count', compute: (p) => p.length }],
    });
    expect(seen).toEqual([generation, generation]);
    expect(r.predictions).toEqual(['the cat sat on the mat', 'a dog']);
    // Both predictions equal a reference: every precision is 1; 6 + 2 tokens against the
    // shortest references (6 and 2), so no brevity penalty.
    expect(r.details.bleu).toEqual({
      bleu: 1,
      precisions: [1, 1, 1, 1],
      brevity_penalty: 1,
      length_ratio: 1,
      translation_length: 8,
      reference_length: 8,
    });
    expect(r.metrics.bleu).toBeCloseTo(1, 15);
    expect((r.details.sacrebleu as { signature: string }).signature).toMatch(/^nrefs:var\|/);
    expect(r.metrics.sacrebleu).toBe((r.details.sacrebleu as { score: number }).score);
    expect(Object.keys(r.details.rouge as object)).toEqual([
      'rouge1',
      'rouge2',
      'rougeL',
      'rougeLsum',
    ]);
    expect(r.metrics.rouge1).toBeCloseTo(1, 15);
    expect(r.metrics.count).toBe(2);
    expect(r.emptyPredictions).toBe(0);
    expect(r.generation).toBe(generation);
  });

  // The metric names @statetune/data tasks declare: DART ['bleu', 'meteor'], SAMSum
  // ['rouge1', 'rouge2', 'rougeL', 'rougeLsum']. The loop takes them as they are and reports
  // one number under each.
  it('takes the metric names of the data tasks and reports a number under each', async () => {
    // Typed as TaskDefinition.metrics is: plain strings pass.
    const samsum: readonly string[] = ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'];
    const r = await evaluateGeneration(model, examples, { decode, generation, metrics: samsum });
    expect(Object.keys(r.metrics)).toEqual([...samsum]);
    // Every prediction equals one of its references.
    expect(r.metrics).toEqual({ rouge1: 1, rouge2: 1, rougeL: 1, rougeLsum: 1 });
    const dart = await evaluateGeneration(model, examples, {
      decode,
      generation,
      metrics: ['bleu', 'meteor'],
      wordnet: loadWordNet(),
    });
    expect(Object.keys(dart.metrics)).toEqual(['bleu', 'meteor']);
    expect(dart.metrics.bleu).toBeCloseTo(1, 15);
    // As in 'scores METEOR with a WordNet' below: 1 - 0.5/216 and 1 - 0.5/8, averaged.
    expect(dart.metrics.meteor).toBeCloseTo((1 - 0.5 / 216 + 1 - 0.5 / 8) / 2, 14);
    // Only the ROUGE types asked for, with the same values as in a full run.
    const one = await evaluateGeneration(model, examples, {
      decode,
      generation,
      metrics: ['rougeL'],
    });
    expect(one.metrics).toEqual({ rougeL: r.metrics.rougeL });
  });

  it('merges the numbers a custom metric returns by name', async () => {
    const r = await evaluateGeneration(model, examples, {
      decode,
      generation,
      metrics: [
        {
          name: 'spider',
          compute: (p) => ({ execution_accuracy: p.length / 4, exact_match: 0, note: 'x' }),
        },
      ],
    });
    expect(r.metrics).toEqual({ execution_accuracy: 0.5, exact_match: 0 });
    expect(r.details.spider).toEqual({ execution_accuracy: 0.5, exact_match: 0, note: 'x' });
  });

  it('scores METEOR with a WordNet', async () => {
    const r = await evaluateGeneration(model, examples, {
      decode,
      generation,
      metrics: ['meteor'],
      wordnet: loadWordNet(),
    });
    // 6 matches in one chunk: 1 - 0.5/216; 2 in one chunk: 1 - 0.5/8.
    expect(r.details.meteor).toEqual({ meteor: r.metrics.meteor });
    expect(r.metrics.meteor).toBeCloseTo((1 - 0.5 / 216 + 1 - 0.5 / 8) / 2, 14);
  });

  it('rejects a missing WordNet, unknown metrics and wrong model output', async () => {
    await expect(
      evaluateGeneration(model, examples, { decode, generation, metrics: ['meteor'] }),
    ).rejects.toThrow(/meteor needs options.wordnet/);
    await expect(
      evaluateGeneration(model, examples, { decode, generation, metrics: ['cider'] }),
    ).rejects.toThrow(/unknown metric "cider"/);
    await expect(
      evaluateGeneration(model, examples, {
        decode,
        generation,
        metrics: ['execution_accuracy'],
      }),
    ).rejects.toThrow(/Spider metric: run evaluateSpider/);
    await expect(
      evaluateGeneration(model, examples, { decode, generation, metrics: ['bleu', 'bleu'] }),
    ).rejects.toThrow(/"bleu" is listed twice/);
    await expect(
      evaluateGeneration(model, examples, {
        decode,
        generation,
        metrics: [{ name: 'rouge1', compute: () => 1 }],
      }),
    ).rejects.toThrow(/is a built-in metric's/);
    await expect(
      evaluateGeneration(model, examples, { decode, metrics: ['bleu'] } as never),
    ).rejects.toThrow(/options.generation must be an object/);
    await expect(
      evaluateGeneration(model, examples, { decode, generation, metrics: [] }),
    ).rejects.toThrow(/at least one metric/);
    await expect(
      evaluateGeneration(model, examples, {
        decode: () => undefined as unknown as string,
        generation,
        metrics: ['bleu'],
      }),
    ).rejects.toThrow(/options.decode returned undefined for example 0/);
    await expect(
      evaluateGeneration(model, [{ promptIds: [], references: 'a' }], {
        decode,
        generation,
        metrics: ['bleu'],
      }),
    ).rejects.toThrow(/examples\[0\].promptIds must be a non-empty array/);
    await expect(
      evaluateGeneration(model, examples, { decode, generation, metrics: ['bleu'], batchSize: 0 }),
    ).rejects.toThrow(/batchSize must be a positive integer, got 0/);
    await expect(
      evaluateGeneration(model, [], { decode, generation, metrics: ['bleu'] }),
    ).rejects.toThrow(/no examples to evaluate/);
    const broken: GenerationModel = { generate: async () => [[1], [2]] };
    await expect(
      evaluateGeneration(broken, examples, { decode, generation, metrics: ['bleu'] }),
    ).rejects.toThrow(/returned 2 sequences for a batch of 1/);
  });
});

describe('writeJsonAtomic', () => {
  it('writes pretty JSON through a temporary file and leaves nothing else behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'statetune-eval-'));
    const path = join(dir, 'sub', 'results.json');
    await writeJsonAtomic(path, { a: 1, nan: Number.NaN });
    await writeJsonAtomic(path, { a: 2, list: [1, 2] });
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ a: 2, list: [1, 2] });
    expect(await readdir(join(dir, 'sub'))).toEqual(['results.json']);
    await writeJsonAtomic(join(dir, 'n.json'), { x: Number.NaN });
    expect(await readFile(join(dir, 'n.json'), 'utf8')).toBe('{\n  "x": null\n}\n');
  });
});
