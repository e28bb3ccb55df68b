/**
 * @statetune/webgpu: The WebGPU backend for @statetune/tensor: kernels in WGSL, a buffer pool and the selective-scan kernel, on Dawn in Node and navigator.gpu in browsers.
 *
 * @packageDocumentation
 */

export {};
