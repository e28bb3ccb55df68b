import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@statetune/source'] },
  // Tests run in Node (SSR): read workspace packages from their sources there too, not dist.
  ssr: { resolve: { conditions: ['@statetune/source'] } },
  test: {
    name: 'peft',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // Device start-up and shader compilation in beforeAll can be slow on a cold software adapter.
    hookTimeout: 120_000,
  },
});
