import type { MambaConfig, MambaForCausalLM } from '@statetune/mamba';
import { noGrad } from '@statetune/tensor';
import { PeftError } from '../../errors.js';
import { layerCount, mixerKey, selectedLayers } from '../../init.js';
import { nearest } from '../../schema.js';
import { WrapperAdapter, wrapperAt } from '../../wrapper.js';
import { BITFIT_TARGETS, type BitFitConfig } from './config.js';
import { BitFitLayer } from './layer.js';

/** A mixer module whose bias BitFit can train. */
export type BitFitTarget = (typeof BITFIT_TARGETS)[number];

/** Problems with `target_modules`: unknown names, with the nearest valid one. */
export function bitFitTargetProblems(targets: readonly string[]): string[] {
  const valid: readonly string[] = BITFIT_TARGETS;
  return targets
    .filter((t) => !valid.includes(t))
    .map((t) => {
      const near = nearest(t, BITFIT_TARGETS);
      return `"target_modules" names "${t}", which has no bias BitFit can train${near ? ` (did you mean "${near}"?)` : ''}; valid: ${BITFIT_TARGETS.join(', ')}`;
    });
}

/**
 * The size of a target's bias on a model of this config, or an error when it has none
 * (naming `where`, e.g. the adapter).
 */
function biasSize(model: MambaConfig, target: BitFitTarget, where = 'BitFit'): number {
  const none = (flag: string) =>
    new PeftError(
      `${where}: target_modules names "${target}" but the model has no bias there (${flag} is false); drop it from target_modules`,
    );
  switch (target) {
    case 'conv1d':
      if (!model.convBias) throw none('use_conv_bias');
      return model.dInner;
    case 'dt_proj':
      return model.dInner;
    case 'in_proj':
      if (!model.useBias) throw none('use_bias');
      return 2 * model.dInner;
    case 'out_proj':
      if (!model.useBias) throw none('use_bias');
      return model.dModel;
  }
}

/** The targets of a config in model order. */
function orderedTargets(config: BitFitConfig): BitFitTarget[] {
  const order: BitFitTarget[] = ['in_proj', 'conv1d', 'dt_proj', 'out_proj'];
  return order.filter((t) => config.target_modules.includes(t));
}

/** The number of parameters a BitFit config trains on a model of this config. */
export function countBitFitParameters(model: MambaConfig, config: BitFitConfig): number {
  const perLayer = orderedTargets(config).reduce((n, t) => n + biasSize(model, t), 0);
  return layerCount(model.nLayer, config.layers_to_transform) * perLayer;
}

/**
 * BitFit on a model: trainable copies of the biases of the targeted modules, initialised to
 * the base values and saved as `backbone.layers.{i}.mixer.<module>.bias`. The base biases
 * never change while it trains: each targeted module is replaced by a {@link BitFitLayer}
 * that uses the copy while the adapter is active. {@link BitFitAdapter.merge} writes the
 * copies into the base biases.
 */
export class BitFitAdapter extends WrapperAdapter<BitFitConfig, BitFitLayer> {
  constructor(model: MambaForCausalLM, name: string, config: BitFitConfig) {
    super(model, name, config);
    const problems = bitFitTargetProblems(config.target_modules);
    if (problems.length > 0) throw new PeftError(`adapter "${name}": ${problems.join('; ')}`);
    const targets = orderedTargets(config);
    for (const t of targets) biasSize(model.config, t, `BITFIT adapter "${name}"`);
    for (const layer of selectedLayers(model, config.layers_to_transform, name)) {
      const key = mixerKey(layer);
      for (const target of targets) {
        const path = `${key}.${target}`;
        const wrapper = wrapperAt(model, path, BitFitLayer, (base) => new BitFitLayer(base, path));
        const copy = noGrad(() => wrapper.baseBias.clone());
        wrapper.addCopy(name, this.registerAt(`${path}.bias`, copy));
        this.wrappers.push(wrapper);
      }
    }
  }
}
