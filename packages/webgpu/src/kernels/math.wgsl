// Scalar helpers of the elementwise kernels (float32). WGSL has no erf, expm1, log1p, and
// its tanh may overflow for large |x|, so these are written out to stay accurate in float32.

fn isNan(x: f32) -> bool {
  // Compilers may fold x != x away; the bit pattern cannot be.
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

// Infinity and NaN from run-time bits (a constant that is infinite or NaN does not compile).
fn infLike(x: f32) -> f32 { return bitcast<f32>(0x7f800000u | (bitcast<u32>(x) & 0u)); }
fn nanLike(x: f32) -> f32 { return bitcast<f32>(0x7fc00000u | (bitcast<u32>(x) & 0u)); }

fn sgn(x: f32) -> f32 {
  if (x > 0.0) { return 1.0; }
  if (x < 0.0) { return -1.0; }
  return x;
}

fn sigmoidF(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}

// Kahan's trick: exp(x) - 1 without cancellation near 0.
fn expm1F(x: f32) -> f32 {
  let u = exp(x);
  if (u == 1.0) { return x; }
  let um1 = u - 1.0;
  if (um1 == -1.0) { return -1.0; }
  if (abs(x) > 0.5) { return um1; }
  return um1 * x / log(u);
}

// log(1 + x) without cancellation near 0.
fn log1pF(x: f32) -> f32 {
  let u = 1.0 + x;
  if (u == 1.0) { return x; }
  if (abs(x) > 0.5) { return log(u); }
  return log(u) * x / (u - 1.0);
}

fn tanhF(x: f32) -> f32 {
  let e = expm1F(-2.0 * abs(x));
  let r = -e / (2.0 + e);
  return select(r, -r, x < 0.0);
}

fn siluF(x: f32) -> f32 { return x * sigmoidF(x); }

fn siluGradF(x: f32) -> f32 {
  let s = sigmoidF(x);
  return s * (1.0 + x * (1.0 - s));
}

fn softplusF(x: f32) -> f32 {
  if (x > 20.0) { return x; }
  return log1pF(exp(x));
}

fn softplusGradF(x: f32) -> f32 {
  if (x > 20.0) { return 1.0; }
  return sigmoidF(x);
}

// erfc with a relative error below about 1.2e-7 everywhere (a Chebyshev fit of
// erfc(z) e^(z^2) in t = 1 / (1 + z/2)), so both tails of GELU stay accurate.
fn erfcF(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
    t * (-0.82215223 + t * 0.17087277))))))));
  let r = t * exp(-z * z + p);
  return select(r, 2.0 - r, x < 0.0);
}

fn geluF(x: f32) -> f32 { return 0.5 * x * erfcF(-x * 0.70710678118654752); }

fn geluGradF(x: f32) -> f32 {
  return 0.5 * erfcF(-x * 0.70710678118654752) + x * 0.39894228040143268 * exp(-0.5 * x * x);
}

const GELU_K: f32 = 0.79788456080286536;

fn geluTanhF(x: f32) -> f32 { return x * sigmoidF(2.0 * GELU_K * (x + 0.044715 * x * x * x)); }

fn geluTanhGradF(x: f32) -> f32 {
  let s = sigmoidF(2.0 * GELU_K * (x + 0.044715 * x * x * x));
  return s + 2.0 * x * s * (1.0 - s) * GELU_K * (1.0 + 3.0 * 0.044715 * x * x);
}

// a ** b with C's rules for a negative base and an integer exponent.
fn powF(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (isNan(a) || isNan(b)) { return a + b; }
  if (a >= 0.0) {
    if (a == 0.0) { return select(0.0, infLike(b), b < 0.0); }
    return exp2(b * log2(a));
  }
  if (floor(b) != b) { return nanLike(b); }
  let r = exp2(b * log2(-a));
  let odd = abs(b) < 16777216.0 && (i32(abs(b)) & 1) == 1;
  return select(r, -r, odd);
}

// int32 power by squaring (wrapping); a negative exponent truncates 1 / a^|b| to an integer.
fn powI(a: i32, b: i32) -> i32 {
  if (b < 0) {
    if (a == 1) { return 1; }
    if (a == -1) { return select(1, -1, (b & 1) == 1); }
    return 0;
  }
  var r = 1;
  var base = a;
  var e = b;
  loop {
    if (e == 0) { break; }
    if ((e & 1) == 1) { r = r * base; }
    base = base * base;
    e = e >> 1u;
  }
  return r;
}

// float32 to int32 as a JavaScript Int32Array store does: truncate, wrap modulo 2^32, NaN
// and infinities to 0.
fn toI32(v: f32) -> i32 {
  if ((bitcast<u32>(v) & 0x7fffffffu) >= 0x7f800000u) { return 0; }
  let t = trunc(v);
  if (abs(t) < 2147483648.0) { return i32(t); }
  let m = t - floor(t / 4294967296.0) * 4294967296.0;
  return bitcast<i32>(u32(m));
}
