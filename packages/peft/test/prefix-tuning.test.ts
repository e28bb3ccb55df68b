import type { Projection } from '@statetune/mamba';
import { concat, Generator, Module, type Tensor, tensor, tidy, zeros } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import {
  adapterToFiles,
  countAdapterParameters,
  getPeftModel,
  type PeftModel,
  PrefixTuningAdapter,
  peftModelFromFiles,
} from '../src/index.js';
import {
  bad,
  expectLossFell,
  FORWARD_TOL,
  GRAD_TOL,
  MAMBA_130M,
  relErr,
  tinyModel,
  trainLosses,
  values,
} from './helpers.js';

/**
 * Test-only reference of prefix tuning as its definition says: in_proj's output gets the
 * virtual inputs P_l before the real positions in its x half (zeros in its z half), the
 * mixer runs over prefix + tokens from a zero state, and out_proj's output drops the prefix
 * positions. Nothing of the adapter's state computation is used.
 */
class PrependPrefix extends Module {
  constructor(
    readonly base: Projection,
    readonly prefix: () => Tensor,
  ) {
    super();
    this.registerModule('base', base);
  }
  forward(h: Tensor): Tensor {
    const y = this.base.forward(h);
    const p = this.prefix(); // (T, dInner)
    const [t, e] = p.shape;
    const b = y.shape[0];
    const pre = concat([p.unsqueeze(0).expand(b, t, e), zeros([b, t, e])], -1);
    return concat([pre, y], 1);
  }
}

class DropPrefix extends Module {
  constructor(
    readonly base: Projection,
    readonly length: () => number,
  ) {
    super();
    this.registerModule('base', base);
  }
  forward(y: Tensor): Tensor {
    return this.base.forward(y).slice(1, this.length());
  }
}

/** A reference model: `run(P, ...)` runs it with the prefix P (T, nLayer * dInner). */
async function referenceModel() {
  const model = await tinyModel();
  const { dInner } = model.config;
  let current: Tensor | null = null;
  model.mixers.forEach((mixer, l) => {
    const path = `backbone.layers.${l}.mixer`;
    const slice = () => (current as Tensor).slice(1, l * dInner, (l + 1) * dInner);
    model.setSubmodule(`${path}.in_proj`, new PrependPrefix(mixer.in_proj, slice));
    model.setSubmodule(
      `${path}.out_proj`,
      new DropPrefix(mixer.out_proj, () => (current as Tensor).shape[0]),
    );
  });
  return {
    model,
    run(prefix: Tensor, inputIds: Tensor, labels: Tensor | null = null) {
      current = prefix;
      return model.forward({ inputIds, labels });
    },
  };
}

function batch(seqlen: number, seed: number): Tensor {
  const data = Int32Array.from({ length: 2 * seqlen }, (_, i) => (i * 37 + seed * 11 + 5) % 64);
  return tensor(data, { shape: [2, seqlen] });
}

function prefixOf(peft: PeftModel): Tensor {
  return (peft.adapter() as PrefixTuningAdapter).prefixInputs();
}

function grads(peft: PeftModel): Map<string, number[]> {
  return new Map(
    peft
      .adapter()
      .namedParameters()
      .map(([k, p]) => [k, values(p.grad as Tensor)]),
  );
}

/** The greedy token at (b, t) and its log-probability. */
function greedyAt(logits: Tensor, b: number, t: number): { token: number; logprob: number } {
  const [, L, V] = logits.shape;
  const v = values(logits).slice((b * L + t) * V, (b * L + t + 1) * V);
  const max = Math.max(...v);
  const lse = max + Math.log(v.reduce((s, x) => s + Math.exp(x - max), 0));
  return { token: v.indexOf(max), logprob: max - lse };
}

const CASES = [
  { num_virtual_tokens: 1, prefix_projection: false },
  { num_virtual_tokens: 2, prefix_projection: false },
  { num_virtual_tokens: 3, prefix_projection: false },
  { num_virtual_tokens: 6, prefix_projection: false },
  { num_virtual_tokens: 2, prefix_projection: true, encoder_hidden_size: 8 },
  { num_virtual_tokens: 5, prefix_projection: true, encoder_hidden_size: 8 },
] as const;

