import { defineConfig } from 'vitest/config';

// One vitest run from the root covers every workspace; each package keeps its own
// vitest.config.ts (name, environment, timeouts) and is listed here as a project.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*'],
  },
});
