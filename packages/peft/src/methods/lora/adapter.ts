import { type MambaConfig, type MambaForCausalLM, projectionRows } from '@statetune/mamba';
import { type Generator, zeros } from '@statetune/tensor';
import type { CreateOptions } from '../../adapter.js';
import { PeftError } from '../../errors.js';
import { kaimingUniform, layerCount, mixerKey, selectedLayers } from '../../init.js';
import { nearest } from '../../schema.js';
import { WrapperAdapter, wrapperAt } from '../../wrapper.js';
import { LORA_TARGETS, type LoraConfig, type LoraTarget } from './config.js';
import { LoraLayer, type LoraPiece } from './layer.js';

/** A mixer projection LoRA wraps. */
export type LoraModule = 'in_proj' | 'x_proj' | 'dt_proj' | 'out_proj';

/** Where a LoRA target sits: its projection, the output rows it changes, its input size. */
export interface LoraTargetSpec {
  readonly target: LoraTarget;
  readonly module: LoraModule;
  /** First output row of the projection it changes. */
  readonly start: number;
  /** One past its last output row. */
  readonly end: number;
  /** The projection's input features. */
  readonly inFeatures: number;
  /** The projection's output features (all rows). */
  readonly outFeatures: number;
}

/** The projection and output rows of a LoRA target on a model of this config. */
export function loraTargetSpec(config: MambaConfig, target: LoraTarget): LoraTargetSpec {
  const { dModel, dInner, dtRank, dState } = config;
  const rows = projectionRows(config);
  const whole = (module: LoraModule, inFeatures: number, outFeatures: number) => ({
    target,
    module,
    start: 0,
    end: outFeatures,
    inFeatures,
    outFeatures,
  });
  const piece = (module: LoraModule, inFeatures: number, outFeatures: number) => {
    const [start, end] = (
      module === 'in_proj'
        ? rows.in_proj[target.slice('in_proj_'.length) as 'x' | 'z']
        : rows.x_proj[target.slice('x_proj_'.length) as 'dt' | 'B' | 'C']
    ) as readonly [number, number];
    return { target, module, start, end, inFeatures, outFeatures };
  };
  switch (target) {
    case 'in_proj':
      return whole('in_proj', dModel, 2 * dInner);
    case 'in_proj_x':
    case 'in_proj_z':
      return piece('in_proj', dModel, 2 * dInner);
    case 'x_proj':
      return whole('x_proj', dInner, dtRank + 2 * dState);
    case 'x_proj_dt':
    case 'x_proj_B':
    case 'x_proj_C':
      return piece('x_proj', dInner, dtRank + 2 * dState);
    case 'dt_proj':
      return whole('dt_proj', dtRank, dInner);
    case 'out_proj':
      return whole('out_proj', dInner, dModel);
  }
}

/**
 * Problems with `target_modules`: unknown names (with the nearest valid one) and a whole
 * projection targeted together with one of its pieces.
 */
export function loraTargetProblems(targets: readonly string[]): string[] {
  const problems: string[] = [];
  const valid: readonly string[] = LORA_TARGETS;
  for (const t of targets) {
    if (valid.includes(t)) continue;
    const near = nearest(t, LORA_TARGETS);
    problems.push(
      `"target_modules" names "${t}", which LoRA cannot target${near ? ` (did you mean "${near}"?)` : ''}; valid: ${LORA_TARGETS.join(', ')}`,
    );
  }
  for (const whole of ['in_proj', 'x_proj']) {
    const pieces = targets.filter((t) => t.startsWith(`${whole}_`) && valid.includes(t));
    if (targets.includes(whole) && pieces.length > 0) {
      problems.push(
        `"target_modules" names "${whole}" and its piece(s) ${pieces.map((p) => `"${p}"`).join(', ')}; target the whole projection or its pieces, not both`,
      );
    }
  }
  return problems;
}

/** The targets of a config in model order (the order of {@link LORA_TARGETS}). */
function orderedTargets(config: LoraConfig): LoraTarget[] {
  return LORA_TARGETS.filter((t) => config.target_modules.includes(t));
}

/** The number of parameters a LoRA config trains on a model of this config. */
export function countLoraParameters(model: MambaConfig, config: LoraConfig): number {
  let perLayer = 0;
  for (const t of orderedTargets(config)) {
    const s = loraTargetSpec(model, t);
    perLayer += config.r * (s.inFeatures + s.end - s.start);
  }
  return layerCount(model.nLayer, config.layers_to_transform) * perLayer;
}

/**
 * LoRA on a model: for each targeted projection (or piece of a fused one) of each covered
 * layer, `lora_A` (r, in) and `lora_B` (rows, r), saved as
 * `backbone.layers.{i}.mixer.<target>.lora_A.weight` and `.lora_B.weight`. The projection
 * is replaced by a {@link LoraLayer} (shared with other LoRA adapters on the same model) that
 * adds `(lora_alpha / r) * dropout(x) A^T B^T` to the piece's output rows while this adapter
 * is active.
 */
export class LoraAdapter extends WrapperAdapter<LoraConfig, LoraLayer> {
  constructor(model: MambaForCausalLM, name: string, config: LoraConfig, options: CreateOptions) {
    super(model, name, config);
    const problems = loraTargetProblems(config.target_modules);
    if (problems.length > 0) throw new PeftError(`adapter "${name}": ${problems.join('; ')}`);
    const g: Generator = options.generator;
    const { r } = config;
    const scale = config.lora_alpha / r;
    const targets = orderedTargets(config);
    for (const layer of selectedLayers(model, config.layers_to_transform, name)) {
      const key = mixerKey(layer);
      const byModule = new Map<LoraModule, LoraPiece[]>();
      for (const target of targets) {
        const s = loraTargetSpec(model.config, target);
        const rows = s.end - s.start;
        const A = this.registerAt(
          `${key}.${target}.lora_A.weight`,
          kaimingUniform([r, s.inFeatures], s.inFeatures, g),
        );
        // B = 0 so the model starts as the base model; false draws it too (tests, checks).
        const B = this.registerAt(
          `${key}.${target}.lora_B.weight`,
          config.init_lora_weights ? zeros([rows, r]) : kaimingUniform([rows, r], r, g),
        );
        const piece: LoraPiece = {
          target,
          start: s.start,
          end: s.end,
          A,
          B,
          scale,
          dropout: config.lora_dropout,
          generator: g,
        };
        byModule.set(s.module, [...(byModule.get(s.module) ?? []), piece]);
      }
      for (const [module, pieces] of byModule) {
        const path = `${key}.${module}`;
        const wrapper = wrapperAt(model, path, LoraLayer, (base) => new LoraLayer(base, path));
        const s = loraTargetSpec(model.config, pieces[0].target);
        if (wrapper.outFeatures !== s.outFeatures || wrapper.inFeatures !== s.inFeatures) {
          throw new PeftError(
            `${path}: weight is [${wrapper.weight.shape}] but the model config says [${s.outFeatures},${s.inFeatures}]`,
          );
        }
        wrapper.addPieces(name, pieces);
        this.wrappers.push(wrapper);
      }
    }
  }
}
