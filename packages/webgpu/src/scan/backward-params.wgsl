// Backward, last pass for the per-channel gradients: sums the partials that backward.wgsl
// wrote per (batch, channel, segment) in a fixed order (segments, then batch entries), into
// dA, dD, ddeltaBias, and dh0 / dstateOffset (summed over the batch unless batched).
// One invocation per (batch, dim, dstate) element.

@group(0) @binding(1) var<storage, read> work: array<f32>;
@group(0) @binding(2) var<storage, read_write> dA: array<f32>;
@group(0) @binding(3) var<storage, read_write> dD: array<f32>;
@group(0) @binding(4) var<storage, read_write> dBias: array<f32>;
@group(0) @binding(5) var<storage, read_write> dH0: array<f32>;
@group(0) @binding(6) var<storage, read_write> dOff: array<f32>;

// Sum over segments and, when `all_batch`, over batch entries, of the region at `base`
// laid out (batch, dim, segment, `width`).
fn total(base: u32, d: u32, n: u32, width: u32, b0: u32, all_batch: bool) -> f32 {
  let b1 = select(b0 + 1u, S.batch, all_batch);
  var acc = 0.0;
  for (var b = b0; b < b1; b++) {
    for (var s = 0u; s < S.n_seg; s++) {
      acc += work[base + (((b * S.dim + d) * S.n_seg + s) * width) + n];
    }
  }
  return acc;
}

@compute @workgroup_size(64)
fn main(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let N = S.dstate;
  let i = flat_index(wid, nwg, lid);
  if (i >= S.batch * S.dim * N) {
    return;
  }
  let n = i % N;
  let d = (i / N) % S.dim;
  let b = i / (N * S.dim);
  if (b == 0u) {
    dA[d * N + n] = total(S.off_pA, d, n, N, 0u, true);
    if (has(F_OFF) && !has(F_OFF_BATCHED)) {
      dOff[d * N + n] = total(S.off_pOff, d, n, N, 0u, true);
    }
    if (has(F_H0) && !has(F_H0_BATCHED)) {
      var acc = 0.0;
      for (var bb = 0u; bb < S.batch; bb++) {
        acc += work[S.off_pH0 + (bb * S.dim + d) * N + n];
      }
      dH0[d * N + n] = acc;
    }
    if (n == 0u) {
      if (has(F_D)) {
        dD[d] = total(S.off_pD, d, 0u, 1u, 0u, true);
      }
      if (has(F_BIAS)) {
        dBias[d] = total(S.off_pBias, d, 0u, 1u, 0u, true);
      }
    }
  }
  if (has(F_OFF) && has(F_OFF_BATCHED)) {
    dOff[i] = total(S.off_pOff, d, n, N, b, false);
  }
  if (has(F_H0) && has(F_H0_BATCHED)) {
    dH0[i] = work[S.off_pH0 + i];
  }
}
