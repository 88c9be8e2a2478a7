import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { bundleWorkflowCode } from '@temporalio/worker';
import { repoRoot } from './stack/config.js';

/**
 * `npm run build:worker`: what the image runs, built once. Compiles the production code
 * (workflows, activities, workers) to dist/, copies the CommonJS failure converter, and
 * pre-bundles the workflows (with that converter) into dist/workflow-bundle.js, so the
 * worker starts from production dependencies alone: `node dist/workers/main.js`.
 */
const dist = path.join(repoRoot, 'dist');
const t0 = Date.now();
fs.rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', path.join(repoRoot, 'tsconfig.build.json')], { stdio: 'inherit' });
fs.copyFileSync(path.join(repoRoot, 'workers/failure-converter.cjs'), path.join(dist, 'workers/failure-converter.cjs'));
const { code } = await bundleWorkflowCode({
  workflowsPath: path.join(dist, 'workflows/index.js'),
  failureConverterPath: path.join(dist, 'workers/failure-converter.cjs'),
  logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: console.warn, error: console.error },
});
fs.writeFileSync(path.join(dist, 'workflow-bundle.js'), code);
console.log(`built dist/ (workflow bundle ${(code.length / 1024 / 1024).toFixed(1)} MiB) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
