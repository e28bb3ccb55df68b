import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@statetune/source'] },
  test: {
    name: 'webgpu',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
  },
});
