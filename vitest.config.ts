import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'web/src/**/*.test.ts', 'e2e/**/*.test.ts'],
    // A guard against hangs, not a speed check: a loaded 2-core machine runs the CLI tests several times slower.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Two cores: run test files in parallel but not more than the machine can carry.
    maxWorkers: 2,
    pool: 'forks',
  },
});
