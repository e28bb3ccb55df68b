// One SGD step in place (momentum, dampening, Nesterov, L2 weight decay as torch.optim.SGD).

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read_write> buf: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read> P: array<u32>;

// P: n, pOff, bufOff, gOff, hasMomentum, lr, momentum, dampening, nesterov, weightDecay, firstStep
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= P[0]) { return; }
  let p = P[1] + i;
  let momentum = bitcast<f32>(P[6]);
  var d = grad[P[3] + i] + bitcast<f32>(P[9]) * param[p];
  if (P[4] != 0u) {
    var b = d;
    if (P[10] == 0u) { b = momentum * buf[P[2] + i] + (1.0 - bitcast<f32>(P[7])) * d; }
    buf[P[2] + i] = b;
    d = select(b, d + momentum * b, P[8] != 0u);
  }
  param[p] = param[p] - bitcast<f32>(P[5]) * d;
}
