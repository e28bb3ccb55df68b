import { describe, expect, it } from 'vitest';
import {
  AdamW,
  Generator,
  Linear,
  LrScheduler,
  linearSchedule,
  type Optimizer,
  type OptimizerState,
  optimizerStateFromTensors,
  optimizerStateToTensors,
  randn,
  SGD,
  type Tensor,
  tensor,
  tensorsFromSafetensors,
  tidy,
} from '../../src/index.js';
import { serializeSafetensors } from '../../src/io/safetensors.js';
import { setValue, values } from '../helpers.js';

/** Three float64 parameters; the third gets a gradient only from step 2 on. */
function makeParams(): Tensor[] {
  return [
    tensor(
      [
        [0.5, -1],
        [2, 0.25],
      ],
      { dtype: 'float64', requiresGrad: true },
    ),
    tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true }),
    tensor([-0.5], { dtype: 'float64', requiresGrad: true }),
  ];
}

/** One training step: a loss that depends on the step number, backward, update. */
function trainStep(opt: Optimizer<{ lr: number }>, ps: Tensor[], step: number): void {
  opt.zeroGrad();
  let loss = ps[0]
    .sub(step * 0.1)
    .square()
    .sum()
    .add(
      ps[1]
        .square()
        .mul(step + 1)
        .sum(),
    );
  if (step >= 2) loss = loss.add(ps[2].sub(1).square().sum());
  loss.backward();
  opt.step();
}

type Make = (ps: Tensor[]) => Optimizer<{ lr: number }>;
const makers: [string, Make][] = [
  [
    'AdamW',
    (ps) =>
      new AdamW(
        [{ params: ps.slice(0, 2) }, { params: ps.slice(2), options: { weightDecay: 0 } }],
        { lr: 0.05 },
      ),
  ],
  [
    'SGD',
    (ps) =>
      new SGD([{ params: ps.slice(0, 2) }, { params: ps.slice(2), options: { lr: 0.3 } }], {
        lr: 0.1,
        momentum: 0.9,
        dampening: 0.2,
      }),
  ],
];

