import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type MambaConfig, MambaForCausalLM, mambaConfig } from '@statetune/mamba';
import { loadMamba } from '@statetune/mamba/node';
import {
  AdamW,
  type Backend,
  Generator,
  getBackend,
  type HostArray,
  noGrad,
  randn,
  setBackend,
  type Tensor,
  tensor,
} from '@statetune/tensor';
import { loadSafetensors } from '@statetune/tensor/node';
import { expect } from 'vitest';
import type { Adapter, PeftConfigInput, PeftModel, PeftType } from '../src/index.js';

/** The fixture folder: STATETUNE_FIXTURES when set, else the repository's copy. */
export function fixturesDir(): string {
  return (
    process.env.STATETUNE_FIXTURES ?? fileURLToPath(new URL('../../../fixtures', import.meta.url))
  );
}

/** The manifest of mamba-tiny. */
export interface TinyManifest {
  readonly config: string;
  readonly weights: string;
  readonly methods: Record<string, { readonly file: string; readonly loss: number }>;
}

export function tinyManifest(): TinyManifest {
  return JSON.parse(readFileSync(join(fixturesDir(), 'mamba-tiny', 'cases.json'), 'utf8'));
}

/** The CPU backend (the default when this module loads), where fixture tensors live. */
const CPU = getBackend();

/** The tensors of one method case of mamba-tiny, on the CPU. */
export async function loadCase(method: string): Promise<Map<string, Tensor>> {
  const m = tinyManifest().methods[method];
  if (!m) throw new Error(`mamba-tiny/cases.json has no method "${method}"`);
  return (await loadSafetensors(join(fixturesDir(), 'mamba-tiny', m.file), { backend: CPU }))
    .tensors;
}

/** mamba-tiny (Hugging Face layout). */
export async function tinyModel(): Promise<MambaForCausalLM> {
  return loadMamba(join(fixturesDir(), 'mamba-tiny'));
}

