// Copies `count` floats from `src` at `src_at` to `dst` at `dst_at`: packs the small inputs
// into the work buffer and takes the last state out of the saved states. A kernel rather
// than copyBufferToBuffer, so buffers need no usage beyond STORAGE.

struct Copy {
  src_at: u32,
  dst_at: u32,
  count: u32,
  pad: u32,
}

@group(0) @binding(0) var<uniform> P: Copy;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn main(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i < P.count) {
    dst[P.dst_at + i] = src[P.src_at + i];
  }
}
