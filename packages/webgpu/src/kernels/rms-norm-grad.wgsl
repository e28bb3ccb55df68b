// RMSNorm backward for x: with xhat = x rstd and gw = dy w,
// dx = rstd (gw - xhat mean(gw xhat)).

@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read> P: array<u32>;

// P: rows, cols, srcOff, wOff, hasWeight, rstdOff, dyOff, dxOff
fn rowMain(row: u32, cols: u32, lid: u32) {
  let base = P[2] + row * cols;
  let gb = P[6] + row * cols;
  let s = rstd[P[5] + row];
  var part = 0.0;
  for (var c = lid; c < cols; c += WG) {
    var gw = dy[gb + c];
    if (P[4] != 0u) { gw *= w[P[3] + c]; }
    part += gw * src[base + c] * s;
  }
  let mean = rowSum(part, lid) / f32(cols);
  for (var c = lid; c < cols; c += WG) {
    var gw = dy[gb + c];
    if (P[4] != 0u) { gw *= w[P[3] + c]; }
    dx[P[7] + row * cols + c] = s * (gw - src[base + c] * s * mean);
  }
}
