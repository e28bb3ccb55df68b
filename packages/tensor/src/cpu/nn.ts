import type { AdamWStep, SgdStep, View } from '../backend.js';
import { allocHost, type HostArray } from '../dtype.js';
import { TensorError } from '../errors.js';

/**
 * Fused neural-network kernels of the CPU backend. Inputs are contiguous (the ops make them
 * so); rows are the leading axes flattened, columns the last axis. Sums run in float64.
 */

const arr = (v: View) => v.data as HostArray;

/** log(sum(exp(row))) of `cols` values from `o`, shifted by the row maximum for stability. */
function rowLogSumExp(src: HostArray, o: number, cols: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < cols; c++) if (src[o + c] > max) max = src[o + c];
  if (max === Number.NEGATIVE_INFINITY) max = 0;
  let sum = 0;
  for (let c = 0; c < cols; c++) sum += Math.exp(src[o + c] - max);
  return max + Math.log(sum);
}

/** Softmax or log-softmax of each row. */
export function softmaxRows(x: View, rows: number, cols: number, log: boolean): HostArray {
  const src = arr(x);
  const out = allocHost(x.dtype, rows * cols);
  for (let r = 0; r < rows; r++) {
    const o = x.offset + r * cols;
    const w = r * cols;
    const lse = rowLogSumExp(src, o, cols);
    if (log) {
      for (let c = 0; c < cols; c++) out[w + c] = src[o + c] - lse;
    } else {
      for (let c = 0; c < cols; c++) out[w + c] = Math.exp(src[o + c] - lse);
    }
  }
  return out;
}

/** Gradient of softmax (dx = y (dy - sum(dy y))) or log-softmax (dx = dy - exp(y) sum(dy)). */
export function softmaxRowsGrad(
  y: View,
  dy: View,
  rows: number,
  cols: number,
  log: boolean,
): HostArray {
  const ys = arr(y);
  const gs = arr(dy);
  const out = allocHost(y.dtype, rows * cols);
  for (let r = 0; r < rows; r++) {
    const oy = y.offset + r * cols;
    const og = dy.offset + r * cols;
    const w = r * cols;
    let dot = 0;
    if (log) {
      for (let c = 0; c < cols; c++) dot += gs[og + c];
      for (let c = 0; c < cols; c++) out[w + c] = gs[og + c] - Math.exp(ys[oy + c]) * dot;
    } else {
      for (let c = 0; c < cols; c++) dot += gs[og + c] * ys[oy + c];
      for (let c = 0; c < cols; c++) out[w + c] = ys[oy + c] * (gs[og + c] - dot);
    }
  }
  return out;
}

function checkTarget(t: number, row: number, cols: number, ignoreIndex: number): boolean {
  if (t === ignoreIndex) return false;
  if (t < 0 || t >= cols) {
    throw new TensorError(
      'crossEntropy',
      `target ${t} at position ${row} is out of range for ${cols} classes (valid: 0..${cols - 1}, or ${ignoreIndex} to ignore)`,
    );
  }
  return true;
}

/** Per-row loss lse - logit[target] (0 when ignored) and the row's log-sum-exp. */
export function crossEntropyRows(
  logits: View,
  targets: View,
  rows: number,
  cols: number,
  ignoreIndex: number,
): { loss: HostArray; lse: HostArray } {
  const src = arr(logits);
  const tg = arr(targets);
  const loss = allocHost(logits.dtype, rows);
  const lse = allocHost(logits.dtype, rows);
  for (let r = 0; r < rows; r++) {
    const t = tg[targets.offset + r];
    const valid = checkTarget(t, r, cols, ignoreIndex);
    const o = logits.offset + r * cols;
    const l = rowLogSumExp(src, o, cols);
    lse[r] = l;
    loss[r] = valid ? l - src[o + t] : 0;
  }
  return { loss, lse };
}

/** d loss / d logits = dloss_row * (softmax - onehot(target)), 0 on ignored rows. */
export function crossEntropyRowsGrad(
  logits: View,
  lse: View,
  targets: View,
  dloss: View,
  rows: number,
  cols: number,
  ignoreIndex: number,
): HostArray {
  const src = arr(logits);
  const ls = arr(lse);
  const tg = arr(targets);
  const gl = arr(dloss);
  const out = allocHost(logits.dtype, rows * cols);
  for (let r = 0; r < rows; r++) {
    const t = tg[targets.offset + r];
    if (!checkTarget(t, r, cols, ignoreIndex)) continue;
    const g = gl[dloss.offset + r];
    if (g === 0) continue;
    const o = logits.offset + r * cols;
    const l = ls[lse.offset + r];
    const w = r * cols;
    for (let c = 0; c < cols; c++) out[w + c] = g * Math.exp(src[o + c] - l);
    out[w + t] -= g;
  }
  return out;
}

