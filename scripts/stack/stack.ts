import fs from 'node:fs';
import type { StackConfig } from './config.js';
import { connect } from './connect.js';
import { kafka } from './kafka.js';
import { moto } from './moto.js';
import { postgres } from './postgres.js';
import { portInUse, StackError } from './proc.js';
import { registry } from './registry.js';
import type { Service } from './service.js';
import { temporal } from './temporal.js';
import { kube } from './kube.js';
import { codecServer } from './codec.js';
import { kubelet } from './kubelet.js';
import { s3Sink } from './s3Sink.js';

/**
 * Start order: Connect needs Kafka, a seeded PostgreSQL and the registry (its converter registers schemas); Kubernetes is seeded with the
 * secrets the others generated; the kubelet then runs the Connect pod (it restarts Connect).
 */
export const services: Service[] = [
  codecServer,
  temporal,
  postgres,
  kafka,
  registry,
  connect,
  moto,
  s3Sink,
  kube,
  kubelet,
];

export interface ServiceStatus {
  name: string;
  url: string;
  healthy: boolean;
  [extra: string]: unknown;
}

async function isHealthy(cfg: StackConfig, s: Service): Promise<boolean> {
  try {
    return await s.healthy(cfg);
  } catch {
    return false;
  }
}

export async function status(cfg: StackConfig): Promise<ServiceStatus[]> {
  return Promise.all(
    services.map(async (s) => ({
      name: s.name,
      url: s.url(cfg),
      healthy: await isHealthy(cfg, s),
      ...(s.extra?.(cfg) ?? {}),
    })),
  );
}

/**
 * Starts whatever is not running, seeds every service, and returns their status.
 * If one fails, the services this call started are stopped again, so a failed `up`
 * never leaves a half-started stack behind.
 */
/** What the demo's rotation needs: it never builds the tools of the other services (Kubernetes binaries take minutes cold). */
export const demoServices = ['codec-server', 'temporal', 'postgres', 'kafka', 'schema-registry', 'kafka-connect'];

export async function up(
  cfg: StackConfig,
  log: (line: string) => void = console.error,
  opts: { only?: string[] } = {},
): Promise<ServiceStatus[]> {
  for (const d of [cfg.dir, cfg.dataDir, cfg.logDir, cfg.runDir]) fs.mkdirSync(d, { recursive: true });
  fs.mkdirSync(cfg.secretsDir, { recursive: true, mode: 0o700 });
  const started: Service[] = [];
  try {
    for (const s of services.filter((x) => !opts.only || opts.only.includes(x.name))) {
      const t0 = Date.now();
      if (await isHealthy(cfg, s)) {
        log(`${s.name}: already running at ${s.url(cfg)}`);
      } else {
        for (const port of s.ports(cfg)) {
          if (await portInUse(port)) {
            throw new StackError(
              s.name,
              `port ${port} on 127.0.0.1 is taken by another process; free it or choose another port (see README, "Ports")`,
            );
          }
        }
        log(`${s.name}: installing (cached after the first run)`);
        await s.install(cfg);
        log(`${s.name}: starting`);
        started.push(s);
        await s.start(cfg);
      }
      if (s.seed) {
        try {
          await s.seed(cfg);
        } catch (err) {
          throw err instanceof StackError
            ? err
            : new StackError(s.name, `seeding failed: ${(err as Error).message}`, `${cfg.logDir}/${s.name}.log`);
        }
      }
      log(`${s.name}: healthy at ${s.url(cfg)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  } catch (err) {
    if (started.length > 0) {
      log(`stopping what this run started: ${started.map((s) => s.name).join(', ')}`);
      for (const s of [...started].reverse()) await s.stop(cfg).catch(() => undefined);
    }
    throw err;
  }
  return settled(cfg, log, (x) => !opts.only || opts.only.includes(x.name));
}

/** How long `up` waits for a service a later one restarted (the kubelet restarts Connect as its pod) to answer again. */
const SETTLE_MS = 90_000;

/** The services' status once every one answers again, or as it stands after SETTLE_MS. */
async function settled(
  cfg: StackConfig,
  log: (line: string) => void,
  wanted: (s: ServiceStatus) => boolean,
): Promise<ServiceStatus[]> {
  const deadline = Date.now() + SETTLE_MS;
  let list = (await status(cfg)).filter(wanted);
  let said = '';
  while (list.some((s) => !s.healthy) && Date.now() < deadline) {
    const waiting = list
      .filter((s) => !s.healthy)
      .map((s) => s.name)
      .join(', ');
    if (waiting !== said) log(`waiting for ${waiting} to answer again (restarted by a later service)`);
    said = waiting;
    await new Promise((r) => setTimeout(r, 2000));
    list = (await status(cfg)).filter(wanted);
  }
  return list;
}

export async function down(
  cfg: StackConfig,
  opts: { purge?: boolean } = {},
  log: (line: string) => void = console.error,
): Promise<void> {
  for (const s of [...services].reverse()) {
    await s.stop(cfg);
    log(`${s.name}: stopped`);
  }
  if (opts.purge) {
    fs.rmSync(cfg.dir, { recursive: true, force: true });
    log(`purged ${cfg.dir}`);
  }
}
