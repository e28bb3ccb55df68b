import { isGradEnabled, keep, noGrad, tidy } from './engine.js';
import { fmtShape, TensorError } from './errors.js';
import { shapesEqual } from './shape.js';
import { type GradNode, Tensor } from './tensor.js';

/**
 * Define-by-run autograd. Each op that sees an input requiring a gradient records a
 * {@link GradNode} on its outputs; `backward()` walks the nodes in reverse topological order,
 * releasing every intermediate gradient as soon as the last node that needs it is done.
 */

/** True when an op over these inputs must be recorded. */
export function shouldRecord(inputs: readonly (Tensor | null | undefined)[]): boolean {
  if (!isGradEnabled()) return false;
  for (const t of inputs) if (t?.requiresGrad) return true;
  return false;
}

/**
 * Records a multi-output op. `backward` receives the output gradients (null where none
 * arrived) and returns one gradient per input (null or undefined where none flows).
 */
export function recordMulti(
  op: string,
  inputs: readonly (Tensor | null | undefined)[],
  outputs: readonly Tensor[],
  backward: GradNode['backward'],
): void {
  if (!shouldRecord(inputs)) return;
  const present = inputs.filter((t): t is Tensor => t != null);
  // Inputs may be optional; the node keeps positions aligned with the backward's result.
  const index = inputs.map((t) => (t == null ? -1 : present.indexOf(t)));
  const node: GradNode = {
    op,
    inputs: present,
    outputs: outputs.length,
    backward: (grads) => {
      const full = backward(grads);
      const out: (Tensor | null)[] = new Array(present.length).fill(null);
      for (let i = 0; i < inputs.length; i++) {
        const g = full[i];
        if (index[i] < 0 || g == null) continue;
        // The same tensor may be passed twice (x * x): gradients add up.
        const j = index[i];
        out[j] = out[j] ? (out[j] as Tensor).add(g) : g;
      }
      return out;
    },
  };
  outputs.forEach((t, i) => {
    t.markRequiresGrad(node, i);
  });
}

/** Records a single-output op; `backward` maps the output gradient to input gradients. */
export function record(
  op: string,
  inputs: readonly (Tensor | null | undefined)[],
  output: Tensor,
  backward: (grad: Tensor) => readonly (Tensor | null | undefined)[],
): Tensor {
  recordMulti(op, inputs, [output], (grads) =>
    grads[0] ? backward(grads[0]) : inputs.map(() => null),
  );
  return output;
}

