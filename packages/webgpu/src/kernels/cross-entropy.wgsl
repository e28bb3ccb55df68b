// Per-row cross-entropy lse - logit[target] (0 for ignored rows; NaN for a target out of
// range, which a device cannot throw for) and the row's log-sum-exp.

@group(0) @binding(0) var<storage, read_write> loss: array<f32>;
@group(0) @binding(1) var<storage, read_write> lse: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<i32>;
@group(0) @binding(4) var<storage, read> P: array<u32>;

// P: rows, cols, srcOff, targetOff, ignoreIndex, outOff (of loss and lse)
fn rowMain(row: u32, cols: u32, lid: u32) {
  let base = P[2] + row * cols;
  let l = rowLogSumExp(base, cols, lid);
  if (lid == 0u) {
    let t = targets[P[3] + row];
    lse[P[5] + row] = l;
    if (t == bitcast<i32>(P[4])) {
      loss[P[5] + row] = 0.0;
    } else if (t < 0 || u32(t) >= cols) {
      loss[P[5] + row] = bitcast<f32>(0x7fc00000u | (cols & 0u));
    } else {
      loss[P[5] + row] = l - src[base + u32(t)];
    }
  }
}
