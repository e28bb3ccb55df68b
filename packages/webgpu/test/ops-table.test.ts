import { BINARY_OPS, UNARY_OPS } from '@statetune/tensor';
import { describe, expect, it } from 'vitest';
import { WGSL_BINARY, WGSL_UNARY } from '../src/index.js';

describe('WGSL op table', () => {
  it('has an entry for every unary op of the tensor core, and no other', () => {
    expect(Object.keys(WGSL_UNARY).sort()).toEqual(Object.keys(UNARY_OPS).sort());
  });

  it('has an entry for every binary op of the tensor core, and no other', () => {
    expect(Object.keys(WGSL_BINARY).sort()).toEqual(Object.keys(BINARY_OPS).sort());
  });

  it('gives an int32 form to every op that keeps int32', () => {
    for (const [op, spec] of Object.entries(UNARY_OPS)) {
      if ('keepsInt' in spec) expect(WGSL_UNARY[op as keyof typeof UNARY_OPS].i, op).toBeTruthy();
    }
    for (const [op, spec] of Object.entries(BINARY_OPS)) {
      if (!('floatOnly' in spec)) {
        expect(WGSL_BINARY[op as keyof typeof BINARY_OPS].i, op).toBeTruthy();
      }
    }
  });
});
