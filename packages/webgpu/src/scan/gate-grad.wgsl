// Backward, elementwise over (batch, dim, seqlen) when z is given: `dz` holds the pre-gate
// output yPre (left there by backward.wgsl) and becomes dy * yPre * silu'(z).

@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> z: array<f32>;
@group(0) @binding(3) var<storage, read_write> dz: array<f32>;

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
  let zz = z[i];
  let s = sigmoid(zz);
  dz[i] = dy[i] * dz[i] * s * (1.0 + zz * (1.0 - s));
}
