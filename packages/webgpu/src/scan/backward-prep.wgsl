// Backward, elementwise preparation over (batch, dim, seqlen): `dtv` (the ddelta output,
// used as scratch) gets delta + bias, and `dyz` (the dz output, when z is given) gets the
// gradient past the gate, dy * silu(z). The scan kernels read these, which keeps each of
// them within eight storage buffers.

@group(0) @binding(1) var<storage, read> delta: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> z: array<f32>;
@group(0) @binding(4) var<storage, read> work: array<f32>;
@group(0) @binding(5) var<storage, read_write> dtv: array<f32>;
@group(0) @binding(6) var<storage, read_write> dyz: array<f32>;

@compute @workgroup_size(64)
fn main(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let i = flat_index(wid, nwg, lid);
  if (i >= S.batch * S.dim * S.seqlen) {
    return;
  }
  var v = delta[i];
  if (has(F_BIAS)) {
    v += work[S.off_bias + (i / S.seqlen) % S.dim];
  }
  dtv[i] = v;
  if (has(F_Z)) {
    dyz[i] = dy[i] * silu(z[i]);
  }
}
