// Backward selective scan. Grid: (channel slots, segments, batch). A workgroup walks the
// chunks of its segment in reverse for CH channels at a time (slot, slot + slots, ...), an
// invocation per state element: it recomputes the chunk's states from the saved checkpoint
// into a private array, then runs the adjoint recurrence through them. Per step, with
// dy' = dy silu(z) and g the gradient of the state after the step:
//   gn = g + dy' C             dC += dy' (h + off)      dB += gn dt u      doff += dy' C
//   dA += gn h_prev a dt       g = gn a                 du = dy' D + dt sum_n gn B
//   ddelta = (sum_n gn h_prev a A + u sum_n gn B) dt'   yPre = sum_n C (h + off) + D u
// Sums over the state axis go through reduce_state; dB and dC are summed over the
// workgroup's channels in workgroup memory and then over slots by backward-bc.wgsl, and
// the per-channel sums (dA, doff, dD, dbias, dh0) are written per segment and summed by
// backward-params.wgsl: fixed orders everywhere, no atomics.
// In place: `dtv` holds delta + bias on entry and ddelta on exit; `dyz` holds dy' on entry
// and, when z is given, yPre on exit (gate-grad.wgsl turns it into dz). Each chunk is first
// staged in workgroup memory, so these overwrites never race with reads.

@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<storage, read> Bm: array<f32>;
@group(0) @binding(3) var<storage, read> Cm: array<f32>;
@group(0) @binding(4) var<storage, read> saved: array<f32>;
@group(0) @binding(5) var<storage, read_write> work: array<f32>;
@group(0) @binding(6) var<storage, read_write> dtv: array<f32>;
@group(0) @binding(7) var<storage, read_write> dyz: array<f32>;
@group(0) @binding(8) var<storage, read_write> du: array<f32>;

var<workgroup> vW: array<f32, CHUNK * CH>;
var<workgroup> uW: array<f32, CHUNK * CH>;
var<workgroup> dyW: array<f32, CHUNK * CH>;
// (dB, dC) of every invocation, two halves alternating between steps.
var<workgroup> bcW: array<vec2<f32>, 2u * WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let N = S.dstate;
  let L = S.seqlen;
  let ch = lane / NPAD;
  let n = lane % NPAD;
  let slot = wid.x;
  let seg = wid.y;
  let b = wid.z;
  let nc = min(n, N - 1u);
  let c0 = seg * S.seg_chunks;
  let c1 = min(S.n_chunks, c0 + S.seg_chunks);
  let plane = S.batch * S.dim * N;
  var hs: array<f32, CHUNK + 1u>;
  var par = 0u;
  var first = true;

  for (var cg = slot; cg < S.n_cg; cg += S.slots) {
    let d = cg * CH + ch;
    let valid = n < N && d < S.dim;
    let dc = min(d, S.dim - 1u);
    let bd = b * S.dim + dc;
    let Ad = select(0.0, work[S.off_A + dc * N + nc], valid);
    var off = 0.0;
    if (has(F_OFF)) {
      let row = select(dc, bd, has(F_OFF_BATCHED));
      off = work[S.off_off + row * N + nc];
    }
    var Dd = 0.0;
    if (has(F_D)) {
      Dd = work[S.off_D + dc];
    }
    // The gradient flowing into the end of this segment: dLastState carried back through the
    // later segments (backward-carry.wgsl).
    var g = 0.0;
    if (has(F_DLAST)) {
      g = work[S.off_dlast + bd * N + nc];
    }
    for (var s = S.n_seg - 1u; s > seg; s--) {
      let at = S.off_sum + ((bd * S.n_seg + s) * N + nc) * 2u;
      g = work[at] * g + work[at + 1u];
    }
    g = select(0.0, g, valid);
    var dA = 0.0;
    var dOff = 0.0;
    var dD = 0.0;
    var dBias = 0.0;

    for (var c = c1; c > c0; c--) {
      let t0 = (c - 1u) * CHUNK;
      let len = min(CHUNK, L - t0);
      workgroupBarrier();
      for (var i = lane; i < CH * CHUNK; i += WG) {
        let sd = cg * CH + i / CHUNK;
        let k = i % CHUNK;
        if (sd < S.dim && k < len) {
          let at = (b * S.dim + sd) * L + t0 + k;
          vW[i] = dtv[at];
          uW[i] = u[at];
          dyW[i] = dyz[at];
        } else {
          vW[i] = 0.0;
          uW[i] = 0.0;
          dyW[i] = 0.0;
        }
      }
      workgroupBarrier();

      var h = select(0.0, saved[(c - 1u) * plane + bd * N + nc], valid);
      hs[0] = h;
      for (var k = 0u; k < len; k++) {
        let dt = dt_of(vW[ch * CHUNK + k]);
        h = exp(dt * Ad) * h + dt * Bm[(b * N + nc) * L + t0 + k] * uW[ch * CHUNK + k];
        hs[k + 1u] = h;
      }

      for (var k1 = len; k1 > 0u; k1--) {
        let k = k1 - 1u;
        let t = t0 + k;
        let v = vW[ch * CHUNK + k];
        let dt = dt_of(v);
        let a = exp(dt * Ad);
        let uu = uW[ch * CHUNK + k];
        let dyp = dyW[ch * CHUNK + k];
        let bc = (b * N + nc) * L + t;
        let Bn = select(0.0, Bm[bc], valid);
        let Cn = select(0.0, Cm[bc], valid);
        let hk = hs[k1];
        let hp = hs[k];
        let gn = g + dyp * Cn;
        let gha = gn * hp * a;
        dOff += dyp * Cn;
        dA += gha * dt;
        g = gn * a;
        bcW[par * WG + lane] = select(vec2<f32>(0.0), vec2<f32>(gn * dt * uu, dyp * (hk + off)), valid);
        let r = reduce_state(vec4<f32>(gn * Bn, gha * Ad, Cn * (hk + off), 0.0), lane, par);
        if (!REDUCE_SYNCS) {
          workgroupBarrier();
        }
        if (ch == 0u && n < N) {
          var sum = vec2<f32>(0.0);
          for (var j = 0u; j < CH; j++) {
            sum += bcW[par * WG + j * NPAD + n];
          }
          let at = S.off_pBC + (((b * S.slots + slot) * L + t) * N + n) * 2u;
          if (!first) {
            sum += vec2<f32>(work[at], work[at + 1u]);
          }
          work[at] = sum.x;
          work[at + 1u] = sum.y;
        }
        if (n == 0u && d < S.dim) {
          let i = bd * L + t;
          du[i] = dyp * Dd + r.x * dt;
          let dv = (r.y + r.x * uu) * dt_grad(v);
          dtv[i] = dv;
          dBias += dv;
          dD += dyp * uu;
          if (has(F_Z)) {
            dyz[i] = r.z + Dd * uu;
          }
        }
        par ^= 1u;
      }
    }

    if (valid) {
      let at = (bd * S.n_seg + seg) * N + n;
      work[S.off_pA + at] = dA;
      if (has(F_OFF)) {
        work[S.off_pOff + at] = dOff;
      }
      if (seg == 0u && has(F_H0)) {
        work[S.off_pH0 + bd * N + n] = g;
      }
    }
    if (n == 0u && d < S.dim) {
      work[S.off_pD + bd * S.n_seg + seg] = dD;
      work[S.off_pBias + bd * S.n_seg + seg] = dBias;
    }
    first = false;
  }
}
