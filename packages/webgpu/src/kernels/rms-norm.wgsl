// y = x rstd w per row, rstd = 1 / sqrt(mean(x^2) + eps).

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> P: array<u32>;

// P: rows, cols, srcOff, wOff, hasWeight, eps, yOff, rstdOff
fn rowMain(row: u32, cols: u32, lid: u32) {
  let base = P[2] + row * cols;
  var ss = 0.0;
  for (var c = lid; c < cols; c += WG) {
    let v = src[base + c];
    ss += v * v;
  }
  let rs = 1.0 / sqrt(rowSum(ss, lid) / f32(cols) + bitcast<f32>(P[5]));
  if (lid == 0u) { rstd[P[7] + row] = rs; }
  for (var c = lid; c < cols; c += WG) {
    var v = src[base + c] * rs;
    if (P[4] != 0u) { v *= w[P[3] + c]; }
    y[P[6] + row * cols + c] = v;
  }
}