/** y = x * rstd * w per row, rstd = 1 / sqrt(mean(x^2) + eps). */
export function rmsNormRows(
  x: View,
  weight: View | null,
  rows: number,
  cols: number,
  eps: number,
): { y: HostArray; rstd: HostArray } {
  const src = arr(x);
  const w = weight ? arr(weight) : null;
  const wo = weight?.offset ?? 0;
  const y = allocHost(x.dtype, rows * cols);
  const rstd = allocHost(x.dtype, rows);
  for (let r = 0; r < rows; r++) {
    const o = x.offset + r * cols;
    let ss = 0;
    for (let c = 0; c < cols; c++) ss += src[o + c] * src[o + c];
    const rs = 1 / Math.sqrt(ss / cols + eps);
    rstd[r] = rs;
    const out = r * cols;
    if (w) for (let c = 0; c < cols; c++) y[out + c] = src[o + c] * rs * w[wo + c];
    else for (let c = 0; c < cols; c++) y[out + c] = src[o + c] * rs;
  }
  return { y, rstd };
}

/**
 * RMSNorm backward: with xhat = x rstd and gw = dy w,
 * dx = rstd (gw - xhat mean(gw xhat)), dw = sum over rows of dy xhat.
 */
export function rmsNormRowsGrad(
  x: View,
  weight: View | null,
  rstd: View,
  dy: View,
  rows: number,
  cols: number,
): { dx: HostArray; dweight: HostArray | null } {
  const src = arr(x);
  const w = weight ? arr(weight) : null;
  const wo = weight?.offset ?? 0;
  const rs = arr(rstd);
  const g = arr(dy);
  const dx = allocHost(x.dtype, rows * cols);
  const dw = w ? new Float64Array(cols) : null;
  for (let r = 0; r < rows; r++) {
    const o = x.offset + r * cols;
    const og = dy.offset + r * cols;
    const s = rs[rstd.offset + r];
    let dot = 0;
    for (let c = 0; c < cols; c++) {
      const gw = w ? g[og + c] * w[wo + c] : g[og + c];
      dot += gw * src[o + c] * s;
      if (dw) dw[c] += g[og + c] * src[o + c] * s;
    }
    const mean = dot / cols;
    const out = r * cols;
    for (let c = 0; c < cols; c++) {
      const gw = w ? g[og + c] * w[wo + c] : g[og + c];
      dx[out + c] = s * (gw - src[o + c] * s * mean);
    }
  }
  let dweight: HostArray | null = null;
  if (dw && weight) {
    dweight = allocHost(weight.dtype, cols);
    dweight.set(dw);
  }
  return { dx, dweight };
}

/** Depthwise causal conv over (batch, channels, len) with weight (channels, width). */
export function conv1dCausal(
  x: View,
  weight: View,
  bias: View | null,
  batch: number,
  channels: number,
  len: number,
  width: number,
): HostArray {
  const src = arr(x);
  const w = arr(weight);
  const b = bias ? arr(bias) : null;
  const y = allocHost(x.dtype, batch * channels * len);
  for (let bc = 0; bc < batch * channels; bc++) {
    const c = bc % channels;
    const xo = x.offset + bc * len;
    const wo = weight.offset + c * width;
    const bv = b ? b[(bias as View).offset + c] : 0;
    const yo = bc * len;
    for (let t = 0; t < len; t++) {
      let acc = bv;
      const k0 = Math.max(0, width - 1 - t);
      for (let k = k0; k < width; k++) acc += w[wo + k] * src[xo + t - width + 1 + k];
      y[yo + t] = acc;
    }
  }
  return y;
}

