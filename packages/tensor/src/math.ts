/**
 * Scalar math shared by the CPU kernels and the op table. Every function works in float64;
 * the callers round to the tensor's dtype when they store.
 */

const TWO_OVER_SQRT_PI = 1.1283791670955126;
/** 2/sqrt(pi) - TWO_OVER_SQRT_PI: the constant as a double-double. */
const TWO_OVER_SQRT_PI_LO = 1.533545961316588e-17;

/**
 * Centres x0 = 0.5625 + j/8 of the Taylor expansions of erf on [0.5, 2.5): erf(x0) as a
 * double-double [hi, lo] and erf'(x0) = 2/sqrt(pi) e^(-x0^2), computed with mpmath at 50 digits.
 */
const ERF_CENTRES: readonly (readonly [number, number, number])[] = [
  [0.5736744566155919, 4.3932481677630634e-17, 0.8223213592243077],
  [0.6690846628860813, 2.1626326156388987e-17, 0.7033687321576001],
  [0.749464025586362, 1.9451069995767674e-17, 0.5831131597762814],
  [0.8151024010343998, 1.1420613234291201e-17, 0.46854458689539813],
  [0.8670582694349528, -3.319524979800146e-17, 0.36490289117800395],
  [0.9069217197816865, 3.640648704844757e-17, 0.2754431531414426],
  [0.9365685747113888, -5.454829038530475e-17, 0.20151851572462268],
  [0.95794060605646, 3.2564962193065506e-17, 0.14289802537593801],
  [0.9728746138209335, -5.1905257916652814e-18, 0.09821228080128248],
  [0.982989716601978, 4.892216560995362e-17, 0.06542348334839115],
  [0.9896306257947752, -4.6662088208165306e-17, 0.042240575617668474],
  [0.9938568063952132, -3.254802273021928e-17, 0.02643347677803051],
  [0.9964637508747902, -1.068842421162785e-17, 0.01603271410867742],
  [0.9980225088163892, -5.888411957796996e-18, 0.009425146402332227],
  [0.9989259267092776, 1.4448505662670296e-17, 0.0053702865406233535],
  [0.9994334567454198, 2.833424893807958e-19, 0.0029657539001367375],
];

/** The exact product a * b as hi + lo (Dekker's two-product, no FMA in JavaScript). */
function twoProduct(a: number, b: number): [number, number] {
  const p = a * b;
  const split = (v: number): [number, number] => {
    const c = 134217729 * v; // 2^27 + 1
    const hi = c - (c - v);
    return [hi, v - hi];
  };
  const [ah, al] = split(a);
  const [bh, bl] = split(b);
  return [p, ah * bh - p + ah * bl + al * bh + al * bl];
}

/**
 * erf(|x|) as an unevaluated sum hi + lo, good to about 1e-17 absolute (and, where erf is
 * near 1, with 1 - hi exact so that erfc keeps its relative accuracy). A plain Maclaurin
 * series cancels badly towards |x| = 2.5 (errors of 45 ulp), so:
 * - |x| < 0.5: the series as x (2/sqrt(pi)) (1 + T), T small, the leading product exact;
 * - 0.5 <= |x| < 2.5: a Taylor expansion around the nearest tabulated centre, whose
 *   derivatives come from the Hermite recurrence (erf^(n+1) = (-1)^n H_n erf'), added as a
 *   small correction to the double-double erf(x0);
 * - beyond: 1 - erfc(|x|) from a continued fraction.
 */
