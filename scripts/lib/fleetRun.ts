import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { startPostgresCdcRotation } from '../../workers/startRotation.js';
import type { RotationResult } from '../../workflows/rotation/index.js';
import type { WorkerConfig } from '../../workers/config.js';
import { repoRoot, type StackConfig } from '../stack/config.js';
import { fleetRotationInput, fleetStore, type FleetTarget } from '../stack/fleet.js';
import { fleetDelivery, FleetLoad, FleetWatcher } from './fleetLoad.js';
import { historyFigures, percentile, ProcessSampler } from './fleetMeasure.js';

export interface FleetRunOptions {
  client: Client;
  db: pg.Client;
  stack: StackConfig;
  brokers: string[];
  targets: FleetTarget[];
  workers: number;
  /** Inserts per second across the fleet. */
  rate: number;
  gracePeriod: string;
  /** The workers' environment: productionWorkerEnv() plus the concurrency settings under test. */
  workerEnv: NodeJS.ProcessEnv;
  log: (line: string) => void;
}

/**
 * The worker as production runs it (`node dist/workers/main.js`, the pre-built workflow
 * bundle, configured by environment), pointed at the embedded stack: a fleet rotation
 * (reload-connector; file store or the Kubernetes API) needs none of the stack's stand-ins. Each worker is its own
 * process, so RSS and CPU are the worker's alone.
 */
/** The worker image's NODE_OPTIONS (`Dockerfile`, checked by test/unit/fleetSettings.test.ts): the fleet is measured as it ships. */
export const imageNodeOptions = '--max-old-space-size=160 --max-semi-space-size=1';

export function productionWorkerEnv(stack: StackConfig, config: WorkerConfig): NodeJS.ProcessEnv {
  const secrets =
    config.secrets.kind === 'kubernetes'
      ? {
          REKEY_SECRET_STORE: 'kubernetes',
          REKEY_K8S_NAMESPACE: config.secrets.namespace,
          KUBECONFIG: config.secrets.kubeconfig,
        }
      : { REKEY_SECRET_STORE: 'file', REKEY_SECRETS_DIR: config.secrets.dir };
  return {
    REKEY_TEMPORAL_ADDRESS: config.temporal.address,
    REKEY_TEMPORAL_NAMESPACE: config.temporal.namespace,
    REKEY_CODEC_KEY_FILE: path.join(stack.dir, 'codec.key'),
    ...secrets,
    REKEY_PG_HOST: config.postgres.host,
    REKEY_PG_PORT: String(config.postgres.port),
    REKEY_PG_DATABASE: config.postgres.database,
    REKEY_PG_ADMIN_SECRET: config.postgres.adminSecret,
    REKEY_CONNECT_URL: config.kafkaConnect.url,
    REKEY_CONNECT_AUTH_SECRET: config.kafkaConnect.auth?.secret,
    REKEY_KAFKA_BROKERS: config.kafka.brokers.join(','),
    // as the platform plan secures Kafka: SCRAM over TLS as rekey's principal
    REKEY_KAFKA_SASL_SECRET: config.kafka.sasl?.secret,
    REKEY_KAFKA_CA_FILE: config.kafka.caFile,
    REKEY_REGISTRY_URL: config.schemaRegistry.url,
    REKEY_AWS_ENDPOINT: config.aws.endpoint,
    REKEY_AUDIT_LOG: config.audit.path,
    // several production workers on one machine: no fixed ports (the built-worker e2e probes one worker's health)
    REKEY_METRICS_ADDRESS: 'off',
    REKEY_HEALTH_ADDRESS: 'off',
    REKEY_LOG_LEVEL: 'warn',
  };
}

function startWorkers(stack: StackConfig, taskQueue: string, count: number, env: NodeJS.ProcessEnv): ChildProcess[] {
  const entry = path.join(repoRoot, 'dist/workers/main.js');
  if (!fs.existsSync(entry)) throw new Error('dist/workers/main.js is missing: npm run build:worker');
  return Array.from({ length: count }, (_, i) => {
    const out = fs.openSync(path.join(stack.logDir, `bench-fleet-worker-${i + 1}.log`), 'a');
    const child = spawn(process.execPath, [entry], {
      cwd: repoRoot,
      env: { ...process.env, ...env, REKEY_TASK_QUEUE: taskQueue },
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    return child;
  });
}

async function stopWorkers(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 40_000))]);
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }),
  );
}

/** After a rotation: the target has exactly one login role, and it is the one its Secret names. */
async function oneLoginRole(db: pg.Client, t: FleetTarget, secretUser: string | undefined): Promise<boolean> {
  const { rows } = await db.query<{ rolname: string }>(
    `SELECT r.rolname FROM pg_roles r JOIN pg_auth_members m ON m.member = r.oid JOIN pg_roles p ON p.oid = m.roleid WHERE p.rolname = $1 AND r.rolcanlogin`,
    [t.parentRole],
  );
  return rows.length === 1 && rows[0]!.rolname === secretUser;
}

/** Rejects when a worker process exits while the batch runs, naming its exit and the last line of its log. */
function workerDied(stack: StackConfig, children: ChildProcess[]) {
  let cancelled = false;
  const promise = new Promise<never>((_, reject) =>
    children.forEach((c, i) => {
      const exited = (code: number | null, signal: NodeJS.Signals | null) => {
        if (cancelled) return;
        const log = path.join(stack.logDir, `bench-fleet-worker-${i + 1}.log`);
        const last = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').pop() : '';
        reject(
          new Error(
            `worker ${i + 1} exited (${signal ?? `code ${code}`}) before the rotations finished: ${last?.slice(0, 300)} (${log})`,
          ),
        );
      };
      // it may have died before this listener (a flag node refuses ends it at once)
      if (c.exitCode !== null || c.signalCode !== null) exited(c.exitCode, c.signalCode);
      else c.once('exit', exited);
    }),
  );
  promise.catch(() => undefined);
  return { promise, cancel: () => (cancelled = true) };
}

