import { join } from 'node:path';
import { type Tensor, tensor } from '@statetune/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/errors.js';
import { loadRunConfig } from '../src/config/load.js';
import { evaluateSplit, type LmRunner, selectionMetric } from '../src/run/evaluate.js';
import { type LoadedTask, loadRunTokenizer, loadTask } from '../src/run/setup.js';
import { tempDir, tinySst2, writeRunConfig } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  await tinySst2(dir, 12, 12);
});
afterAll(() => cleanup());

const V = 257;
const OUT_OF_CLASS = 7;

/**
 * A stand-in model whose prediction after a prefix is known: by the sum of the prefix's ids
 * mod 7 it favours class 0's token, class 1's token, or a token of no class.
 */
function fakeRunner(classIds: readonly number[]): {
  runner: LmRunner;
  choice: (ids: readonly number[]) => number;
} {
  const choice = (ids: readonly number[]) => {
    const s = ids.reduce((a, b) => a + b, 0) % 7;
    return s === 2 || s === 5 ? OUT_OF_CLASS : classIds[s === 1 || s === 3 ? 1 : 0];
  };
  const row = (ids: readonly number[]) => {
    const r = new Float32Array(V);
    r[classIds[1]] = 1;
    r[choice(ids)] = 4;
    return r;
  };
  const runner: LmRunner = {
    forward: ({ inputIds, lastLogitsOnly }) => {
      // evaluateSplit passes a tensor of ids.
      const input = inputIds as Tensor;
      const [b, l] = input.shape;
      const ids = Array.from(input.dataSync() as Int32Array);
      const positions = lastLogitsOnly ? [l - 1] : Array.from({ length: l }, (_, t) => t);
      const out = new Float32Array(b * positions.length * V);
      for (let i = 0; i < b; i++) {
        positions.forEach((t, k) => {
          out.set(row(ids.slice(i * l, i * l + t + 1)), (i * positions.length + k) * V);
        });
      }
      return { logits: tensor(out, { shape: [b, positions.length, V] }) } as ReturnType<
        LmRunner['forward']
      >;
    },
    generate: () => Promise.reject(new Error('not used')),
  };
  return { runner, choice };
}

describe('classification evaluation', () => {
  it('takes the argmax over the whole vocabulary after the prompt, drops out-of-class predictions from both sides and reports them', async () => {
    const tokenizer = await loadRunTokenizer('byte', dir);
    const config = await loadRunConfig(
      await writeRunConfig(dir, {
        task: { name: 'sst2', train: null, validation: join('SST-2', 'train.tsv') },
      }),
      {},
      'eval',
    );
    const loaded: LoadedTask = await loadTask(config, tokenizer, {
      needTrain: false,
      evalSplit: 'validation',
    });
    const split = loaded.eval as NonNullable<LoadedTask['eval']>;
    const classIds = loaded.classTokenIds as number[];
    const { runner, choice } = fakeRunner(classIds);

    // The reference, from the formatted texts: the prompt is the input up to the separator.
    let kept = 0;
    let correct = 0;
    let loss = 0;
    for (const f of split.formatted) {
      const prompt = tokenizer.encode(f.prefix + f.input);
      const predicted = choice(prompt);
      const target = classIds[f.classLabel as number];
      const logits = Array.from({ length: V }, (_, j): number =>
        j === predicted ? 4 : j === classIds[1] ? 1 : 0,
      );
      const lse = Math.log(logits.reduce((a, x) => a + Math.exp(x), 0));
      loss += lse - logits[target];
      if (predicted === OUT_OF_CLASS) continue;
      kept++;
      if (predicted === target) correct++;
    }
    const n = split.formatted.length;
    // The case is only a test if some predictions are dropped and some are scored, right and wrong.
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(n);
    expect(correct).toBeGreaterThan(0);
    expect(correct).toBeLessThan(kept);

    for (const batchSize of [1, 5]) {
      const r = await evaluateSplit(runner, loaded, split, {
        tokenizer,
        generation: config.generation,
        batchSize,
      });
      expect(r.examples).toBe(n);
      expect(r.outOfClass).toBe(n - kept);
      expect(r.metrics.out_of_class).toBeCloseTo((n - kept) / n, 12);
      expect(r.metrics.accuracy).toBeCloseTo(correct / kept, 12);
      expect(r.metrics.eval_loss).toBeCloseTo(loss / n, 5);
    }
  });
});

describe('the metric that picks the best checkpoint', () => {
  const loadedOf = (name: string, kind: string, metrics: string[], spiderDb?: string | null) =>
    ({
      task: { name, kind, metrics },
      spider: spiderDb === undefined ? null : { tables: 'tables.json', databaseDir: spiderDb },
    }) as unknown as LoadedTask;

  it("defaults to the task's first metric that the run computes", () => {
    const spider = ['execution_accuracy', 'exact_match'];
    // Without a database folder Spider has no execution accuracy: exact match picks instead.
    expect(selectionMetric(null, loadedOf('spider', 'generation', spider, null))).toBe(
      'exact_match',
    );
    expect(selectionMetric(null, loadedOf('spider', 'generation', spider, 'database'))).toBe(
      'execution_accuracy',
    );
    expect(
      selectionMetric(null, loadedOf('cola', 'classification', ['matthews_correlation'])),
    ).toBe('matthews_correlation');
    expect(selectionMetric('eval_loss', loadedOf('sst2', 'classification', ['accuracy']))).toBe(
      'eval_loss',
    );
  });

  it('a metric the task does not compute is a config error with the nearest name, before training', () => {
    expect(() =>
      selectionMetric('acuracy', loadedOf('sst2', 'classification', ['accuracy'])),
    ).toThrow(
      /"eval.metric" is "acuracy", which sst2 does not compute here \(did you mean "accuracy"\?\); its metrics: accuracy, eval_loss, out_of_class/,
    );
    expect(() =>
      selectionMetric(
        'execution_accuracy',
        loadedOf('spider', 'generation', ['execution_accuracy', 'exact_match'], null),
      ),
    ).toThrow(ConfigError);
  });
});
