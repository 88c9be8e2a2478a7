import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { workflowsPath } from '../workers/worker.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The workflow code bundled once per fast-lane run (every workflow test file's worker loads it). */
    workflowBundlePath: string;
  }
}

/**
 * The fast lane's global setup: bundles the workflow code once (webpack, ~10 s of CPU) for
 * every workflow test file and the replay test, instead of once per file. Starts no service.
 */
export default async function setup(project: TestProject) {
  const t0 = Date.now();
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: console.warn,
      error: console.error,
    },
  });
  const dir = path.join(process.cwd(), '.rekey', 'test');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `workflow-bundle-${process.pid}.js`);
  fs.writeFileSync(file, code);
  project.provide('workflowBundlePath', file);
  console.error(`[fast] workflow code bundled once in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return () => fs.rmSync(file, { force: true });
}
