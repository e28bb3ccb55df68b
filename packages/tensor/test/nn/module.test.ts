import { describe, expect, it } from 'vitest';
import {
  Conv1d,
  CpuBackend,
  Dropout,
  Embedding,
  Generator,
  Linear,
  Module,
  ModuleList,
  RMSNorm,
  type Tensor,
  tensor,
  zeros,
} from '../../src/index.js';
import { setValue, values } from '../helpers.js';

// A Mamba-shaped toy: embedding, a list of blocks (norm + mixer), final norm; parameters named
// as the Hugging Face checkpoint names them.

class Mixer extends Module {
  readonly inProj: Linear;
  readonly conv1d: Conv1d;
  readonly outProj: Linear;
  readonly D: Tensor;

  constructor(dim: number, g: Generator) {
    super();
    this.inProj = this.registerModule('in_proj', new Linear(dim, 2 * dim, { generator: g }));
    this.conv1d = this.registerModule('conv1d', new Conv1d(2 * dim, 3, { generator: g }));
    this.outProj = this.registerModule(
      'out_proj',
      new Linear(2 * dim, dim, { bias: false, generator: g }),
    );
    this.D = this.registerParameter('D', tensor([1, 1, 1, 1, 1, 1, 1, 1].slice(0, 2 * dim)));
    this.registerBuffer('A_log', zeros([2 * dim]));
  }

  /** (len, dim) -> (len, dim). */
  forward(x: Tensor): Tensor {
    const h = this.inProj.forward(x).transpose().unsqueeze(0);
    const c = this.conv1d.forward(h).squeeze(0).transpose();
    return this.outProj.forward(c.mul(this.D));
  }
}

class Block extends Module {
  readonly norm: RMSNorm;
  mixer: Mixer;
  readonly drop: Dropout;

  constructor(dim: number, g: Generator) {
    super();
    this.norm = this.registerModule('norm', new RMSNorm(dim));
    this.mixer = this.registerModule('mixer', new Mixer(dim, g));
    this.drop = this.registerModule('drop', new Dropout(0.5, { generator: g }));
  }

  forward(x: Tensor): Tensor {
    return x.add(this.drop.forward(this.mixer.forward(this.norm.forward(x))));
  }
}

class Toy extends Module {
  readonly embedding: Embedding;
  readonly layers: ModuleList<Block>;
  readonly normF: RMSNorm;

  constructor(dim = 4, nLayers = 2, seed = 0) {
    super();
    const g = new Generator(seed);
    this.embedding = this.registerModule('embedding', new Embedding(10, dim, { generator: g }));
    this.layers = this.registerModule(
      'layers',
      new ModuleList(Array.from({ length: nLayers }, () => new Block(dim, g))),
    );
    this.normF = this.registerModule('norm_f', new RMSNorm(dim));
  }

  forward(ids: Tensor): Tensor {
    let h = this.embedding.forward(ids);
    for (const layer of this.layers) h = layer.forward(h);
    return this.normF.forward(h);
  }
}

/** A LoRA-like wrapper that keeps the wrapped layer as `base`. */
class Wrapped extends Module {
  readonly base: Linear;
  readonly scale: Tensor;

  constructor(base: Linear) {
    super();
    this.base = this.registerModule('base', base);
    this.scale = this.registerParameter('scale', tensor([2]));
  }

  forward(x: Tensor): Tensor {
    return this.base.forward(x).mul(this.scale);
  }
}

const blockNames = (i: number) => [
  `layers.${i}.norm.weight`,
  `layers.${i}.mixer.D`,
  `layers.${i}.mixer.in_proj.weight`,
  `layers.${i}.mixer.in_proj.bias`,
  `layers.${i}.mixer.conv1d.weight`,
  `layers.${i}.mixer.conv1d.bias`,
  `layers.${i}.mixer.out_proj.weight`,
];
const allNames = ['embedding.weight', ...blockNames(0), ...blockNames(1), 'norm_f.weight'];

// dim 4: embedding 10*4, per block 4 + 8 + 8*4 + 8 + 8*3 + 8 + 4*8 = 116, norm_f 4.
const TOTAL = 40 + 2 * 116 + 4;

