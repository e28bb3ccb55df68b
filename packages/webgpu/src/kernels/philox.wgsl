// Philox-4x32-10 (Salmon et al., SC 2011), word for word the generator of the tensor core's
// random.ts, so a draw on the device equals the same draw on the CPU: uniform values are the
// top 24 bits of each word over 2^24 (four per counter block), normal values Box-Muller of
// words 0 and 1 of one block each. OUT_STORE converts to the output dtype.

@group(0) @binding(0) var<storage, read_write> out: array<OUT_T>;
@group(0) @binding(1) var<storage, read> P: array<u32>;

// P: n, normal, key0, key1, counterLo, counterHi, outOff

fn mulhi(a: u32, b: u32) -> u32 {
  let aLo = a & 0xffffu;
  let aHi = a >> 16u;
  let bLo = b & 0xffffu;
  let bHi = b >> 16u;
  let lolo = aLo * bLo;
  let mid1 = aHi * bLo;
  let mid2 = aLo * bHi;
  let carry = ((lolo >> 16u) + (mid1 & 0xffffu) + (mid2 & 0xffffu)) >> 16u;
  return aHi * bHi + (mid1 >> 16u) + (mid2 >> 16u) + carry;
}

fn philox(c0: u32, c1: u32) -> vec4<u32> {
  var x = vec4<u32>(c0, c1, 0u, 0u);
  var k0 = P[2];
  var k1 = P[3];
  for (var r = 0u; r < 10u; r++) {
    let hi0 = mulhi(0xd2511f53u, x.x);
    let lo0 = 0xd2511f53u * x.x;
    let hi1 = mulhi(0xcd9e8d57u, x.z);
    let lo1 = 0xcd9e8d57u * x.z;
    x = vec4<u32>(hi1 ^ x.y ^ k0, lo1, hi0 ^ x.w ^ k1, lo0);
    k0 += 0x9e3779b9u;
    k1 += 0xbb67ae85u;
  }
  return x;
}

fn block(b: u32) -> vec4<u32> {
  let lo = P[4] + b;
  let carry = select(0u, 1u, lo < b);
  return philox(lo, P[5] + carry);
}

fn store(i: u32, v: f32) {
  out[P[6] + i] = OUT_STORE;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 256u;
  let n = P[0];
  if (P[1] == 0u) {
    if (t * 4u >= n) { return; }
    let w = block(t);
    for (var j = 0u; j < 4u; j++) {
      if (t * 4u + j < n) { store(t * 4u + j, f32(w[j] >> 8u) / 16777216.0); }
    }
  } else {
    if (t >= n) { return; }
    let w = block(t);
    let u1 = f32((w.x >> 8u) + 1u) / 16777216.0;
    let u2 = f32(w.y >> 8u) / 16777216.0;
    store(t, sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
  }
}
