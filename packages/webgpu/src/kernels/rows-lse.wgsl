// The row log-sum-exp of the kernels that read logits from `src`.

// The lowest finite float stands for -inf (WGSL constants cannot be infinite).
const NEG_BIG: f32 = -3.4028234e38;

// log(sum(exp(row))) of `cols` values from `base`, shifted by the row maximum.
fn rowLogSumExp(base: u32, cols: u32, lid: u32) -> f32 {
  var m = NEG_BIG;
  for (var c = lid; c < cols; c += WG) {
    let v = src[base + c];
    m = select(m, v, v > m);
  }
  var mx = rowMax(m, lid);
  if (mx == NEG_BIG) { mx = 0.0; }
  var s = 0.0;
  for (var c = lid; c < cols; c += WG) {
    s += exp(src[base + c] - mx);
  }
  return mx + log(rowSum(s, lid));
}
