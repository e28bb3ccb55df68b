// Gradient of softmax, dx = y (dy - sum(dy y)), or of log-softmax, dx = dy - exp(y) sum(dy).

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> P: array<u32>;

// P: rows, cols, yOff, dyOff, outOff
fn rowMain(row: u32, cols: u32, lid: u32) {
  let yb = P[2] + row * cols;
  let gb = P[3] + row * cols;
  var part = 0.0;
  for (var c = lid; c < cols; c += WG) {
    part += select(dy[gb + c] * y[yb + c], dy[gb + c], LOG);
  }
  let dot = rowSum(part, lid);
  for (var c = lid; c < cols; c += WG) {
    let g = dy[gb + c];
    let v = y[yb + c];
    out[P[4] + row * cols + c] = select(v * (g - dot), g - exp(v) * dot, LOG);
  }
}
