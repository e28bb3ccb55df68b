// Softmax or log-softmax of each row (LOG is true or false).

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> P: array<u32>;

// P: rows, cols, srcOff, outOff
fn rowMain(row: u32, cols: u32, lid: u32) {
  let base = P[2] + row * cols;
  let lse = rowLogSumExp(base, cols, lid);
  for (var c = lid; c < cols; c += WG) {
    let v = src[base + c] - lse;
    out[P[3] + row * cols + c] = select(exp(v), v, LOG);
  }
}
