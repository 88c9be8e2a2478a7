import fs from 'node:fs';
import path from 'node:path';
import type { WorkloadRuntime } from '../../activities/workloads.js';
import { loadStackConfig, repoRoot, type StackConfig } from './config.js';
import { isAlive, sleep, spawnDetached } from './proc.js';
import { sampleAppStatsFile } from './sampleAppDb.js';

export interface SampleAppStats {
  pid: number;
  stamp: string;
  user: string;
  ok: number;
  failed: number;
  lastError: string;
  running: boolean;
}

/** Every instance's counters (running or drained) since the stats were last cleared. */
export function sampleAppStats(cfg: StackConfig): SampleAppStats[] {
  return fs
    .readdirSync(cfg.runDir)
    .filter((f) => /^orders-app\.\d+\.json$/.test(f))
    .flatMap((f) => {
      try {
        return [JSON.parse(fs.readFileSync(path.join(cfg.runDir, f), 'utf8')) as SampleAppStats];
      } catch {
        return []; // being rewritten
      }
    });
}

export function clearSampleAppStats(cfg: StackConfig): void {
  for (const s of sampleAppStats(cfg))
    if (!s.running || !isAlive(s.pid)) fs.rmSync(sampleAppStatsFile(cfg, s.pid), { force: true });
}

const running = (cfg: StackConfig) => sampleAppStats(cfg).filter((s) => s.running && isAlive(s.pid));

/** Starts one instance (with its rollout stamp) and waits until its first queries succeeded. */
export async function startSampleApp(cfg: StackConfig, stamp = ''): Promise<SampleAppStats> {
  const pid = spawnDetached({
    name: `orders-app-${Date.now()}`,
    command: process.execPath,
    args: ['--import', 'tsx', path.join(repoRoot, 'scripts', 'stack', 'sampleApp.ts')],
    env: { REKEY_ROLLOUT_STAMP: stamp },
    cwd: repoRoot,
    runDir: cfg.runDir,
    logPath: path.join(cfg.logDir, 'orders-app.log'),
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const seen = sampleAppStats(cfg).find((s) => s.pid === pid);
    if (seen && seen.ok > 0) return seen;
    if (!isAlive(pid)) throw new Error(`orders-app ${pid} exited: see ${path.join(cfg.logDir, 'orders-app.log')}`);
    if (Date.now() > deadline)
      throw new Error(`orders-app ${pid} served no query in 60 s (${seen?.lastError ?? 'no stats'})`);
    await sleep(200);
  }
}

/** SIGTERM (it drains its queries and closes its pool), SIGKILL after 30 s. */
async function stopInstance(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + 30_000;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

/** Stops every instance. */
export async function stopSampleApp(cfg: StackConfig): Promise<void> {
  for (const s of running(cfg)) await stopInstance(s.pid);
}

/**
 * The sample application as `Deployment/orders-app` would roll with maxSurge 1 / maxUnavailable
 * 0: a new instance (reading the secret as it is now) serves before the old ones drain. A retry
 * with the same stamp finds its instance running and only retires the older ones.
 */
export function localSampleApp(env: NodeJS.ProcessEnv = process.env): WorkloadRuntime {
  const cfg = loadStackConfig(env);
  return {
    async roll(restartedAt, onProgress) {
      const before = running(cfg);
      const fresh = before.find((s) => s.stamp === restartedAt) ?? (await startSampleApp(cfg, restartedAt));
      onProgress(`orders-app ${fresh.pid} serves as ${fresh.user}; draining ${before.length} older instance(s)`);
      for (const s of before) if (s.pid !== fresh.pid) await stopInstance(s.pid);
      return { ready: 1 };
    },
  };
}