describe('PREFIX_TUNING', () => {
  it('counts from the config, as the paper-sized model and as created', async () => {
    expect(countAdapterParameters(MAMBA_130M, { peft_type: 'PREFIX_TUNING' })).toBe(20 * 24 * 1536);
    expect(
      countAdapterParameters(MAMBA_130M, { peft_type: 'PREFIX_TUNING', prefix_projection: true }),
    ).toBe(20 * 1536 + 1536 * 512 + 512 + 512 * 24 * 1536 + 24 * 1536);
    for (const c of CASES) {
      const model = await tinyModel();
      const config = { peft_type: 'PREFIX_TUNING', ...c } as const;
      const peft = getPeftModel(model, config);
      expect(peft.getNbTrainableParameters().trainable).toBe(
        countAdapterParameters(model.config, config),
      );
    }
  });

  it('keys: top-level prompt_embeddings, or the MLP under prompt_encoder.*', async () => {
    const plain = getPeftModel(await tinyModel(), {
      peft_type: 'PREFIX_TUNING',
      num_virtual_tokens: 3,
    }).adapter();
    expect(plain).toBeInstanceOf(PrefixTuningAdapter);
    expect(plain.keyPrefix).toBe('');
    expect(plain.namedParameters().map(([k, p]) => [k, p.shape])).toEqual([
      ['prompt_embeddings', [3, 2 * 64]],
    ]);
    const mlp = getPeftModel(await tinyModel(), {
      peft_type: 'PREFIX_TUNING',
      num_virtual_tokens: 3,
      prefix_projection: true,
      encoder_hidden_size: 8,
    }).adapter();
    expect(mlp.namedParameters().map(([k, p]) => [k, p.shape])).toEqual([
      ['prompt_encoder.embedding.weight', [3, 64]],
      ['prompt_encoder.transform.0.weight', [8, 64]],
      ['prompt_encoder.transform.0.bias', [8]],
      ['prompt_encoder.transform.2.weight', [128, 8]],
      ['prompt_encoder.transform.2.bias', [128]],
    ]);
    // Saved folded, as PEFT does.
    const saved = mlp.adapterStateDict();
    expect([...saved.keys()]).toEqual(['prompt_embeddings']);
    expect(saved.get('prompt_embeddings')?.shape).toEqual([3, 128]);
    expect(() => mlp.merge()).toThrow(/cannot be merged/);
    expect(mlp.mixerEntries()).toBeNull();
  });

  describe.each(CASES)('%o', (c) => {
    it('logits and the prefix gradients equal the prepended-prefix reference', async () => {
      const peft = getPeftModel(await tinyModel(), { peft_type: 'PREFIX_TUNING', ...c });
      const ref = await referenceModel();
      const inputIds = batch(7, c.num_virtual_tokens);

      const r = ref.run(prefixOf(peft), inputIds, inputIds);
      (r.loss as Tensor).backward();
      const want = grads(peft);
      peft.zeroGrad();

      const { logits, loss } = peft.forward({ inputIds, labels: inputIds });
      expect(logits.shape).toEqual(r.logits.shape);
      expect(relErr(values(logits), values(r.logits))).toBeLessThan(FORWARD_TOL);
      expect(relErr([(loss as Tensor).item()], [(r.loss as Tensor).item()])).toBeLessThan(
        FORWARD_TOL,
      );
      (loss as Tensor).backward();
      const got = grads(peft);
      expect([...got.keys()]).toEqual([...want.keys()]);
      for (const [k, g] of got) {
        expect(Math.max(...g.map(Math.abs)), k).toBeGreaterThan(0);
        expect(relErr(g, want.get(k) as number[]), k).toBeLessThan(GRAD_TOL);
      }
      for (const p of peft.baseModel.parameters()) expect(p.grad).toBeNull();
    });

    it('greedy generation equals the reference', async () => {
      const peft = getPeftModel(await tinyModel(), { peft_type: 'PREFIX_TUNING', ...c });
      const ref = await referenceModel();
      const prompts = [
        [3, 17, 40, 8, 22],
        [9, 1, 60, 33, 5],
      ];
      const out = await peft.generate(prompts, { maxNewTokens: 5, eosTokenId: null });
      const seqs = prompts.map((p) => [...p]);
      const scores = [0, 0];
      const prefix = prefixOf(peft);
      for (let step = 0; step < 5; step++) {
        const L = seqs[0].length;
        const logits = ref.run(
          prefix,
          tensor(Int32Array.from(seqs.flat()), { shape: [2, L] }),
        ).logits;
        for (let b = 0; b < 2; b++) {
          const g = greedyAt(logits, b, L - 1);
          seqs[b].push(g.token);
          scores[b] += g.logprob;
        }
      }
      // The summed log-probabilities check the recurrent logits, not only their argmax.
      expect(relErr(out.scores, scores)).toBeLessThan(FORWARD_TOL);
      // `sequences` holds the new tokens.
      expect(out.sequences).toEqual(seqs.map((s) => s.slice(prompts[0].length)));
    });
  });

  it('a saved adapter (folded prompt_embeddings) loads as a plain prefix with the same output', async () => {
    for (const prefix_projection of [false, true]) {
      const config = {
        peft_type: 'PREFIX_TUNING',
        num_virtual_tokens: 3,
        prefix_projection,
        encoder_hidden_size: 8,
      } as const;
      const peft = getPeftModel(await tinyModel(), config, { generator: new Generator(7) });
      const inputIds = batch(6, 2);
      const want = values(peft.forward({ inputIds }).logits);
      const files = await adapterToFiles(peft);
      expect(files.config.prefix_projection).toBe(prefix_projection);
      const loaded = peftModelFromFiles(await tinyModel(), files);
      expect(
        loaded
          .adapter()
          .namedParameters()
          .map(([k]) => k),
      ).toEqual(['prompt_embeddings']);
      expect(relErr(values(loaded.forward({ inputIds }).logits), want)).toBeLessThan(1e-6);
      // Folded tensors into a projection-form adapter: used as they are, the MLP unused.
      const mlp = getPeftModel(await tinyModel(), config, { generator: new Generator(8) });
      if (prefix_projection) {
        expect(values(mlp.forward({ inputIds }).logits)).not.toEqual(want);
        // Inside a tidy() scope (as a training loop may load): the adapter keeps its copy.
        tidy(() => mlp.adapter().loadAdapterStateDict(peft.adapter().adapterStateDict(), 'folded'));
        expect(relErr(values(mlp.forward({ inputIds }).logits), want)).toBeLessThan(1e-6);
        expect([...mlp.adapter().adapterStateDict().keys()]).toEqual(['prompt_embeddings']);
        // The MLP's own tensors load too (training state), and are used again.
        const own = new Map(peft.adapter().namedParameters());
        mlp.adapter().loadAdapterStateDict(own, 'mlp');
        expect(relErr(values(mlp.forward({ inputIds }).logits), want)).toBeLessThan(1e-6);
      }
    }
  });

  it('bad configs and misfit tensors are errors that say what and where', async () => {
    const m = await tinyModel();
    expect(() => getPeftModel(m, { peft_type: 'PREFIX_TUNING', num_virtual_tokens: 0 })).toThrow(
      /"num_virtual_tokens"/,
    );
    expect(() =>
      getPeftModel(m, bad({ peft_type: 'PREFIX_TUNING', prefix_projection: 'yes' })),
    ).toThrow(/"prefix_projection"/);
    expect(() =>
      getPeftModel(m, bad({ peft_type: 'PREFIX_TUNING', num_virtual_token: 4 })),
    ).toThrow(/did you mean "num_virtual_tokens"/);
    for (const prefix_projection of [false, true]) {
      const peft = getPeftModel(await tinyModel(), {
        peft_type: 'PREFIX_TUNING',
        num_virtual_tokens: 3,
        prefix_projection,
        encoder_hidden_size: 8,
      });
      expect(() =>
        peft.adapter().loadAdapterStateDict(new Map([['prompt_embeddings', zeros([3, 64])]]), 'f'),
      ).toThrow(/f: prompt_embeddings is \[3,64\] but this model needs \[3,128\]/);
    }
  });

  it('AdamW steps lower the loss, with and without the MLP; the base stays frozen', async () => {
    for (const prefix_projection of [false, true]) {
      const model = await tinyModel();
      const before = values(model.mixers[0].conv1d.weight);
      const peft = getPeftModel(model, {
        peft_type: 'PREFIX_TUNING',
        num_virtual_tokens: 2,
        prefix_projection,
        encoder_hidden_size: 8,
      });
      expectLossFell(trainLosses(peft, batch(8, 3), { lr: 0.05 }));
      expect(values(model.mixers[0].conv1d.weight)).toEqual(before);
    }
  });
});
