import { loadStackConfig } from '../scripts/stack/config.js';
import { down, status, up } from '../scripts/stack/stack.js';
import { usePipelineStore } from '../scripts/stack/pipelineStore.js';

/**
 * The stack lane's global setup: brings the embedded stack up once per run (reusing a
 * running one). The fast lane has none. A stack this run started is stopped afterwards
 * unless REKEY_KEEP_STACK=1.
 */
export default async function setup() {
  const cfg = loadStackConfig();
  const before = await status(cfg);
  const wasRunning = before.every((s) => s.healthy);
  const t0 = Date.now();
  await up(cfg, (line) => console.error(`[stack] ${line}`));
  // the tests start from the file store (a `demo --store kubernetes` may have moved the pipeline)
  await usePipelineStore(cfg, 'file');
  console.error(`[stack] ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return async () => {
    if (!wasRunning && process.env.REKEY_KEEP_STACK !== '1') await down(cfg, {}, (line) => console.error(`[stack] ${line}`));
  };
}