function topoOrder(root: GradNode): GradNode[] {
  const order: GradNode[] = [];
  const seen = new Set<GradNode>();
  // Iterative DFS: graphs of deep models are far deeper than the JS call stack.
  const stack: [GradNode, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (i < node.inputs.length) {
      top[1]++;
      const child = node.inputs[i].gradFn;
      if (child && !seen.has(child)) {
        seen.add(child);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(node);
    }
  }
  return order.reverse();
}

/** Runs the backward pass from `root`; see {@link Tensor.backward}. Nothing in it is recorded. */
export function backward(root: Tensor, gradient: Tensor | undefined, retainGraph: boolean): void {
  noGrad(() => backwardPass(root, gradient, retainGraph));
}

function backwardPass(root: Tensor, gradient: Tensor | undefined, retainGraph: boolean): void {
  if (!root.requiresGrad) {
    throw new TensorError(
      'backward',
      'this tensor does not require a gradient: no input of the computation requires one (set requiresGrad on the parameters)',
    );
  }
  if (gradient !== undefined && !(gradient instanceof Tensor)) {
    throw new TensorError(
      'backward',
      'the first argument is the output gradient (a Tensor); options such as { retainGraph } go second',
    );
  }
  if (!gradient && root.size !== 1) {
    throw new TensorError(
      'backward',
      `needs a gradient argument for a tensor of shape ${fmtShape(root.shape)}; only one-element tensors default to 1`,
    );
  }
  if (gradient && !shapesEqual(gradient.shape, root.shape)) {
    throw new TensorError(
      'backward',
      `gradient of shape ${fmtShape(gradient.shape)} does not match the tensor's shape ${fmtShape(root.shape)}`,
    );
  }
  // A detached alias: the caller's gradient tensor stays valid after the pass releases its own.
  const seed = gradient
    ? gradient.isContiguous
      ? gradient.detach()
      : gradient.clone()
    : Tensor.fromData(root.backend.fill(root.dtype, 1, 1), root.shape, root.dtype, root.backend);
  if (!root.gradFn) {
    // A leaf owns its .grad: never the caller's gradient memory.
    if (seed.storage.shared) {
      accumulateInto(root, seed.clone());
      seed.dispose();
    } else {
      accumulateInto(root, seed);
    }
    return;
  }

  const held = new GradCounts();
  const pending = new Map<GradNode, (Tensor | null)[]>();
  const leafGrads = new Map<Tensor, Tensor>();
  const toLeaf = (t: Tensor, g: Tensor) => leafGrads.set(t, held.sum(leafGrads.get(t), g));

  const rootSlots = new Array<Tensor | null>(root.gradFn.outputs).fill(null);
  rootSlots[root.outputIndex] = held.hold(seed);
  pending.set(root.gradFn, rootSlots);
  if (root.retainsGrad) toLeaf(root, seed);

  for (const node of topoOrder(root.gradFn)) {
    const grads = pending.get(node);
    pending.delete(node);
    if (!grads || grads.every((g) => g === null)) continue;
    const inputGrads = tidy(() => node.backward(grads));
    node.inputs.forEach((input, i) => {
      const g = inputGrads[i];
      if (!g || !input.requiresGrad) return;
      if (!shapesEqual(g.shape, input.shape)) {
        throw new TensorError(
          'backward',
          `the backward of ${node.op} gave a gradient of shape ${fmtShape(g.shape)} for an input of shape ${fmtShape(input.shape)}`,
        );
      }
      // Held across both uses: the first may add g into an earlier gradient and release it.
      held.hold(g);
      if (input.gradFn) {
        let slots = pending.get(input.gradFn);
        if (!slots) {
          slots = new Array<Tensor | null>(input.gradFn.outputs).fill(null);
          pending.set(input.gradFn, slots);
        }
        slots[input.outputIndex] = held.sum(slots[input.outputIndex], g);
        if (input.retainsGrad) toLeaf(input, g);
      } else {
        toLeaf(input, g);
      }
      held.drop(g);
    });
    for (const g of grads) if (g) held.drop(g);
    if (!retainGraph) releaseNode(node);
  }
  for (const [t, g] of leafGrads) {
    // A leaf owns its .grad: a gradient that shares memory with another tensor (x + y hands
    // the same one to both; views of one gradient share it) is copied, and so is a strided
    // view, so that optimizers and in-place clipping see private, contiguous memory.
    if (held.count(g) > 1 || g.storage.shared || !g.isContiguous) {
      accumulateInto(t, g.clone());
      held.drop(g);
    } else {
      held.forget(g);
      accumulateInto(t, g);
    }
  }
}

/**
 * Counts the places holding each gradient tensor during a backward pass, so that a tensor
 * passed on unchanged (add, reshape) is released only when its last holder lets go.
 */
class GradCounts {
  private readonly counts = new Map<Tensor, number>();

  hold(t: Tensor): Tensor {
    this.counts.set(t, (this.counts.get(t) ?? 0) + 1);
    return t;
  }

  drop(t: Tensor): void {
    const n = (this.counts.get(t) ?? 1) - 1;
    if (n > 0) this.counts.set(t, n);
    else {
      this.counts.delete(t);
      t.dispose();
    }
  }

  count(t: Tensor): number {
    return this.counts.get(t) ?? 0;
  }

  /** Stops counting a tensor whose ownership moves elsewhere. */
  forget(t: Tensor): void {
    this.counts.delete(t);
  }

  /** prev + g, held once, releasing the operands; g alone (now held) when there is no prev. */
  sum(prev: Tensor | null | undefined, g: Tensor): Tensor {
    this.hold(g);
    if (!prev) return g;
    const next = this.hold(prev.add(g));
    this.drop(prev);
    this.drop(g);
    return next;
  }
}

/** Adds `g` (now owned by the leaf) to `t.grad`. */
function accumulateInto(t: Tensor, g: Tensor): void {
  keep(g);
  if (t.grad) {
    const sum = keep(t.grad.add(g));
    t.grad.dispose();
    g.dispose();
    t.grad = sum;
  } else {
    t.grad = g;
  }
  if (t.name) t.grad.name = `${t.name}.grad`;
}

/** Frees a node's closure after use, as PyTorch frees saved tensors without retain_graph. */
function releaseNode(node: GradNode): void {
  // Dropping the inputs too lets the activations they hold go once the caller lets go of them.
  const freed: GradNode = {
    op: node.op,
    inputs: [],
    outputs: node.outputs,
    backward: () => {
      throw new TensorError(
        'backward',
        `the graph through ${node.op} was already used by a backward pass; pass { retainGraph: true } to backward() to run it twice`,
      );
    },
  };
  Object.assign(node, freed);
}
