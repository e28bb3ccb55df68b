import { keep, noGrad } from '../engine.js';
import { fmtShape, TensorError } from '../errors.js';
import { shapesEqual } from '../shape.js';
import type { Tensor } from '../tensor.js';

/** A set of parameters sharing hyperparameters (e.g. no weight decay for biases and states). */
export interface ParamGroup<H> {
  readonly params: readonly Tensor[];
  /** Overrides of the optimizer's defaults for this group. */
  readonly options?: Partial<H>;
}

/** A group as the optimizer holds it: hyperparameters resolved and mutable (schedulers set `lr`). */
export interface ResolvedGroup<H> {
  readonly params: readonly Tensor[];
  hyper: H & { lr: number };
  /** The learning rate the group started with (schedules scale it). */
  readonly initialLr: number;
}

/**
 * An optimizer's state for saving and resuming: hyperparameters per group, the step count,
 * and per-parameter tensors (indexed by the parameter's position across groups, as PyTorch).
 */
export interface OptimizerState {
  readonly kind: string;
  readonly step: number;
  readonly groups: readonly {
    readonly hyper: Record<string, number | boolean>;
    readonly size: number;
  }[];
  readonly slots: ReadonlyMap<number, Readonly<Record<string, Tensor>>>;
  /**
   * Updates each parameter has received (PyTorch's per-parameter `state[i]["step"]`), by the
   * same index; a parameter without a gradient skips a step. When absent, every parameter with
   * slots is taken to have received `step` updates.
   */
  readonly paramSteps?: ReadonlyMap<number, number>;
}

/** Shared machinery of the optimizers: groups, per-parameter slots, zeroGrad, state dicts. */
export abstract class Optimizer<H extends { lr: number }> {
  readonly groups: ResolvedGroup<H>[];
  /** Number of completed steps. */
  stepCount = 0;
  protected readonly slots = new Map<Tensor, Record<string, Tensor>>();
  /** Updates each parameter has received; bias corrections use this count, as torch's state["step"]. */
  protected readonly paramSteps = new Map<Tensor, number>();

  protected constructor(
    readonly kind: string,
    params: readonly Tensor[] | readonly ParamGroup<H>[],
    defaults: H,
  ) {
    const groups: ParamGroup<H>[] =
      params.length > 0 && 'params' in (params[0] as object)
        ? [...(params as readonly ParamGroup<H>[])]
        : [{ params: params as readonly Tensor[] }];
    const seen = new Set<Tensor>();
    this.groups = groups.map((g, gi) => {
      for (const p of g.params) {
        if (seen.has(p)) {
          throw new TensorError(
            kind,
            `a parameter${p.name ? ` (${p.name})` : ''} appears in more than one group`,
          );
        }
        if (!p.isLeaf) {
          throw new TensorError(kind, `group ${gi} holds a non-leaf tensor; pass parameters`);
        }
        // The fused update kernels walk a parameter's memory in order.
        if (!p.isContiguous) {
          throw new TensorError(
            kind,
            `group ${gi} holds a non-contiguous tensor${p.name ? ` (${p.name})` : ''}; pass parameters (clone() a view)`,
          );
        }
        seen.add(p);
      }
      const hyper = { ...defaults, ...g.options } as H;
      this.validate(hyper, gi);
      return { params: g.params, hyper, initialLr: hyper.lr };
    });
  }

  /** The names of the per-parameter state tensors kept under these hyperparameters. */
  protected abstract slotNames(hyper: H): readonly string[];

  /** Checks one group's hyperparameters. */
  protected abstract validate(hyper: H, group: number): void;

  /** Updates one parameter in place from its gradient; `step` counts this parameter's updates, this one included. */
  protected abstract update(param: Tensor, grad: Tensor, hyper: H, step: number): void;

  /**
   * Applies one update to every parameter that has a gradient. Gradients are checked first,
   * so a bad one leaves every parameter as it was.
   */
  step(): void {
    for (const g of this.groups) {
      for (const p of g.params) {
        if (p.grad && !shapesEqual(p.grad.shape, p.shape)) {
          throw new TensorError(
            this.kind,
            `gradient of ${fmtShape(p.grad.shape)} for a parameter${p.name ? ` (${p.name})` : ''} of ${fmtShape(p.shape)}`,
          );
        }
      }
    }
    this.stepCount++;
    noGrad(() => {
      for (const g of this.groups) {
        for (const p of g.params) {
          if (!p.grad) continue;
          const n = (this.paramSteps.get(p) ?? 0) + 1;
          this.paramSteps.set(p, n);
          const grad = p.grad.contiguous();
          try {
            this.update(p, grad, g.hyper, n);
          } finally {
            if (grad !== p.grad) grad.dispose();
          }
        }
      }
    });
  }

