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
  esbuildOptions(options, { format }) {
    // `import.meta` is a syntax error in CommonJS. The sources use `import.meta.url` only as
    // the base of `createRequire` (src/node/package-paths.ts), which takes a path as well.
    if (format === 'cjs') options.define = { ...options.define, 'import.meta.url': '__filename' };
  },
});
