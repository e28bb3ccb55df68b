// Shared by every selective-scan kernel: the sizes and flags of one call, and the scalar
// maths of the recurrence. The driver (index.ts) prepends this file to each kernel.

// Time steps between two saved states. The forward saves the state entering every chunk;
// the backward recomputes one chunk's states from that checkpoint into a private array of
// CHUNK + 1 floats per invocation, so CHUNK trades checkpoint memory (1/CHUNK of all states)
// against private memory. The driver mirrors it as SCAN_CHUNK.
const CHUNK: u32 = 32u;

// One call's sizes, flags and the float offsets of the regions of the `work` buffer
// (packed parameters, segment carries and the backward's partial sums); see index.ts.
struct Scan {
  batch: u32,
  dim: u32,
  seqlen: u32,
  dstate: u32,
  n_chunks: u32,
  seg_chunks: u32,
  n_seg: u32,
  n_cg: u32,
  slots: u32,
  flags: u32,
  last_slot: u32,
  pad0: u32,
  off_A: u32,
  off_D: u32,
  off_bias: u32,
  off_h0: u32,
  off_off: u32,
  off_dlast: u32,
  off_sum: u32,
  off_pA: u32,
  off_pOff: u32,
  off_pD: u32,
  off_pBias: u32,
  off_pH0: u32,
  off_pBC: u32,
  pad1: u32,
  pad2: u32,
  pad3: u32,
}

const F_SOFTPLUS: u32 = 1u;
const F_D: u32 = 2u;
const F_Z: u32 = 4u;
const F_BIAS: u32 = 8u;
const F_H0: u32 = 16u;
const F_OFF: u32 = 32u;
const F_H0_BATCHED: u32 = 64u;
const F_OFF_BATCHED: u32 = 128u;
const F_SAVE: u32 = 256u;
const F_DLAST: u32 = 512u;

@group(0) @binding(0) var<uniform> S: Scan;

fn has(bit: u32) -> bool {
  return (S.flags & bit) != 0u;
}

fn sigmoid(x: f32) -> f32 {
  if (x >= 0.0) {
    return 1.0 / (1.0 + exp(-x));
  }
  let e = exp(x);
  return e / (1.0 + e);
}

fn silu(x: f32) -> f32 {
  return x * sigmoid(x);
}

// PyTorch's softplus (threshold 20), with log1p written out: WGSL has none, and
// log(1 + e) loses all digits of a small e.
fn softplus(x: f32) -> f32 {
  if (x > 20.0) {
    return x;
  }
  let e = exp(x);
  let w = 1.0 + e;
  if (w == 1.0) {
    return e;
  }
  return log(w) * e / (w - 1.0);
}

// dt from delta + bias.
fn dt_of(v: f32) -> f32 {
  if (has(F_SOFTPLUS)) {
    return softplus(v);
  }
  return v;
}

// d dt / d(delta + bias).
fn dt_grad(v: f32) -> f32 {
  if (has(F_SOFTPLUS) && v <= 20.0) {
    return sigmoid(v);
  }
  return 1.0;
}

// Linear index of an elementwise kernel launched on a 2D grid of 64-wide workgroups.
fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * 64u + lid;
}
