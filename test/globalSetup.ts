import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { loadStackConfig, type StackConfig } from '../scripts/stack/config.js';
import { failureConverterPath } from '../workers/codec.js';
import { workflowsPath } from '../workers/worker.js';
import { down, status, up } from '../scripts/stack/stack.js';
import { usePipelineStore } from '../scripts/stack/pipelineStore.js';

/**
 * The stack lane's global setup: brings the embedded stack up once per run (reusing a
 * running one). The fast lane has none. A stack this run started is stopped afterwards
 * unless REKEY_KEEP_STACK=1.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    /** The workflow code bundled once for the stack lane's workers (REKEY_DEV_WORKFLOW_BUNDLE, set by test/stackEnv.ts). */
    stackWorkflowBundlePath: string;
  }
}

/** Every test worker (in-process or a worker process) loads this instead of bundling for ~5 s at its start. */
async function bundleOnce(project: TestProject, dir: string) {
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    failureConverterPath,
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: console.warn,
      error: console.error,
    },
  });
  const file = path.join(dir, 'test', `stack-workflow-bundle-${process.pid}.js`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, code);
  project.provide('stackWorkflowBundlePath', file);
  return file;
}

/**
 * The side lane shares the stack the stack lane brought up (scripts/testLanes.ts): it waits
 * until every service answers and never starts one. A pipeline file may be restarting Connect
 * or the registry at that moment; `up` would then see a port in use and fail the lane.
 */
async function awaitShared(cfg: StackConfig) {
  const deadline = Date.now() + 600_000;
  let lastSaid = 0;
  for (;;) {
    const down = (await status(cfg)).filter((s) => !s.healthy).map((s) => s.name);
    if (down.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`[stack] the shared stack is not healthy after 600 s: ${down.join(', ')}`);
    if (Date.now() - lastSaid > 15_000) {
      console.error(
        `[stack] waiting for the shared stack: ${down.join(', ')} not answering yet (another lane may be restarting it)`,
      );
      lastSaid = Date.now();
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

export default async function setup(project: TestProject) {
  const cfg = loadStackConfig();
  const bundle = await bundleOnce(project, cfg.dir);
  const before = await status(cfg);
  const wasRunning = before.every((s) => s.healthy);
  const t0 = Date.now();
  if (process.env.REKEY_STACK_SHARED === '1') await awaitShared(cfg);
  else await up(cfg, (line) => console.error(`[stack] ${line}`));
  // the tests start from the file store (a `demo --store kubernetes` may have moved the pipeline);
  // not for the side lane, which starts while the pipeline's own files run (one may have moved it on purpose)
  if (project.name !== 'stack-side') await usePipelineStore(cfg, 'file');
  console.error(`[stack] ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return async () => {
    fs.rmSync(bundle, { force: true });
    if (!wasRunning && process.env.REKEY_KEEP_STACK !== '1')
      await down(cfg, {}, (line) => console.error(`[stack] ${line}`));
  };
}
