import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/node.ts'],
  format: ['esm', 'cjs'],
  // The project is composite for tsc -b; the declaration bundler wants a plain program.
  dts: { compilerOptions: { composite: false } },
  sourcemap: true,
  // One copy of the Tensor class and the backend registry for both entry points, in CJS too.
  splitting: true,
  clean: true,
  target: 'es2022',
  platform: 'neutral',
  external: [
    'node:worker_threads',
    'node:fs',
    'node:fs/promises',
    'node:os',
    'node:path',
    'node:url',
  ],
});
