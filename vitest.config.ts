import { defineConfig } from 'vitest/config';

// One embedded stack (and one Temporal dev server) for the whole run, started by the
// global setup; files run one after another because they share it.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 300_000,
    reporters: ['default'],
  },
});