describe('optimizer state dicts', () => {
  it.each(makers)(
    '%s: 2 steps, save, load into a fresh optimizer, 2 more = 4 uninterrupted steps',
    (_, make) => {
      const straight = makeParams();
      const straightOpt = make(straight);
      for (let s = 1; s <= 4; s++) trainStep(straightOpt, straight, s);

      const first = makeParams();
      const firstOpt = make(first);
      for (let s = 1; s <= 2; s++) trainStep(firstOpt, first, s);
      const saved = firstOpt.stateDict();
      const savedValues = first.map(values);
      // The saved state holds copies: further steps of the old optimizer do not change it.
      trainStep(firstOpt, first, 3);

      const resumed = makeParams();
      resumed.forEach((p, i) => {
        setValue(p, tensor(savedValues[i], { dtype: 'float64', shape: p.shape }));
      });
      const resumedOpt = make(resumed);
      resumedOpt.loadStateDict(saved);
      expect(resumedOpt.stepCount).toBe(2);
      for (let s = 3; s <= 4; s++) trainStep(resumedOpt, resumed, s);

      resumed.forEach((p, i) => {
        expect(values(p), `parameter ${i}`).toEqual(values(straight[i]));
      });
      expect(values(resumed[0])).not.toEqual(savedValues[0]);
    },
  );

  it.each(makers)('%s: the state survives a safetensors file round trip', (_, make) => {
    const straight = makeParams();
    const straightOpt = make(straight);
    for (let s = 1; s <= 4; s++) trainStep(straightOpt, straight, s);

    const first = makeParams();
    const firstOpt = make(first);
    for (let s = 1; s <= 2; s++) trainStep(firstOpt, first, s);
    const { tensors, metadata } = optimizerStateToTensors(firstOpt.stateDict());
    const parsed = tensorsFromSafetensors(
      serializeSafetensors(
        Object.fromEntries(
          [...tensors].map(([k, t]) => [
            k,
            { dtype: t.dtype, shape: t.shape, values: t.dataSync() },
          ]),
        ),
        metadata,
      ),
    );
    const resumedOpt = make(first);
    resumedOpt.loadStateDict(optimizerStateFromTensors(parsed.tensors, parsed.metadata));
    for (let s = 3; s <= 4; s++) trainStep(resumedOpt, first, s);
    first.forEach((p, i) => {
      expect(values(p), `parameter ${i}`).toEqual(values(straight[i]));
    });
  });

  it('names what is wrong with a file that is not an optimizer state', () => {
    expect(() => optimizerStateFromTensors(new Map(), {}, 'run/optimizer.safetensors')).toThrow(
      /run\/optimizer.safetensors: no "statetune.optimizer" metadata/,
    );
    expect(() =>
      optimizerStateFromTensors(new Map(), { 'statetune.optimizer': '{' }, 'x.safetensors'),
    ).toThrow(/x.safetensors: "statetune.optimizer" metadata is not valid JSON/);
    const meta = optimizerStateToTensors(new SGD(makeParams()).stateDict()).metadata;
    expect(() =>
      optimizerStateFromTensors(new Map([['weights', tensor([1])]]), meta, 'y.safetensors'),
    ).toThrow(/y.safetensors: unexpected tensor "weights"/);
  });

  it('restores scheduled learning rates with the scheduler state', () => {
    const ps = makeParams();
    const opt = new AdamW(ps, { lr: 0.1 });
    const sched = new LrScheduler(opt, linearSchedule(2, 10));
    for (let s = 1; s <= 3; s++) {
      trainStep(opt, ps, s);
      sched.step();
    }
    const state = opt.stateDict();
    const fresh = new AdamW(makeParams(), { lr: 0.1 });
    fresh.loadStateDict(state);
    expect(fresh.groups[0].hyper.lr).toBeCloseTo(0.1 * (7 / 8), 15);
    const freshSched = new LrScheduler(fresh, linearSchedule(2, 10));
    freshSched.loadStateDict(sched.stateDict());
    expect(freshSched.lastLr).toEqual(sched.lastLr);
  });

  it('converts saved slots to the parameters dtype', () => {
    const p64 = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const opt64 = new AdamW([p64], { lr: 0.1 });
    p64.grad = tensor([0.5, -0.25], { dtype: 'float64' });
    opt64.step();
    const p32 = tensor([1, 2], { requiresGrad: true });
    const opt32 = new AdamW([p32], { lr: 0.1 });
    opt32.loadStateDict(opt64.stateDict());
    const slots = opt32.stateDict().slots.get(0) as Record<string, Tensor>;
    expect(slots.exp_avg.dtype).toBe('float32');
    expect(values(slots.exp_avg)).toEqual(Array.from(new Float32Array([0.05, -0.025])));
  });

  describe('load errors', () => {
    function adamState(): OptimizerState {
      const ps = makeParams();
      const opt = new AdamW(ps);
      trainStep(opt, ps, 2);
      return opt.stateDict();
    }

    it('names missing or unknown slots, bad hyperparameters and int slots, and changes nothing', () => {
      const state = adamState();
      const target = new AdamW(makeParams());
      const withSlots = (slots: OptimizerState['slots']): OptimizerState => ({ ...state, slots });
      const first = state.slots.get(0) as Record<string, Tensor>;
      expect(() =>
        target.loadStateDict(withSlots(new Map([[0, { exp_avg: first.exp_avg }]]))),
      ).toThrow(
        /saved slots of parameter 0 are \[exp_avg\]; this optimizer keeps \[exp_avg, exp_avg_sq\]/,
      );
      expect(() =>
        target.loadStateDict(
          withSlots(new Map([[0, { ...first, exp_avg: first.exp_avg.cast('int32') }]])),
        ),
      ).toThrow(/saved exp_avg of parameter 0 must be a float tensor/);
      const badGroups = (hyper: Record<string, number | boolean>): OptimizerState => ({
        ...state,
        groups: [{ ...state.groups[0], hyper: { ...state.groups[0].hyper, ...hyper } }],
      });
      expect(() => target.loadStateDict(badGroups({ beta1: 2 }))).toThrow(
        /beta1 must be in \[0, 1\), got 2/,
      );
      expect(() => target.loadStateDict(badGroups({ lr: true }))).toThrow(
        /lr = true, which is not a AdamW hyperparameter of type number/,
      );
      expect(() => target.loadStateDict(badGroups({ momentum: 0.9 }))).toThrow(/momentum = 0.9/);
      expect(target.stepCount).toBe(0);
      expect(target.groups[0].hyper.lr).toBe(1e-3);
    });

    it('names a state of another kind', () => {
      const sgd = new SGD(makeParams());
      expect(() => sgd.loadStateDict(adamState())).toThrow(
        /SGD: cannot load the state of a AdamW optimizer/,
      );
    });

    it('names mismatched group sizes', () => {
      const ps = makeParams();
      const opt = new AdamW([{ params: ps.slice(0, 1) }, { params: ps.slice(1) }]);
      expect(() => opt.loadStateDict(adamState())).toThrow(
        /the saved state has groups of sizes \[3\], this optimizer \[1, 2\]/,
      );
    });

    it('names the slot and parameter whose shape differs, and changes nothing', () => {
      const ps = [
        tensor(
          [
            [1, 2],
            [3, 4],
          ],
          { dtype: 'float64', requiresGrad: true },
        ),
        tensor([1, 2], { dtype: 'float64', requiresGrad: true }),
        tensor([0], { dtype: 'float64', requiresGrad: true }),
      ];
      ps[1].name = 'layers.0.bias';
      const opt = new AdamW(ps);
      opt.step();
      expect(() => opt.loadStateDict(adamState())).toThrow(
        /saved exp_avg of parameter 1 \(layers\.0\.bias\) has shape \[3\], the parameter \[2\]/,
      );
      expect(opt.stepCount).toBe(1);
    });

    it('names bad step counts', () => {
      const state = adamState();
      const opt = new AdamW(makeParams());
      expect(() => opt.loadStateDict({ ...state, step: -1 })).toThrow(
        /saved step must be a non-negative integer/,
      );
      expect(() => opt.loadStateDict({ ...state, paramSteps: new Map([[5, 1]]) })).toThrow(
        /step count for parameter 5, but there are 3/,
      );
      expect(() => opt.loadStateDict({ ...state, slots: new Map([[3, {}]]) })).toThrow(
        /slot for parameter 3, but there are 3/,
      );
    });
  });
});

describe('training end to end', () => {
  it('fits a linear regression with AdamW', () => {
    const g = new Generator(0);
    const n = 64;
    const x = randn([n, 3], { generator: g });
    const wTrue = tensor([[1.5, -2, 0.5]]);
    const y = x.matmul(wTrue.transpose()).add(0.7);
    const model = new Linear(3, 1, { generator: g });
    const opt = new AdamW(model.parameters(), { lr: 0.05, weightDecay: 0 });
    const mse = () => model.forward(x).sub(y).square().mean();
    const initial = mse().item();
    for (let s = 0; s < 300; s++) {
      tidy(() => {
        opt.zeroGrad();
        mse().backward();
        opt.step();
      });
    }
    const final = mse().item();
    expect(initial).toBeGreaterThan(1);
    expect(final).toBeLessThan(1e-5);
    const w = values(model.weight);
    [1.5, -2, 0.5].forEach((v, i) => {
      expect(w[i]).toBeCloseTo(v, 2);
    });
    expect(values(model.bias as Tensor)[0]).toBeCloseTo(0.7, 2);
  });
});