/**
 * Rotates every target at once on `workers` worker processes while rows flow into every
 * target, then reads the figures: wall time, each rotation's time, worker RSS/CPU, Temporal
 * actions from the histories, and lost events per target.
 */
export async function rotateFleet(o: FleetRunOptions) {
  const taskQueue = `rekey-bench-fleet-${process.pid}-${Date.now()}`;
  const children = startWorkers(o.stack, taskQueue, o.workers, o.workerEnv);
  const sampler = new ProcessSampler(children.map((c) => c.pid!));
  sampler.start();
  const load = new FleetLoad(o.db, o.targets, o.rate);
  const watcher = new FleetWatcher(o.brokers, o.targets, `fleet-${load.runId}-`);
  await watcher.start();
  load.start();
  const t0 = Date.now();
  const outcomes: Array<{ target: string; workflowId: string; status: string; ms: number; error?: string }> = [];
  try {
    const handles = await Promise.all(
      o.targets.map((t) => startPostgresCdcRotation(o.client, fleetRotationInput(t, o.gracePeriod), { taskQueue })),
    );
    o.log(`${handles.length} rotations started on ${o.workers} worker(s)`);
    const progress = setInterval(
      () => o.log(`  ${outcomes.length}/${handles.length} finished, ${Math.round((Date.now() - t0) / 1000)} s`),
      15_000,
    );
    const died = workerDied(o.stack, children);
    try {
      await Promise.race([
        died.promise,
        Promise.all(
          handles.map(async (h, i) => {
            const target = o.targets[i]!.name;
            try {
              const r = (await h.result()) as RotationResult;
              outcomes.push({ target, workflowId: h.workflowId, status: r.status, ms: Date.now() - t0 });
            } catch (err) {
              outcomes.push({
                target,
                workflowId: h.workflowId,
                status: 'failed',
                ms: Date.now() - t0,
                error: (err as Error).cause ? String((err as { cause: Error }).cause.message) : (err as Error).message,
              });
            }
          }),
        ),
      ]).catch(async (err: Error) => {
        // a worker that cannot start (bad NODE_OPTIONS) or crashed: stop the batch, not wait for ever
        await Promise.all(handles.map((h) => h.terminate(`bench:fleet: ${err.message}`).catch(() => undefined)));
        throw err;
      });
    } finally {
      clearInterval(progress);
      died.cancel();
    }
  } finally {
    await load.stop();
  }
  const wallMs = Date.now() - t0;
  const processes = sampler.stop();
  await watcher.drain(load.inserted, 90_000);
  await watcher.stop();
  await stopWorkers(children);
  return summarizeRun(o, {
    wallMs,
    processes,
    outcomes,
    delivery: fleetDelivery(load.inserted, watcher.delivered),
    insertErrors: load.errors,
  });
}

async function summarizeRun(
  o: FleetRunOptions,
  run: {
    wallMs: number;
    processes: ReturnType<ProcessSampler['stop']>;
    outcomes: Array<{ target: string; workflowId: string; status: string; ms: number; error?: string }>;
    delivery: ReturnType<typeof fleetDelivery>;
    insertErrors: number;
  },
) {
  const figures = await Promise.all(run.outcomes.map((x) => historyFigures(o.client, x.workflowId)));
  const { store } = fleetStore(o.stack);
  const converged: boolean[] = [];
  for (const t of o.targets)
    converged.push(await oneLoginRole(o.db, t, (await store.read(t.secret))?.data['db-username']));
  const startedBy: Record<string, number> = {};
  for (const f of figures)
    for (const [who, n] of Object.entries(f.startedBy)) startedBy[who] = (startedBy[who] ?? 0) + n;
  const times = run.outcomes.map((x) => x.ms / 1000);
  return {
    targets: o.targets.length,
    workers: o.workers,
    wallSeconds: Math.round(run.wallMs / 100) / 10,
    completed: run.outcomes.filter((x) => x.status === 'completed').length,
    notCompleted: run.outcomes
      .filter((x) => x.status !== 'completed')
      .map((x) => ({ target: x.target, status: x.status, error: x.error })),
    rotationSeconds: { p50: percentile(times, 50), p99: percentile(times, 99), max: Math.max(...times) },
    worker: run.processes,
    temporal: {
      actions: figures.reduce((n, f) => n + f.actions, 0),
      historyEvents: figures.reduce((n, f) => n + f.events, 0),
      activityRetries: figures.reduce((n, f) => n + f.activityRetries, 0),
      activityAttemptsByWorker: startedBy,
    },
    targetsWithOneLoginRole: converged.filter(Boolean).length,
    events: {
      inserted: run.delivery.reduce((n, d) => n + d.inserted, 0),
      lost: run.delivery.reduce((n, d) => n + d.lost, 0),
      duplicates: run.delivery.reduce((n, d) => n + d.duplicates, 0),
      insertErrors: run.insertErrors,
      targetsWithLoss: run.delivery.filter((d) => d.lost > 0).map((d) => d.target),
      perTarget: run.delivery,
    },
  };
}
