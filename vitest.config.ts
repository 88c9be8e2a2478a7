import { defineConfig } from 'vitest/config';
import { StackSequencer } from './test/stackSequencer.js';
import { stackSideFiles } from './test/laneFiles.js';

/**
 * Two lanes, one `npm test` (scripts/testLanes.ts runs them at once, as separate processes):
 * - `fast`: unit tests and workflow tests (stub activities on the Java time-skipping test
 *   server, promtool on the alert rules). No embedded stack, files in parallel.
 *   `npm run test:fast` runs it alone.
 * - `stack` (+ `stack-side`): integration and end-to-end tests against the one embedded stack
 *   its global setup brings up; the pipeline's files run one after another because they share
 *   it. `npm run test:stack` runs both projects, one after the other (`groupOrder`).
 * The file-times reporter prints every file's wall time at the end (slowest first).
 */
const stackProject = (name: string, include: string[], exclude: string[], groupOrder: number) => ({
  test: {
    name,
    include,
    exclude,
    globalSetup: ['test/globalSetup.ts'],
    setupFiles: ['test/stackEnv.ts'],
    sequence: { groupOrder },
    pool: 'forks' as const,
    fileParallelism: false,
    // one process and one module cache for the lane's files (≈ 2.5 s of imports saved per file);
    // each file still starts its own workers and clients. REKEY_STACK_ISOLATE=1 isolates them again.
    isolate: process.env.REKEY_STACK_ISOLATE === '1',
    testTimeout: 240_000,
    hookTimeout: 300_000,
  },
});

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
          // npm test runs this lane beside the stack lane on one worker (REKEY_FAST_WORKERS=1); alone it takes both cores
          maxWorkers: Number(process.env.REKEY_FAST_WORKERS ?? 2),
          testTimeout: 120_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 0 },
        },
      },
      stackProject('stack', ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'], stackSideFiles, 1),
      stackProject('stack-side', stackSideFiles, [], 2),
    ],
  },
});
