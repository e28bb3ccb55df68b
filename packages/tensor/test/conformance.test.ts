import { CpuBackend } from '../src/index.js';
import { defineConformanceSuite } from './conformance/suite.js';

// The op suite every backend runs, here on the CPU (webgpu runs it from its own package).
defineConformanceSuite('cpu', { backend: new CpuBackend() });
