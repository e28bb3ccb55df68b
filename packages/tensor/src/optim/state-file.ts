import { TensorError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import type { OptimizerState } from './optimizer.js';

/** The metadata key that holds an optimizer's scalar state in a safetensors file. */
const KEY = 'statetune.optimizer';

interface ScalarState {
  kind: string;
  step: number;
  groups: { hyper: Record<string, number | boolean>; size: number }[];
  paramSteps: [number, number][];
}

/**
 * Lays an optimizer state out as named tensors (`state.<param index>.<slot>`) and string
 * metadata, ready for `saveSafetensors(path, tensors, { metadata })`, so a run can resume.
 */
export function optimizerStateToTensors(state: OptimizerState): {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
} {
  const tensors = new Map<string, Tensor>();
  for (const [i, slots] of state.slots) {
    for (const [name, t] of Object.entries(slots)) tensors.set(`state.${i}.${name}`, t);
  }
  const scalars: ScalarState = {
    kind: state.kind,
    step: state.step,
    groups: state.groups.map((g) => ({ hyper: { ...g.hyper }, size: g.size })),
    paramSteps: [...(state.paramSteps ?? new Map<number, number>())],
  };
  return { tensors, metadata: { [KEY]: JSON.stringify(scalars) } };
}

/** The inverse of {@link optimizerStateToTensors}; `source` names the file in errors. */
export function optimizerStateFromTensors(
  tensors: ReadonlyMap<string, Tensor>,
  metadata: Readonly<Record<string, string>>,
  source = 'optimizer state',
): OptimizerState {
  const raw = metadata[KEY];
  if (raw === undefined) {
    throw new TensorError(
      'optimizerStateFromTensors',
      `${source}: no "${KEY}" metadata; this is not an optimizer state file`,
    );
  }
  let scalars: ScalarState;
  try {
    scalars = JSON.parse(raw) as ScalarState;
  } catch (err) {
    throw new TensorError(
      'optimizerStateFromTensors',
      `${source}: "${KEY}" metadata is not valid JSON (${(err as Error).message})`,
    );
  }
  const ok =
    typeof scalars === 'object' &&
    scalars !== null &&
    typeof scalars.kind === 'string' &&
    Number.isSafeInteger(scalars.step) &&
    Array.isArray(scalars.groups) &&
    scalars.groups.every((g) => g && typeof g.hyper === 'object' && Number.isSafeInteger(g.size)) &&
    Array.isArray(scalars.paramSteps);
  if (!ok) {
    throw new TensorError(
      'optimizerStateFromTensors',
      `${source}: "${KEY}" metadata lacks kind, step, groups or paramSteps`,
    );
  }
  const slots = new Map<number, Record<string, Tensor>>();
  for (const [name, t] of tensors) {
    const m = /^state\.(\d+)\.([A-Za-z_][\w]*)$/.exec(name);
    if (!m) {
      throw new TensorError(
        'optimizerStateFromTensors',
        `${source}: unexpected tensor "${name}" (expected state.<index>.<slot>)`,
      );
    }
    const i = Number(m[1]);
    const entry = slots.get(i) ?? {};
    entry[m[2]] = t;
    slots.set(i, entry);
  }
  return {
    kind: scalars.kind,
    step: scalars.step,
    groups: scalars.groups,
    slots,
    paramSteps: new Map(scalars.paramSteps),
  };
}