function erfParts(ax: number): [number, number] {
  if (ax < 0.5) {
    const x2 = ax * ax;
    let term = 1;
    let tail = 0;
    for (let n = 1; n < 40; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      tail += add;
      if (Math.abs(add) < 1e-18) break;
    }
    const [p, e] = twoProduct(TWO_OVER_SQRT_PI, ax);
    return [p, e + TWO_OVER_SQRT_PI_LO * ax + p * tail];
  }
  if (ax < 2.5) {
    const j = Math.min(Math.floor((ax - 0.5) * 8), ERF_CENTRES.length - 1);
    const x0 = 0.5625 + j / 8;
    const [hi, lo, d1] = ERF_CENTRES[j];
    const h = ax - x0;
    // sum_n (-1)^n H_n(x0) h^(n+1) / (n+1)!, with physicists' Hermite polynomials H_n.
    let hPrev = 1;
    let hCur = 2 * x0;
    let pw = h;
    let sum = h;
    for (let n = 1; n < 40; n++) {
      pw *= -h / (n + 1);
      const add = hCur * pw;
      sum += add;
      if (Math.abs(add) < 1e-18 * Math.abs(sum)) break;
      const next = 2 * x0 * hCur - 2 * n * hPrev;
      hPrev = hCur;
      hCur = next;
    }
    return [hi, lo + d1 * sum];
  }
  return [1, -erfcLarge(ax)];
}

/**
 * The error function to within about one ulp, so that GELU matches PyTorch's (the C
 * library's erf) to the last bit or nearly. JavaScript has no Math.erf.
 */
export function erf(x: number): number {
  if (Number.isNaN(x) || x === 0) return x;
  const [hi, lo] = erfParts(Math.abs(x));
  const r = hi + lo;
  return x < 0 ? -r : r;
}

/** 1 + erf(x), accurate also where it is tiny (x very negative). */
function onePlusErf(x: number): number {
  if (Number.isNaN(x)) return x;
  const [hi, lo] = erfParts(Math.abs(x));
  const sh = x < 0 ? -hi : hi;
  const sl = x < 0 ? -lo : lo;
  // Knuth's two-sum of 1 and sh, then the low parts.
  const s = 1 + sh;
  const bb = s - 1;
  const err = 1 - (s - bb) + (sh - bb);
  return s + (err + sl);
}

/** erfc(x) for x >= 2.5 from its continued fraction erfc(x) = e^{-x^2}/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))). */
function erfcLarge(x: number): number {
  if (x > 27) return 0;
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 300; n++) {
    const a = n / 2;
    d = x + a * d;
    d = d === 0 ? tiny : 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / (f * Math.sqrt(Math.PI));
}

/** Logistic sigmoid, stable for large |x|. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** softplus as PyTorch computes it with beta 1 and threshold 20: the identity above 20. */
export function softplus(x: number): number {
  return x > 20 ? x : Math.log1p(Math.exp(x));
}

/** d softplus / dx, matching the threshold of {@link softplus}. */
export function softplusGrad(x: number): number {
  return x > 20 ? 1 : sigmoid(x);
}

/** x * sigmoid(x). */
export function silu(x: number): number {
  return x * sigmoid(x);
}

/** d silu / dx = s (1 + x (1 - s)) with s = sigmoid(x). */
export function siluGrad(x: number): number {
  const s = sigmoid(x);
  return s * (1 + x * (1 - s));
}

const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 0.3989422804014327;

/** Exact GELU: x * Phi(x). */
export function gelu(x: number): number {
  return 0.5 * x * onePlusErf(x * INV_SQRT2);
}

/** d gelu / dx = Phi(x) + x * phi(x). */
export function geluGrad(x: number): number {
  return 0.5 * onePlusErf(x * INV_SQRT2) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

const GELU_K = Math.sqrt(2 / Math.PI);

/**
 * GELU with PyTorch's `approximate='tanh'`, 0.5 x (1 + tanh(u)), evaluated as x sigmoid(2u):
 * the same function, without the cancellation of 1 + tanh(u) for negative x.
 */
export function geluTanh(x: number): number {
  return x * sigmoid(2 * GELU_K * (x + 0.044715 * x * x * x));
}

/** d geluTanh / dx. */
export function geluTanhGrad(x: number): number {
  // With s = sigmoid(2u): (1 + tanh u) / 2 = s and (1 - tanh^2 u) / 2 = 2 s (1 - s).
  const s = sigmoid(2 * GELU_K * (x + 0.044715 * x * x * x));
  return s + 2 * x * s * (1 - s) * GELU_K * (1 + 3 * 0.044715 * x * x);
}

/** 0, 1 or -1 (NaN stays NaN), as torch.sign. */
export function sign(x: number): number {
  return x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : Number.NaN;
}

/** Round half to even, as torch.round. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
