import { defineConformanceSuite } from '../../tensor/test/conformance/suite.js';
import { sharedBackend } from './gpu.js';

// The tensor core's op suite, on the device (skipped with the reason printed when this
// machine has no WebGPU adapter, unless STATETUNE_REQUIRE_WEBGPU=1).
defineConformanceSuite('webgpu', { backend: await sharedBackend() });
