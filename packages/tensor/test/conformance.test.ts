import { CpuBackend } from '../src/index.js';
import { defineConformanceSuite } from './conformance/suite.js';

// The op suite every backend runs, here on the CPU (webgpu runs it from its own package).
// Its reference is the CPU backend too, so on this run only the values written out in the
// suite (closed forms) are independent; the CPU kernels are checked against independent
// references (plain JS, float64, finite differences) in test/ops, test/cpu and test/optim.
defineConformanceSuite('cpu', { backend: new CpuBackend() });
