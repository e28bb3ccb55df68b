import {
  causalConv1d,
  Embedding,
  type Generator,
  Linear,
  Module,
  ModuleList,
  noGrad,
  RMSNorm,
  rand,
  selectiveScan,
  type Tensor,
  tensor,
} from '@statetune/tensor';

/** Writes an initial value into a parameter (outside autograd, as torch.no_grad()). */
function setInitial(param: Tensor, value: Tensor): void {
  noGrad(() => param.assign(value));
}

/** Sizes of the tiny model. */
export interface TinyMambaConfig {
  readonly vocabSize: number;
  readonly dModel: number;
  readonly nLayer: number;
  readonly dState: number;
  readonly dConv: number;
  readonly expand: number;
}

/**
 * One Mamba mixer written with the tensor core's ops, top to bottom: in_proj to x and z,
 * causal depthwise conv + SiLU, x_proj to dt, B, C, dt_proj, then the selective scan with
 * the softplus, D skip and silu(z) gate fused, and out_proj. (The full model with checkpoint
 * loading and PEFT hooks is @statetune/mamba; this one exists to exercise the core.)
 */
class Mixer extends Module {
  readonly dInner: number;
  readonly dtRank: number;
  readonly inProj: Linear;
  readonly conv1dWeight: Tensor;
  readonly conv1dBias: Tensor;
  readonly xProj: Linear;
  readonly dtProj: Linear;
  readonly aLog: Tensor;
  readonly d: Tensor;
  readonly outProj: Linear;

  constructor(
    private readonly cfg: TinyMambaConfig,
    generator: Generator,
  ) {
    super();
    const dInner = cfg.expand * cfg.dModel;
    const dtRank = Math.ceil(cfg.dModel / 16);
    this.dInner = dInner;
    this.dtRank = dtRank;
    this.inProj = this.registerModule(
      'in_proj',
      new Linear(cfg.dModel, 2 * dInner, { bias: false, generator }),
    );
    const bound = 1 / Math.sqrt(cfg.dConv);
    this.conv1dWeight = this.registerParameter(
      'conv1d_weight',
      rand([dInner, 1, cfg.dConv], { low: -bound, high: bound, generator }),
    );
    this.conv1dBias = this.registerParameter(
      'conv1d_bias',
      rand([dInner], { low: -bound, high: bound, generator }),
    );
    this.xProj = this.registerModule(
      'x_proj',
      new Linear(dInner, dtRank + 2 * cfg.dState, { bias: false, generator }),
    );
    this.dtProj = this.registerModule('dt_proj', new Linear(dtRank, dInner, { generator }));
    // Mamba's initialisation: dt_proj weight U(+-dt_rank^-0.5); its bias is the inverse
    // softplus of a step size drawn log-uniformly in [0.001, 0.1].
    const w = dtRank ** -0.5;
    setInitial(this.dtProj.weight, rand([dInner, dtRank], { low: -w, high: w, generator }));
    const u = rand([dInner], { generator }).dataSync();
    const bias = Array.from(u, (v) => {
      const dt = Math.max(Math.exp(v * (Math.log(0.1) - Math.log(0.001)) + Math.log(0.001)), 1e-4);
      return dt + Math.log(-Math.expm1(-dt));
    });
    setInitial(this.dtProj.bias as Tensor, tensor(bias));
    // A = -[1..N] per channel (S4D-real), stored as its log; D = 1.
    const aLog = new Float32Array(dInner * cfg.dState);
    for (let i = 0; i < aLog.length; i++) aLog[i] = Math.log((i % cfg.dState) + 1);
    this.aLog = this.registerParameter('A_log', tensor(aLog, { shape: [dInner, cfg.dState] }));
    this.d = this.registerParameter('D', tensor(new Float32Array(dInner).fill(1)));
    this.outProj = this.registerModule(
      'out_proj',
      new Linear(dInner, cfg.dModel, { bias: false, generator }),
    );
    // Residual branches start small, as Mamba rescales out_proj by 1/sqrt(n_layer).
    setInitial(this.outProj.weight, this.outProj.weight.div(Math.sqrt(cfg.nLayer)));
  }

  /** (batch, len, dModel) -> (batch, len, dModel) */
  forward(h: Tensor): Tensor {
    const { dState } = this.cfg;
    const [x, z] = this.inProj.forward(h).transpose(1, 2).split([this.dInner, this.dInner], 1);
    const xc = causalConv1d(x, this.conv1dWeight, this.conv1dBias).silu();
    const [dtIn, B, C] = this.xProj
      .forward(xc.transpose(1, 2))
      .split([this.dtRank, dState, dState], 2);
    const delta = this.dtProj.forward(dtIn).transpose(1, 2);
    const { y } = selectiveScan({
      u: xc,
      delta,
      A: this.aLog.exp().neg(),
      B: B.transpose(1, 2),
      C: C.transpose(1, 2),
      D: this.d,
      z,
      deltaSoftplus: true,
    });
    return this.outProj.forward(y.transpose(1, 2));
  }
}

class Block extends Module {
  readonly norm: RMSNorm;
  readonly mixer: Mixer;

  constructor(cfg: TinyMambaConfig, generator: Generator) {
    super();
    this.norm = this.registerModule('norm', new RMSNorm(cfg.dModel));
    this.mixer = this.registerModule('mixer', new Mixer(cfg, generator));
  }

  forward(residual: Tensor): Tensor {
    return residual.add(this.mixer.forward(this.norm.forward(residual)));
  }
}

/** Embedding, pre-norm residual Mamba blocks, final RMSNorm, head tied to the embedding. */
export class TinyMamba extends Module {
  readonly embedding: Embedding;
  readonly layers: ModuleList<Block>;
  readonly normF: RMSNorm;

  constructor(
    readonly config: TinyMambaConfig,
    generator: Generator,
  ) {
    super();
    this.embedding = this.registerModule(
      'embedding',
      new Embedding(config.vocabSize, config.dModel, { generator }),
    );
    setInitial(this.embedding.weight, this.embedding.weight.mul(0.02));
    this.layers = this.registerModule(
      'layers',
      new ModuleList(Array.from({ length: config.nLayer }, () => new Block(config, generator))),
    );
    this.normF = this.registerModule('norm_f', new RMSNorm(config.dModel));
  }

  /** Logits (batch, len, vocab) for int32 token ids (batch, len). */
  forward(ids: Tensor): Tensor {
    let h = this.embedding.forward(ids);
    for (const layer of this.layers) h = layer.forward(h);
    return this.normF.forward(h).matmul(this.embedding.weight.transpose());
  }
}
