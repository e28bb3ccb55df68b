import { type Generator, Linear, noGrad, rand, tensor } from '@statetune/tensor';
import type { MambaMixer } from './mixer.js';

/**
 * Mamba's own initialisation of a mixer (`mamba_simple.Mamba.__init__` and
 * `MambaLMHeadModel._init_weights`), after the layers' PyTorch-default init:
 * - `dt_proj.weight` ~ U(-s, s) (or = s for `dtInit: 'constant'`), s = dtRank^-0.5 * dtScale;
 * - `dt_proj.bias` = softplus^-1(dt), dt log-uniform in [dtMin, dtMax], floored at
 *   dtInitFloor, so softplus(bias) starts in that range;
 * - `A_log[d, n]` = log(n + 1) (S4D-real), `D` = 1;
 * - projection biases zero; `out_proj.weight` divided by sqrt(nLayer), the rescaling of the
 *   residual branch (one residual per layer).
 */
export function initMixer(mixer: MambaMixer, generator?: Generator): void {
  const c = mixer.config;
  const { dInner, dState, dtRank } = c;
  noGrad(() => {
    const dtProj = mixer.dt_proj as Linear;
    const std = dtRank ** -0.5 * c.dtScale;
    if (c.dtInit === 'constant') dtProj.weight.assign(tensor(std));
    else dtProj.weight.assign(rand(dtProj.weight.shape, { low: -std, high: std, generator }));

    // On the model's backend (no host round trip), as the reference does it in float32.
    const lo = Math.log(c.dtMin);
    const hi = Math.log(c.dtMax);
    const dt = rand([dInner], { generator })
      .mul(hi - lo)
      .add(lo)
      .exp()
      .clamp(c.dtInitFloor);
    // softplus^-1(dt) = dt + log(1 - exp(-dt)) = dt + log(-expm1(-dt))
    dtProj.bias?.assign(dt.add(dt.neg().expm1().neg().log()));

    const aLog = new Float32Array(dInner * dState);
    for (let d = 0; d < dInner; d++) {
      for (let n = 0; n < dState; n++) aLog[d * dState + n] = Math.log(n + 1);
    }
    mixer.A_log.assign(tensor(aLog, { shape: [dInner, dState] }));
    mixer.D.assign(tensor(1));

    for (const proj of [mixer.in_proj, mixer.out_proj]) {
      if (proj instanceof Linear && proj.bias) proj.bias.assign(tensor(0));
    }
    const out = mixer.out_proj as Linear;
    out.weight.assign(out.weight.div(Math.sqrt(c.nLayer)));
  });
}
