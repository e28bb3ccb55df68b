import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@statetune/source'] },
  // Tests run in Node (SSR): read workspace packages from their sources there too, not dist.
  ssr: { resolve: { conditions: ['@statetune/source'] } },
  test: {
    name: 'trainer',
    include: ['test/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