/** ||got - expected|| / ||expected||. */
export function relErr(got: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (got.length !== expected.length) {
    throw new Error(`length mismatch: got ${got.length}, expected ${expected.length}`);
  }
  let num = 0;
  let den = 0;
  for (let i = 0; i < got.length; i++) {
    const d = got[i] - expected[i];
    num += d * d;
    den += expected[i] * expected[i];
  }
  if (Number.isNaN(num)) return Number.POSITIVE_INFINITY;
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** Values of a tensor as plain numbers. */
export function values(t: Tensor): number[] {
  return Array.from(t.dataSync() as HostArray);
}

/** Integer rows of a 2-D tensor. */
export function rows(t: Tensor): number[][] {
  return t.arraySync() as number[][];
}

/** Relative error allowed on logits and loss against the fixtures (fixtures/README.md). */
export const FORWARD_TOL = 1e-5;
/** Relative error allowed on gradients against the fixtures (fixtures/README.md). */
export const GRAD_TOL = 1e-4;

/** Checks logits and loss against a fixture case's `expected.logits` and `expected.loss`. */
export function expectForward(c: Map<string, Tensor>, logits: Tensor, loss: Tensor | null): void {
  expect(relErr(values(logits), values(c.get('expected.logits') as Tensor))).toBeLessThan(
    FORWARD_TOL,
  );
  expect(
    relErr([loss?.item() ?? Number.NaN], values(c.get('expected.loss') as Tensor)),
  ).toBeLessThan(FORWARD_TOL);
}

/**
 * The PEFT config that reproduces a fixture method case (fixtures/README.md), with the key
 * each fixture tensor (`adapter.<name>`) has in the adapter's saved state. Sizes that the
 * README leaves to the files (virtual tokens, extra states) are read from the tensors.
 */
export function fixtureMethod(
  method: string,
  c: Map<string, Tensor>,
): { config: PeftConfigInput; key: (fixtureName: string) => string } {
  const same = (n: string) => n;
  const shapeOf = (suffix: string) => {
    for (const [k, t] of c) if (k.startsWith('adapter.') && k.endsWith(suffix)) return t.shape;
    throw new Error(`case ${method} has no adapter tensor ending in ${suffix}`);
  };
  switch (method) {
    case 'state_offset_h':
      return { config: { peft_type: 'STATE_OFFSET_TUNING', variant: 'h' }, key: same };
    case 'state_offset_y':
      return { config: { peft_type: 'STATE_OFFSET_TUNING', variant: 'y' }, key: same };
    case 'init_state':
      return { config: { peft_type: 'INITIAL_STATE_TUNING' }, key: same };
    case 'prompt_tuning':
      return {
        config: { peft_type: 'PROMPT_TUNING', num_virtual_tokens: shapeOf('prompt_embeddings')[0] },
        key: same,
      };
    case 'lora':
      // Rank 2, scale 2.0 = lora_alpha / r, on the four whole projections.
      return {
        config: {
          peft_type: 'LORA',
          r: shapeOf('lora_A')[0],
          lora_alpha: 2 * shapeOf('lora_A')[0],
          target_modules: ['in_proj', 'x_proj', 'dt_proj', 'out_proj'],
        },
        key: (n) => `${n}.weight`,
      };
    case 'additional_scan':
      return {
        config: { peft_type: 'ADDITIONAL_SCAN', d_state: shapeOf('extra_A_log')[1] },
        key: same,
      };
    default:
      throw new Error(`no PEFT config known for fixture method "${method}"`);
  }
}

/** A small random Mamba config for tests that need no fixture (fast on every backend). */
export function smallConfig(over: Partial<MambaConfig> = {}): MambaConfig {
  return mambaConfig({ dModel: 16, nLayer: 2, vocabSize: 32, dState: 4, ...over });
}

/** A small random Mamba model on the current backend; the same seed gives the same weights. */
export function smallModel(seed = 0, over: Partial<MambaConfig> = {}): MambaForCausalLM {
  return new MambaForCausalLM(smallConfig(over), { generator: new Generator(seed) });
}

/** One small config per method, for the tests that run every PEFT type. */
export const METHOD_CONFIGS: Readonly<Record<PeftType, PeftConfigInput>> = {
  STATE_OFFSET_TUNING: { peft_type: 'STATE_OFFSET_TUNING', variant: 'h' },
  INITIAL_STATE_TUNING: { peft_type: 'INITIAL_STATE_TUNING' },
  PROMPT_TUNING: { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 3 },
  PREFIX_TUNING: { peft_type: 'PREFIX_TUNING', num_virtual_tokens: 3 },
  LORA: { peft_type: 'LORA', r: 2, lora_alpha: 4 },
  BITFIT: { peft_type: 'BITFIT' },
  ADDITIONAL_SCAN: { peft_type: 'ADDITIONAL_SCAN', d_state: 2 },
  FULL_FINETUNING: { peft_type: 'FULL_FINETUNING' },
};

/** Every PEFT type with its small config, for `describe.each`. */
export const METHOD_CASES = Object.entries(METHOD_CONFIGS) as [PeftType, PeftConfigInput][];

/**
 * Adds small random values to every tensor an adapter saves, so that it changes the model
 * (most methods start as the identity) and a round trip that lost a tensor would show.
 */
export function perturb(adapter: Adapter, seed = 1): void {
  const g = new Generator(seed);
  noGrad(() => {
    for (const [, t] of adapter.adapterStateDict()) {
      const noise = randn(t.shape, { std: 0.3, generator: g, backend: t.backend });
      t.assign(t.add(noise));
    }
  });
}

/** Fixed token ids (batch, seqlen) below `vocab`, different per seed. */
export function tokenRows(batch: number, seqlen: number, vocab = 32, seed = 0): number[][] {
  return Array.from({ length: batch }, (_, b) =>
    Array.from({ length: seqlen }, (_, t) => (7 * b + 3 * t + 5 * seed + ((b * t) % 5)) % vocab),
  );
}

/** Every value of a tensor, read on any backend. */
export async function valuesOf(t: Tensor): Promise<number[]> {
  return Array.from((await t.data()) as HostArray);
}

/**
 * The WebGPU backend (registered, then the CPU made current again), or null with the reason
 * printed when the package cannot be loaded or the machine has no WebGPU adapter. Any other
 * failure fails the tests instead of skipping them; with STATETUNE_REQUIRE_WEBGPU=1 (CI) a
 * missing adapter fails too.
 */
export async function gpuBackend(what: string): Promise<Backend | null> {
  const required = process.env.STATETUNE_REQUIRE_WEBGPU === '1';
  let webgpu: typeof import('@statetune/webgpu');
  try {
    webgpu = await import('@statetune/webgpu');
  } catch (err) {
    if (required) throw err;
    console.warn(`${what} tests skipped: ${(err as Error).message}`);
    return null;
  }
  try {
    webgpu.registerWebGpu();
    return await setBackend('webgpu');
  } catch (err) {
    if (required || !(err instanceof webgpu.WebGpuUnavailableError)) throw err;
    console.warn(`${what} tests skipped: ${(err as Error).message}`);
    return null;
  } finally {
    await setBackend('cpu');
  }
}

/** The mamba-130m config (the paper's parameter counts are given for it). */
export const MAMBA_130M: MambaConfig = mambaConfig({
  dModel: 768,
  nLayer: 24,
  vocabSize: 50280,
  dState: 16,
});

/** A config the types reject, as a JSON file could hold it. */
export const bad = (c: Record<string, unknown>): PeftConfigInput => c as unknown as PeftConfigInput;

/**
 * A micro random model (dModel 8, vocab 16, dState 4, dtRank 2; 3 layers unless told), for
 * tests that need no fixture; the same seed gives the same weights.
 */
export function microModel(seed = 3, nLayer = 3): MambaForCausalLM {
  const config = mambaConfig({ dModel: 8, nLayer, vocabSize: 16, dState: 4, dtRank: 2 });
  return new MambaForCausalLM(config, { generator: new Generator(seed) });
}

/** Token ids (2, 6) below 16, for {@link microModel}. */
export const microIds = (): Tensor =>
  tensor(Int32Array.from([1, 5, 3, 9, 2, 7, 4, 1, 5, 3, 9, 2]), { shape: [2, 6] });

/** Token ids (2, 6) below mamba-tiny's vocabulary. */
export const TINY_INPUT: number[][] = [
  [1, 5, 9, 2, 7, 3],
  [4, 4, 8, 1, 0, 6],
];

/** The logits of a forward as plain numbers, without a graph. */
export function logitsOf(forward: () => { logits: Tensor }): number[] {
  return noGrad(() => values(forward().logits));
}

/** Moves every trainable parameter by N(0, 0.3^2) noise, so the adapter differs from the base. */
export function perturbTrainable(peft: PeftModel, seed = 5): void {
  const g = new Generator(seed);
  noGrad(() => {
    for (const p of peft.trainableParameters()) {
      p.assign(p.add(randn(p.shape, { std: 0.3, generator: g, backend: p.backend })));
    }
  });
}

/**
 * Runs `steps` AdamW steps (no weight decay) of the language-model loss on `inputIds` and
 * returns the loss of each step, computed before its update, then the loss after the last.
 */
export function trainLosses(
  peft: PeftModel,
  inputIds: Tensor | number[][],
  options: { readonly lr: number; readonly steps?: number },
): number[] {
  const opt = new AdamW(peft.trainableParameters(), { lr: options.lr, weightDecay: 0 });
  const losses: number[] = [];
  for (let i = 0; i < (options.steps ?? 5); i++) {
    peft.zeroGrad();
    const { loss } = peft.forward({ inputIds, labels: inputIds });
    (loss as Tensor).backward();
    opt.step();
    losses.push((loss as Tensor).item());
  }
  losses.push(noGrad(() => (peft.forward({ inputIds, labels: inputIds }).loss as Tensor).item()));
  return losses;
}

/**
 * Checks that training lowered the loss at every step and by more than float noise overall
 * (the last loss under `1 - minDrop` times the first); a parameter the gradient never reaches
 * leaves the losses equal. Methods whose zero-initialised factor must move first (LoRA's B,
 * Additional-scan's C) fall slowly at first, hence the small default.
 */
export function expectLossFell(losses: readonly number[], minDrop = 2e-5): void {
  expect(losses.length).toBeGreaterThan(2);
  for (let i = 1; i < losses.length; i++) {
    expect(Number.isFinite(losses[i]), `loss ${i}`).toBe(true);
    expect(losses[i], `loss ${i}`).toBeLessThan(losses[i - 1]);
  }
  expect(losses[losses.length - 1]).toBeLessThan((1 - minDrop) * losses[0]);
}

/** Checks that a forward's logits are within relative error `tol` of `want`. */
export function expectLogitsNear(
  forward: () => { logits: Tensor },
  want: readonly number[],
  tol: number,
): void {
  expect(relErr(logitsOf(forward), want)).toBeLessThan(tol);
}