/** Gradients of {@link conv1dCausal}. */
export function conv1dCausalGrad(
  x: View,
  weight: View,
  dy: View,
  batch: number,
  channels: number,
  len: number,
  width: number,
  withBias: boolean,
): { dx: HostArray; dweight: HostArray; dbias: HostArray | null } {
  const src = arr(x);
  const w = arr(weight);
  const g = arr(dy);
  const dx = allocHost(x.dtype, batch * channels * len);
  const dw = new Float64Array(channels * width);
  const db = withBias ? new Float64Array(channels) : null;
  for (let bc = 0; bc < batch * channels; bc++) {
    const c = bc % channels;
    const xo = x.offset + bc * len;
    const go = dy.offset + bc * len;
    const wo = weight.offset + c * width;
    const out = bc * len;
    for (let t = 0; t < len; t++) {
      const gt = g[go + t];
      if (db) db[c] += gt;
      const k0 = Math.max(0, width - 1 - t);
      for (let k = k0; k < width; k++) {
        const s = t - width + 1 + k;
        dx[out + s] += w[wo + k] * gt;
        dw[c * width + k] += src[xo + s] * gt;
      }
    }
  }
  const dweight = allocHost(weight.dtype, channels * width);
  dweight.set(dw);
  let dbias: HostArray | null = null;
  if (db) {
    dbias = allocHost(x.dtype, channels);
    dbias.set(db);
  }
  return { dx, dweight, dbias };
}

function checkIndex(op: string, i: number, j: number, n: number): void {
  if (i < 0 || i >= n || !Number.isInteger(i)) {
    throw new TensorError(
      op,
      `index ${i} at position ${j} is out of range for an axis of size ${n} (valid: 0..${n - 1})`,
    );
  }
}

/** out[o, j, :] = x[o, index[j], :]. */
export function indexSelectCpu(
  x: View,
  outer: number,
  n: number,
  inner: number,
  index: View,
): HostArray {
  const src = arr(x);
  const idx = arr(index);
  const m = index.shape.reduce((p, d) => p * d, 1);
  const out = allocHost(x.dtype, outer * m * inner);
  for (let j = 0; j < m; j++) checkIndex('indexSelect', idx[index.offset + j], j, n);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < m; j++) {
      const from = x.offset + (o * n + idx[index.offset + j]) * inner;
      const to = (o * m + j) * inner;
      if (inner === 1) out[to] = src[from];
      else out.set(src.subarray(from, from + inner), to);
    }
  }
  return out;
}

/** dx[o, index[j], :] += dy[o, j, :] into zeros of (outer, n, inner). */
export function indexAddCpu(
  dy: View,
  outer: number,
  n: number,
  inner: number,
  index: View,
): HostArray {
  const g = arr(dy);
  const idx = arr(index);
  const m = index.shape.reduce((p, d) => p * d, 1);
  const out = allocHost(dy.dtype, outer * n * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < m; j++) {
      const to = (o * n + idx[index.offset + j]) * inner;
      const from = dy.offset + (o * m + j) * inner;
      for (let i = 0; i < inner; i++) out[to + i] += g[from + i];
    }
  }
  return out;
}

/** One AdamW step in place (decoupled weight decay, as torch.optim.AdamW). */
export function adamwCpu(param: View, grad: View, m: View, v: View, s: AdamWStep): void {
  const p = arr(param);
  const g = arr(grad);
  const ms = arr(m);
  const vs = arr(v);
  const n = param.shape.reduce((a, d) => a * d, 1);
  const decay = 1 - s.lr * s.weightDecay;
  const stepSize = s.lr / s.biasCorrection1;
  const sqrtBc2 = Math.sqrt(s.biasCorrection2);
  for (let i = 0; i < n; i++) {
    const gi = g[grad.offset + i];
    const mi = s.beta1 * ms[m.offset + i] + (1 - s.beta1) * gi;
    const vi = s.beta2 * vs[v.offset + i] + (1 - s.beta2) * gi * gi;
    ms[m.offset + i] = mi;
    vs[v.offset + i] = vi;
    const pi = param.offset + i;
    p[pi] = p[pi] * decay - (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + s.eps);
  }
}

/** One SGD step in place (momentum, dampening, Nesterov and L2 weight decay as torch.optim.SGD). */
export function sgdCpu(param: View, grad: View, momentum: View | null, s: SgdStep): void {
  const p = arr(param);
  const g = arr(grad);
  const buf = momentum ? arr(momentum) : null;
  const bo = momentum?.offset ?? 0;
  const n = param.shape.reduce((a, d) => a * d, 1);
  for (let i = 0; i < n; i++) {
    const pi = param.offset + i;
    let d = g[grad.offset + i] + s.weightDecay * p[pi];
    if (buf) {
      const b = s.firstStep ? d : s.momentum * buf[bo + i] + (1 - s.dampening) * d;
      buf[bo + i] = b;
      d = s.nesterov ? d + s.momentum * b : b;
    }
    p[pi] -= s.lr * d;
  }
}
