import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/cli.ts'],
  format: ['esm'],
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  // Workspace packages and npm dependencies are installed beside the app, not bundled.
  external: [/^@statetune\//, 'cac', 'yaml'],
  banner: { js: '#!/usr/bin/env node' },
});