  /** Drops the gradients of every parameter. */
  zeroGrad(): void {
    for (const g of this.groups) {
      for (const p of g.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }

  /** The slot tensors of one parameter, created as zeros on first use (kept out of tidy scopes). */
  protected slot(
    param: Tensor,
    names: readonly string[],
    make: (p: Tensor) => Tensor,
  ): Record<string, Tensor> {
    let s = this.slots.get(param);
    if (!s) {
      s = {};
      for (const n of names) s[n] = keep(make(param));
      this.slots.set(param, s);
    }
    return s;
  }

  private allParams(): Tensor[] {
    return this.groups.flatMap((g) => [...g.params]);
  }

  /** A snapshot of the optimizer for resuming (tensors are copies). */
  stateDict(): OptimizerState {
    const params = this.allParams();
    const slots = new Map<number, Record<string, Tensor>>();
    const paramSteps = new Map<number, number>();
    params.forEach((p, i) => {
      const s = this.slots.get(p);
      if (s)
        slots.set(i, Object.fromEntries(Object.entries(s).map(([k, t]) => [k, keep(t.clone())])));
      const n = this.paramSteps.get(p);
      if (n !== undefined) paramSteps.set(i, n);
    });
    return {
      kind: this.kind,
      step: this.stepCount,
      groups: this.groups.map((g) => ({
        hyper: { ...g.hyper } as Record<string, number | boolean>,
        size: g.params.length,
      })),
      slots,
      paramSteps,
    };
  }

  /** Restores a snapshot taken from an optimizer over parameters of the same shapes, in the same order. */
  loadStateDict(state: OptimizerState): void {
    if (state.kind !== this.kind) {
      throw new TensorError(this.kind, `cannot load the state of a ${state.kind} optimizer`);
    }
    if (
      state.groups.length !== this.groups.length ||
      state.groups.some((g, i) => g.size !== this.groups[i].params.length)
    ) {
      throw new TensorError(
        this.kind,
        `the saved state has groups of sizes [${state.groups.map((g) => g.size).join(', ')}], this optimizer [${this.groups.map((g) => g.params.length).join(', ')}]`,
      );
    }
    const params = this.allParams();
    if (!Number.isInteger(state.step) || state.step < 0) {
      throw new TensorError(
        this.kind,
        `the saved step must be a non-negative integer, got ${state.step}`,
      );
    }
    for (const [i, n] of state.paramSteps ?? []) {
      if (!params[i])
        throw new TensorError(
          this.kind,
          `the saved state has a step count for parameter ${i}, but there are ${params.length}`,
        );
      if (!Number.isInteger(n) || n < 0) {
        throw new TensorError(
          this.kind,
          `the saved step count of parameter ${i} must be a non-negative integer, got ${n}`,
        );
      }
    }
    // The groups' hyperparameters as they will be, checked like the constructor's.
    const merged = state.groups.map((g, gi) => {
      const current = this.groups[gi].hyper as Record<string, unknown>;
      for (const [k, v] of Object.entries(g.hyper)) {
        if (!(k in current) || typeof v !== typeof current[k]) {
          throw new TensorError(
            this.kind,
            `saved group ${gi} has ${k} = ${JSON.stringify(v)}, which is not a ${this.kind} hyperparameter of type ${typeof current[k]}`,
          );
        }
      }
      const hyper = { ...this.groups[gi].hyper, ...g.hyper } as H & { lr: number };
      this.validate(hyper, gi);
      return hyper;
    });
    const groupOf = (i: number) => {
      let end = 0;
      for (let gi = 0; gi < this.groups.length; gi++) {
        end += this.groups[gi].params.length;
        if (i < end) return gi;
      }
      return -1;
    };
    for (const [i, s] of state.slots) {
      const p = params[i];
      if (!p)
        throw new TensorError(
          this.kind,
          `the saved state has a slot for parameter ${i}, but there are ${params.length}`,
        );
      const expected = [...this.slotNames(merged[groupOf(i)])].sort();
      const got = Object.keys(s).sort();
      if (expected.join() !== got.join()) {
        throw new TensorError(
          this.kind,
          `saved slots of parameter ${i}${p.name ? ` (${p.name})` : ''} are [${got.join(', ')}]; this optimizer keeps [${expected.join(', ')}]`,
        );
      }
      for (const [k, t] of Object.entries(s)) {
        if (t.dtype === 'int32' || t.backend !== p.backend) {
          throw new TensorError(
            this.kind,
            `saved ${k} of parameter ${i} must be a float tensor on the ${p.backend.name} backend, got ${t.dtype} on ${t.backend.name}`,
          );
        }
        if (!shapesEqual(t.shape, p.shape)) {
          throw new TensorError(
            this.kind,
            `saved ${k} of parameter ${i}${p.name ? ` (${p.name})` : ''} has shape ${fmtShape(t.shape)}, the parameter ${fmtShape(p.shape)}`,
          );
        }
      }
    }
    for (const old of this.slots.values()) for (const t of Object.values(old)) t.dispose();
    this.slots.clear();
    for (const [i, s] of state.slots) {
      const p = params[i];
      // A copy in the parameter's dtype (cast copies when it converts; clone when it does not).
      const copy = (t: Tensor) => (t.dtype === p.dtype ? t.clone() : t.cast(p.dtype));
      this.slots.set(p, Object.fromEntries(Object.entries(s).map(([k, t]) => [k, keep(copy(t))])));
    }
    this.paramSteps.clear();
    if (state.paramSteps) {
      for (const [i, n] of state.paramSteps) this.paramSteps.set(params[i], n);
    } else {
      for (const i of state.slots.keys()) this.paramSteps.set(params[i], state.step);
    }
    merged.forEach((hyper, i) => {
      this.groups[i].hyper = hyper;
    });
    this.stepCount = state.step;
  }

  /** Releases the slot tensors. */
  dispose(): void {
    for (const s of this.slots.values()) for (const t of Object.values(s)) t.dispose();
    this.slots.clear();
  }
}
