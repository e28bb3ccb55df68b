// Geometry of the per-channel kernels: a workgroup holds CH channels of one batch entry, and
// each channel NPAD invocations, one per state element (NPAD = dstate rounded up to a power
// of two, so the state axis can be summed by a butterfly; the padding lanes carry zeros).
// Invocation `lane` is channel lane / NPAD, state lane % NPAD.

override NPAD: u32;
override CH: u32;
override WG: u32 = NPAD * CH;