describe('Module names', () => {
  it('names parameters by dotted paths through nested modules and ModuleList', () => {
    const m = new Toy();
    expect(m.namedParameters().map(([n]) => n)).toEqual(allNames);
    expect(m.namedBuffers().map(([n]) => n)).toEqual([
      'layers.0.mixer.A_log',
      'layers.1.mixer.A_log',
    ]);
    expect(m.namedParameters('model.')[0][0]).toBe('model.embedding.weight');
    const [name, t] = m.namedParameters()[3];
    expect(name).toBe('layers.0.mixer.in_proj.weight');
    expect(t).toBe(m.layers.at(0).mixer.inProj.weight);
    expect(m.parameters()[3]).toBe(t);
    expect(m.getTensor('layers.1.mixer.conv1d.bias')).toBe(m.layers.at(1).mixer.conv1d.bias);
    expect(m.getTensor('layers.1.mixer.A_log').shape).toEqual([8]);
    expect(() => m.getTensor('layers.1.mixer.nope')).toThrow(
      /no parameter or buffer "layers.1.mixer.nope"/,
    );
  });

  it('lists modules and children by name', () => {
    const m = new Toy();
    const names = m.namedModules().map(([n]) => n);
    expect(names.slice(0, 5)).toEqual(['', 'embedding', 'layers', 'layers.0', 'layers.0.norm']);
    expect(names).toContain('layers.1.mixer.out_proj');
    expect(names).toContain('norm_f');
    expect(m.namedChildren().map(([n]) => n)).toEqual(['embedding', 'layers', 'norm_f']);
    expect(m.layers.length).toBe(2);
    expect([...m.layers]).toEqual([m.layers.at(0), m.layers.at(1)]);
    expect(() => m.layers.at(2)).toThrow(/index 2 is out of range for 2 modules/);
  });

  it('rejects member names that are empty or dotted', () => {
    class Bad extends Module {
      constructor(name: string) {
        super();
        this.registerParameter(name, zeros([1]));
      }
    }
    expect(() => new Bad('a.b')).toThrow(/no dots, got "a.b"/);
    expect(() => new Bad('')).toThrow(/non-empty/);
  });

  it('counts and lists a tensor shared by two modules once (tied weights)', () => {
    class Tied extends Module {
      constructor() {
        super();
        const shared = new Linear(3, 2);
        this.registerModule('a', shared);
        this.registerModule('b', shared);
        this.registerModule('c', new Linear(3, 1, { bias: false }));
      }
    }
    const m = new Tied();
    expect(m.namedParameters().map(([n]) => n)).toEqual(['a.weight', 'a.bias', 'c.weight']);
    expect(m.parameters()).toHaveLength(3);
    expect(m.numParameters()).toBe(6 + 2 + 3);
    // The state dict keeps every name, as PyTorch's state_dict does.
    expect([...m.stateDict().keys()]).toEqual([
      'a.weight',
      'a.bias',
      'b.weight',
      'b.bias',
      'c.weight',
    ]);
  });
});

describe('Module parameters', () => {
  it('counts parameter elements, all or trainable only', () => {
    const m = new Toy();
    expect(m.numParameters()).toBe(TOTAL);
    expect(m.numParameters({ trainableOnly: true })).toBe(TOTAL);
    expect(m.parameters().every((p) => p.requiresGrad && p.isLeaf)).toBe(true);
  });

  it('freezes and unfreezes parameters here and below', () => {
    const m = new Toy();
    m.freeze();
    expect(m.trainableParameters()).toEqual([]);
    expect(m.numParameters({ trainableOnly: true })).toBe(0);
    m.layers.at(1).mixer.inProj.unfreeze();
    expect(m.trainableParameters()).toEqual([
      m.layers.at(1).mixer.inProj.weight,
      m.layers.at(1).mixer.inProj.bias,
    ]);
    expect(m.numParameters({ trainableOnly: true })).toBe(8 * 4 + 8);
    expect(m.numParameters()).toBe(TOTAL);
    m.unfreeze();
    expect(m.trainableParameters()).toHaveLength(allNames.length);
  });

  it('sends gradients only to trainable parameters, and zeroGrad drops them', () => {
    const m = new Toy();
    m.eval();
    m.freeze();
    m.layers.at(0).mixer.unfreeze();
    m.forward(tensor([1, 2, 3], { dtype: 'int32' }))
      .square()
      .sum()
      .backward();
    for (const [name, p] of m.namedParameters()) {
      if (name.startsWith('layers.0.mixer.')) {
        expect(p.grad, name).not.toBeNull();
        expect(p.grad?.shape).toEqual(p.shape);
        expect(
          values(p.grad as Tensor).some((v) => v !== 0),
          name,
        ).toBe(true);
      } else {
        expect(p.grad, name).toBeNull();
      }
    }
    m.zeroGrad();
    expect(m.parameters().every((p) => p.grad === null)).toBe(true);
  });

  it('propagates train() and eval() to every module below', () => {
    const m = new Toy();
    expect(m.namedModules().every(([, sub]) => sub.training)).toBe(true);
    m.eval();
    expect(m.namedModules().every(([, sub]) => !sub.training)).toBe(true);
    m.layers.at(1).train();
    expect(m.training).toBe(false);
    expect(m.layers.at(1).drop.training).toBe(true);
    expect(m.layers.at(0).drop.training).toBe(false);
    m.train();
    expect(m.namedModules().every(([, sub]) => sub.training)).toBe(true);
    m.train(false);
    expect(m.layers.at(0).mixer.training).toBe(false);
  });

  it('is deterministic in eval mode and random through dropout in training mode', () => {
    const m = new Toy();
    const ids = tensor([0, 5, 9, 5], { dtype: 'int32' });
    m.eval();
    const a = values(m.forward(ids));
    expect(values(m.forward(ids))).toEqual(a);
    m.train();
    expect(values(m.forward(ids))).not.toEqual(a);
  });
});

