// One AdamW step in place (decoupled weight decay, as torch.optim.AdamW).

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read_write> m: array<f32>;
@group(0) @binding(2) var<storage, read_write> v: array<f32>;
@group(0) @binding(3) var<storage, read> grad: array<f32>;
@group(0) @binding(4) var<storage, read> P: array<u32>;

// P: n, pOff, mOff, vOff, gOff, beta1, beta2, eps, decay, stepSize, sqrtBc2
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= P[0]) { return; }
  let beta1 = bitcast<f32>(P[5]);
  let beta2 = bitcast<f32>(P[6]);
  let g = grad[P[4] + i];
  let mi = beta1 * m[P[2] + i] + (1.0 - beta1) * g;
  let vi = beta2 * v[P[3] + i] + (1.0 - beta2) * g * g;
  m[P[2] + i] = mi;
  v[P[3] + i] = vi;
  let denom = sqrt(vi) / bitcast<f32>(P[10]) + bitcast<f32>(P[7]);
  let p = P[1] + i;
  param[p] = param[p] * bitcast<f32>(P[8]) - bitcast<f32>(P[9]) * mi / denom;
}
