import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getBackend, type HostArray, type Tensor } from '@statetune/tensor';
import { loadSafetensors } from '@statetune/tensor/node';
import { expect } from 'vitest';
import type { MambaForCausalLM } from '../src/index.js';
import { loadMamba } from '../src/node.js';

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

/** The tensors of one method case of mamba-tiny, on the CPU (they hold float64 values). */
export async function loadCase(method: string): Promise<Map<string, Tensor>> {
  const m = tinyManifest().methods[method];
  if (!m) throw new Error(`mamba-tiny/cases.json has no method "${method}"`);
  return (await loadSafetensors(join(fixturesDir(), 'mamba-tiny', m.file), { backend: CPU }))
    .tensors;
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

/** The checkpoint folders of mamba-tiny (Hugging Face safetensors, state-spaces safetensors, pytorch .bin). */
export const TINY_FORMS = ['mamba-tiny', 'mamba-tiny-ssm', 'mamba-tiny-bin'] as const;

/** mamba-tiny in one of its checkpoint forms. */
export async function tinyModel(form: string = 'mamba-tiny'): Promise<MambaForCausalLM> {
  return loadMamba(join(fixturesDir(), form));
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