describe('Module state dicts', () => {
  it('holds the parameters and buffers themselves under their dotted names', () => {
    const m = new Toy();
    const sd = m.stateDict();
    expect([...sd.keys()]).toEqual([...allNames, 'layers.0.mixer.A_log', 'layers.1.mixer.A_log']);
    expect(sd.get('norm_f.weight')).toBe(m.normF.weight);
  });

  it('loads values in place, converting dtypes', () => {
    const src = new Toy(4, 2, 1);
    const dst = new Toy(4, 2, 2);
    const before = dst.layers.at(0).mixer.inProj.weight;
    expect(values(before)).not.toEqual(values(src.layers.at(0).mixer.inProj.weight));
    // Send the values as float64 (and one as int32): they are written into the float32 tensors.
    const dict = new Map<string, Tensor>();
    for (const [n, t] of src.stateDict()) dict.set(n, t.cast('float64'));
    dict.set('norm_f.weight', tensor([1, 2, 3, 4], { dtype: 'int32' }));
    dict.set(
      'layers.1.mixer.A_log',
      tensor([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], { dtype: 'float64' }),
    );
    const result = dst.loadStateDict(dict);
    expect(result).toEqual({ missing: [], unexpected: [] });
    expect(dst.layers.at(0).mixer.inProj.weight).toBe(before);
    expect(before.dtype).toBe('float32');
    for (const [n, t] of src.namedParameters()) {
      if (n === 'norm_f.weight') continue;
      expect(values(dst.getTensor(n)), n).toEqual(values(t));
    }
    expect(values(dst.normF.weight)).toEqual([1, 2, 3, 4]);
    expect(values(dst.getTensor('layers.1.mixer.A_log'))).toEqual(
      Array.from(new Float32Array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])),
    );
    const ids = tensor([3, 1], { dtype: 'int32' });
    src.eval();
    dst.eval();
    setValue(src.normF.weight, tensor([1, 2, 3, 4]));
    expect(values(dst.forward(ids))).toEqual(values(src.forward(ids)));
  });

  it('accepts a plain object', () => {
    const m = new Linear(2, 1);
    m.loadStateDict({ weight: tensor([[3, 4]]), bias: tensor([5]) });
    expect(values(m.weight)).toEqual([3, 4]);
    expect(values(m.bias as Tensor)).toEqual([5]);
  });

  it('names missing, unexpected and mis-shaped tensors, and writes nothing', () => {
    const m = new Toy();
    const snapshot = new Map([...m.stateDict()].map(([n, t]) => [n, values(t)]));
    const dict = new Map<string, Tensor>();
    for (const [n, t] of m.stateDict()) dict.set(n, t.add(1));
    dict.delete('layers.1.mixer.out_proj.weight');
    dict.set('layers.0.mixer.x_proj.weight', zeros([2, 2]));
    dict.set('layers.0.mixer.in_proj.weight', zeros([4, 8]));
    let message = '';
    try {
      m.loadStateDict(dict);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(
      /layers\.0\.mixer\.in_proj\.weight: expected shape \[8, 4\], got \[4, 8\]/,
    );
    expect(message).toMatch(/missing: layers\.1\.mixer\.out_proj\.weight/);
    expect(message).toMatch(/unexpected: layers\.0\.mixer\.x_proj\.weight/);
    for (const [n, t] of m.stateDict()) expect(values(t), n).toEqual(snapshot.get(n));
  });

  it('fails on a shape mismatch alone, writing nothing', () => {
    const m = new Linear(2, 3);
    const w = values(m.weight);
    expect(() => m.loadStateDict({ weight: zeros([3, 2]), bias: zeros([2]) })).toThrow(
      /bias: expected shape \[3\], got \[2\]/,
    );
    expect(values(m.weight)).toEqual(w);
  });

  it('copies from another backend through the host, and names a disposed tensor', () => {
    const m = new Linear(2, 1);
    const other = new CpuBackend();
    const w = tensor([[7, 8]], { backend: other });
    const b = tensor([9], { backend: other });
    expect(w.backend).not.toBe(m.weight.backend);
    m.loadStateDict({ weight: w, bias: b });
    expect(values(m.weight)).toEqual([7, 8]);
    expect(values(m.bias as Tensor)).toEqual([9]);
    expect(m.weight.backend).not.toBe(other);

    const gone = tensor([1]);
    gone.dispose();
    expect(() => m.loadStateDict({ weight: tensor([[1, 2]]), bias: gone })).toThrow(
      /bias: the tensor given was disposed/,
    );
    expect(values(m.weight)).toEqual([7, 8]);
  });

  it('with strict false, reports missing and unexpected names and loads the rest', () => {
    const m = new Linear(2, 3);
    const result = m.loadStateDict(
      {
        weight: tensor([
          [1, 2],
          [3, 4],
          [5, 6],
        ]),
        extra: zeros([1]),
      },
      { strict: false },
    );
    expect(result).toEqual({ missing: ['bias'], unexpected: ['extra'] });
    expect(values(m.weight)).toEqual([1, 2, 3, 4, 5, 6]);
    // A shape mismatch is still an error.
    expect(() => m.loadStateDict({ weight: zeros([2, 3]) }, { strict: false })).toThrow(
      /weight: expected shape \[3, 2\], got \[2, 3\]/,
    );
    expect(values(m.weight)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('Module submodules', () => {
  it('finds modules by dotted path and says where a path stops', () => {
    const m = new Toy();
    expect(m.getSubmodule('')).toBe(m);
    expect(m.getSubmodule('layers.1.mixer.in_proj')).toBe(m.layers.at(1).mixer.inProj);
    expect(m.getSubmodule('layers.0')).toBe(m.layers.at(0));
    expect(() => m.getSubmodule('layers.0.mixer.x_proj')).toThrow(
      /no module "layers.0.mixer.x_proj" \(stopped at "x_proj"; children there: in_proj, conv1d, out_proj\)/,
    );
    expect(() => m.getSubmodule('layers.7')).toThrow(/stopped at "7"; children there: 0, 1/);
  });

  it('replaces a child: the field follows and the new parameters take its name', () => {
    const m = new Toy();
    const mixer = m.layers.at(1).mixer;
    const old = mixer.inProj;
    const wrapper = new Wrapped(old);
    m.setSubmodule('layers.1.mixer.in_proj', wrapper);
    expect(mixer.inProj).toBe(wrapper);
    expect(m.getSubmodule('layers.1.mixer.in_proj')).toBe(wrapper);
    const names = m.namedParameters().map(([n]) => n);
    expect(names).toContain('layers.1.mixer.in_proj.base.weight');
    expect(names).toContain('layers.1.mixer.in_proj.scale');
    expect(names).not.toContain('layers.1.mixer.in_proj.weight');
    expect(m.getTensor('layers.1.mixer.in_proj.base.weight')).toBe(old.weight);
    // Position among the siblings is kept.
    expect(mixer.namedChildren().map(([n]) => n)).toEqual(['in_proj', 'conv1d', 'out_proj']);
    expect(m.numParameters()).toBe(TOTAL + 1);

    // The forward pass goes through the wrapper (scale 2 doubles in_proj's output).
    const x = tensor([[0.5, -1, 2, 0.25]]);
    const viaOld = values(old.forward(x));
    const viaNew = values(mixer.inProj.forward(x));
    viaNew.forEach((v, i) => {
      expect(v).toBeCloseTo(2 * viaOld[i], 6);
    });
  });

  it('replaces an item of a ModuleList, in its field and its iteration', () => {
    const m = new Toy();
    const fresh = new Block(4, new Generator(99));
    m.setSubmodule('layers.0', fresh);
    expect(m.layers.at(0)).toBe(fresh);
    expect([...m.layers][0]).toBe(fresh);
    expect(m.getTensor('layers.0.mixer.in_proj.weight')).toBe(fresh.mixer.inProj.weight);
    expect(m.namedParameters().map(([n]) => n)).toEqual(allNames);
  });

  it('refuses to replace a module that is not there', () => {
    const m = new Toy();
    expect(() => m.setSubmodule('layers.0.mixer.x_proj', new Linear(1, 1))).toThrow(
      /no module "layers.0.mixer.x_proj" to replace/,
    );
    expect(() => m.setSubmodule('layers.5.mixer', new Linear(1, 1))).toThrow(/stopped at "5"/);
  });
});
