import { createHash } from 'node:crypto';
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

/** What dist/ is built from; the stamp lets a second caller (two test files, a rebuild) skip an unchanged build. */
function sourceDigest(): string {
  const h = createHash('sha256');
  const walk = (dir: string): string[] =>
    fs
      .readdirSync(dir, { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  const files = [
    ...['contracts', 'workflows', 'activities', 'workers', 'cli'].flatMap((d) => walk(path.join(repoRoot, d))),
    ...['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'].map((f) => path.join(repoRoot, f)),
  ].sort();
  for (const f of files) h.update(path.relative(repoRoot, f)).update('\0').update(fs.readFileSync(f));
  return h.digest('hex');
}
const stampFile = path.join(dist, '.source-digest');
const digest = sourceDigest();
if (
  !process.argv.includes('--force') &&
  fs.existsSync(path.join(dist, 'workflow-bundle.js')) &&
  fs.existsSync(stampFile) &&
  fs.readFileSync(stampFile, 'utf8') === digest
) {
  console.log(`dist/ is up to date with the sources (${digest.slice(0, 12)}); --force rebuilds`);
  process.exit(0);
}
fs.rmSync(dist, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', path.join(repoRoot, 'tsconfig.build.json')],
  { stdio: 'inherit' },
);
fs.copyFileSync(path.join(repoRoot, 'workers/failure-converter.cjs'), path.join(dist, 'workers/failure-converter.cjs'));
const { code } = await bundleWorkflowCode({
  workflowsPath: path.join(dist, 'workflows/index.js'),
  failureConverterPath: path.join(dist, 'workers/failure-converter.cjs'),
  logger: {
    log: () => undefined,
    trace: () => undefined,
    debug: () => undefined,
    info: () => undefined,
    warn: console.warn,
    error: console.error,
  },
});
fs.writeFileSync(path.join(dist, 'workflow-bundle.js'), code);
fs.writeFileSync(stampFile, digest);
console.log(
  `built dist/ (workflow bundle ${(code.length / 1024 / 1024).toFixed(1)} MiB) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
);
