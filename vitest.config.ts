import { defineConfig } from 'vitest/config';
import { StackSequencer } from './test/stackSequencer.js';

/**
 * Two lanes, one `npm test`:
 * - `fast`: unit tests and workflow tests (stub activities on the Java time-skipping test
 *   server, promtool on the alert rules). No embedded stack, files in parallel.
 *   `npm run test:fast` runs it alone.
 * - `stack`: integration and end-to-end tests against the one embedded stack its global setup
 *   brings up; files run one after another because they share it. Runs after `fast`
 *   (`groupOrder`), so a broken unit fails the run before minutes of stack tests.
 * The file-times reporter prints every file's wall time at the end (slowest first).
 */
export default defineConfig({
  test: {
    reporters: ['default', './test/fileTimesReporter.ts'],
    // a root option (projects cannot set their own): orders the stack lane's files, see test/stackSequencer.ts
    sequence: { sequencer: StackSequencer },
    projects: [
      {
        test: {
          name: 'fast',
          include: ['test/unit/**/*.test.ts', 'test/workflows/**/*.test.ts'],
          globalSetup: ['test/fastSetup.ts'],
          pool: 'forks',
          fileParallelism: true,
          maxWorkers: 2,
          testTimeout: 120_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'stack',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/globalSetup.ts'],
          setupFiles: ['test/stackEnv.ts'],
          sequence: { groupOrder: 1 },
          pool: 'forks',
          fileParallelism: false,
          testTimeout: 240_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
