import { basename, resolve } from 'node:path';
import type { MambaForCausalLM } from '@statetune/mamba';
import { PeftError, type PeftModel } from '@statetune/peft';
import { loadAdapter, loadPeftModel } from '@statetune/peft/node';
import { ConfigError } from '../config/errors.js';
import { requirePath } from '../util/fs.js';
import type { LmRunner } from './evaluate.js';

/** Adapter folders as `--adapter` gives them: one string or several. */
export function adapterList(value: unknown): string[] {
  if (value === undefined || value === null || value === false) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((v) => String(v));
}

/**
 * Loads adapter folders onto a model, each under a distinct name (its folder's name, made
 * unique). Returns the PeftModel (null without adapters), in evaluation mode (LoRA dropout
 * off), and the names in order.
 */
export async function loadAdapters(
  model: MambaForCausalLM,
  dirs: readonly string[],
): Promise<{ peft: PeftModel | null; names: string[] }> {
  if (dirs.length === 0) return { peft: null, names: [] };
  const names: string[] = [];
  let peft: PeftModel | null = null;
  for (const d of dirs) {
    const dir = resolve(d);
    await requirePath(
      dir,
      'dir',
      'an adapter folder holding adapter_config.json and adapter_model.safetensors',
    );
    let name = basename(dir).replace(/[^A-Za-z0-9_-]/g, '_') || 'adapter';
    while (names.includes(name)) name = `${name}_${names.length}`;
    try {
      if (peft === null) peft = await loadPeftModel(model, dir, { adapterName: name });
      else await loadAdapter(peft, dir, { adapterName: name });
    } catch (e) {
      if (e instanceof PeftError) throw new ConfigError(e.message);
      throw e;
    }
    names.push(name);
  }
  // Loaded adapters are evaluated or generate: no dropout (modules start in training mode).
  peft?.eval();
  return { peft, names };
}

/** A PeftModel with one adapter active (or, for null, the base model beside it) as an {@link LmRunner}. */
export function adapterRunner(peft: PeftModel, name: string | null): LmRunner {
  if (name !== null) {
    return {
      forward: (input) => {
        peft.setAdapter(name);
        return peft.forward(input);
      },
      generate: (prompts, options) => {
        peft.setAdapter(name);
        return peft.generate(prompts, options);
      },
    };
  }
  return {
    forward: (input) => peft.withAdapterDisabled(() => peft.forward(input)),
    generate: async (prompts, options) => {
      peft.disableAdapter();
      try {
        return await peft.generate(prompts, options);
      } finally {
        peft.enableAdapter();
      }
    },
  };
}
