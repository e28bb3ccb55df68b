import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@statetune/source'] },
  test: {
    name: 'char-lm',
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
  },
});
