import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/node.ts'],
  format: ['esm', 'cjs'],
  // The project is composite for tsc -b; the declaration bundler wants a plain program.
  dts: { compilerOptions: { composite: false } },
  sourcemap: true,
  splitting: true,
  clean: true,
  target: 'es2022',
  platform: 'neutral',
  external: [/^node:/, /^@statetune\//],
  // `import.meta.url` (src/node/package-paths.ts) is a syntax error in CommonJS: tsup's shims
  // give the CommonJS build a file URL built from `__filename` instead.
  shims: true,
});
