import { type Backend, CpuBackend, matmul } from '@statetune/tensor';
import { afterAll, describe, it } from 'vitest';
import { MATVEC_MAX_ROWS } from '../src/kernels/matmul.js';
import { expectClose, seqTensor, testBackend } from './gpu.js';

// Matmuls with few rows (decoding steps) run matvec.wgsl instead of the 64x64 tiles; these
// compare it with the CPU around its row limit, with transposed and broadcast operands, and
// split into blocks on a device whose bindings are cut to 4 KiB (the LM head larger than one
// binding).
const gpu = await testBackend();
const small = await testBackend({ maxBindingBytes: 4096 });
const cpu = new CpuBackend();

const on = seqTensor;

describe.skipIf(!gpu || !small)('matmul with few rows', () => {
  afterAll(() => {
    gpu?.destroy();
    small?.destroy();
  });

  for (const m of [1, 3, 8, 9, MATVEC_MAX_ROWS, MATVEC_MAX_ROWS + 1]) {
    it(`m = ${m}: x @ W^T, batched x @ W and a broadcast batch`, async () => {
      for (const b of [gpu!, small!]) {
        // x @ W^T with W stored [n, k] (a Linear layer or the tied LM head).
        const x = (be: Backend) => on(be, [m, 37], 1);
        const w = (be: Backend) => on(be, [70, 37], 2);
        await expectClose(
          matmul(x(b), w(b).transpose(0, 1)),
          matmul(x(cpu), w(cpu).transpose(0, 1)),
        );
        // Batched, B not transposed, and A broadcast over the batch.
        const a3 = (be: Backend) => on(be, [2, m, 19], 3);
        const b3 = (be: Backend) => on(be, [2, 19, 45], 4);
        await expectClose(matmul(a3(b), b3(b)), matmul(a3(cpu), b3(cpu)));
        const a2 = (be: Backend) => on(be, [m, 19], 5);
        await expectClose(matmul(a2(b), b3(b)), matmul(a2(cpu), b3(cpu)));
      }
    });
  }

  it('a decoding step against a head larger than one binding is blocked and exact', async () => {
    const x = (be: Backend) => on(be, [1, 1, 64], 6);
    const head = (be: Backend) => on(be, [300, 64], 7);
    await expectClose(
      matmul(x(small!), head(small!).transpose(0, 1)),
      matmul(x(cpu), head(cpu).transpose(0, 1)),
    );
  });
});
