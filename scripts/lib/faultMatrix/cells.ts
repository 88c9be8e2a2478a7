import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { loadStackConfig, pipeline } from '../../stack/config.js';
import { connect } from '../../stack/connect.js';
import { adminKubeConfig, kubeNamespace } from '../../stack/kube.js';
import { postgres, adminClient } from '../../stack/postgres.js';
import { isAlive, readPid } from '../../stack/proc.js';
import { temporal } from '../../stack/temporal.js';
import type { CellSpec, FaultContext } from './run.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The faults, each a function of where it strikes; durations are what "for a while" means here. */
export const faults = {
  connect5xx:
    (ms = 20_000) =>
    async ({ proxies }: FaultContext) => {
      await proxies.connect.during({ kind: 'http-error', status: 503 }, ms);
      return `Connect REST answered 503 ${proxies.connect.stats.httpErrors} times in ${ms / 1000} s`;
    },
  connectTimeout:
    (ms = 20_000) =>
    async ({ proxies }: FaultContext) =>
      proxies.connect.during({ kind: 'blackhole' }, ms),
  /** The Connect worker process SIGKILLed; its Deployment (here: this fault, after 5 s) starts a new one. */
  connectKilled:
    () =>
    async ({ cfg }: FaultContext) => {
      const pid = readPid(cfg.runDir, 'kafka-connect');
      if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL');
      while (isAlive(pid)) await sleep(200);
      await sleep(5000);
      await connect.start(cfg);
      return `Connect pid ${pid} killed, a new worker started`;
    },
  postgresRestart:
    () =>
    async ({ cfg }: FaultContext) => {
      const t0 = Date.now();
      await postgres.stop(cfg);
      await postgres.start(cfg);
      return `PostgreSQL down ${((Date.now() - t0) / 1000).toFixed(1)} s`;
    },
  /** The replication connection dropped: the slot's walsender terminated (Debezium reconnects). */
  walsenderDropped:
    () =>
    async ({ cfg }: FaultContext) => {
      const db = await adminClient(cfg, pipeline.database);
      db.on('error', () => undefined);
      try {
        const { rows } = await db.query<{ pid: number | null }>(
          'SELECT active_pid AS pid, pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL',
          [pipeline.slot],
        );
        return `walsender ${rows[0]?.pid ?? '(none)'} terminated`;
      } finally {
        await db.end();
      }
    },
  /** The worker's own PostgreSQL sessions cut (a network blip between worker and database). */
  postgresConnectionsDropped:
    () =>
    async ({ proxies }: FaultContext) =>
      proxies.postgres.during({ kind: 'refuse' }, 2000),
  kubeApiDown:
    (ms = 30_000) =>
    async ({ proxies }: FaultContext) =>
      proxies.kubeApiserver.during({ kind: 'refuse' }, ms),
  registryDown:
    (ms = 20_000) =>
    async ({ proxies }: FaultContext) =>
      proxies.registry.during({ kind: 'refuse' }, ms),
  s3Down:
    (ms = 20_000) =>
    async ({ proxies }: FaultContext) =>
      proxies.moto.during({ kind: 'refuse' }, ms),
  temporalRestart:
    () =>
    async ({ cfg }: FaultContext) => {
      const t0 = Date.now();
      await temporal.stop(cfg);
      await temporal.start(cfg);
      return `Temporal down ${((Date.now() - t0) / 1000).toFixed(1)} s`;
    },
  /**
   * Someone else keeps writing the Secret mid-rotation (an annotation every 25 ms for 10 s, as a
   * controller or a GitOps loop would): a rotation write based on a version read a moment
   * earlier gets 409 Conflict. The writer's change must survive the rotation.
   */
  secretTouched:
    (secret: string, ms = 10_000) =>
    async () => {
      const core = adminKubeConfig(loadCfg()).makeApiClient(CoreV1Api);
      const until = Date.now() + ms;
      let writes = 0;
      while (Date.now() < until) {
        const annotations = { 'example.com/touched-by': `fault-matrix-${++writes}` };
        await core.patchNamespacedSecret(
          { name: secret, namespace: kubeNamespace, body: { metadata: { annotations } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        await sleep(25);
      }
      return `${writes} concurrent writes of annotation example.com/touched-by`;
    },
};

const loadCfg = () => loadStackConfig();

/** Whether the concurrent writer's annotation is still on the Secret (a rotation must never overwrite it). */
export async function touchSurvived(secret: string): Promise<boolean> {
  const core = adminKubeConfig(loadCfg()).makeApiClient(CoreV1Api);
  const s = await core.readNamespacedSecret({ name: secret, namespace: kubeNamespace });
  return s.metadata?.annotations?.['example.com/touched-by']?.startsWith('fault-matrix-') ?? false;
}

export interface MatrixCell extends CellSpec {
  /** The secret store the pipeline and the worker use for this cell. */
  store?: 'file' | 'kubernetes';
  /** Part of the CI-sized subset. */
  ci?: boolean;
  /** Extra end-state check (problems; empty = fine). */
  check?(): Promise<string[]>;
}

const cell = (c: MatrixCell) => c;

/** Every fault × step cell besides the worker-kill sweeps. */
export const matrixCells: MatrixCell[] = [
  cell({
    procedure: 'cdc',
    fault: 'Connect REST 503 for 20 s',
    step: 'apply:reload-connector',
    hold: 'restartConnector',
    inject: faults.connect5xx(),
  }),
  cell({
    procedure: 'cdc',
    fault: 'Connect REST timing out for 20 s',
    step: 'running',
    hold: 'waitConnectorRunning',
    inject: faults.connectTimeout(),
  }),
  cell({
    procedure: 'cdc',
    fault: 'Connect worker killed',
    step: 'streaming-user',
    hold: 'waitStreamingUser',
    inject: faults.connectKilled(),
  }),
  cell({
    procedure: 'cdc',
    fault: 'PostgreSQL restart',
    step: 'streaming-user',
    hold: 'waitStreamingUser',
    inject: faults.postgresRestart(),
  }),
  cell({
    procedure: 'cdc',
    fault: 'replication connection dropped',
    step: 'slot-advanced',
    hold: 'waitSlotPast',
    inject: faults.walsenderDropped(),
  }),
  cell({
    procedure: 'cdc',
    fault: "worker's PostgreSQL sessions cut",
    step: 'table-access',
    hold: 'testTableAccess',
    inject: faults.postgresConnectionsDropped(),
  }),
  // `hold`: the worker pauses that activity until the fault is in place, so a step shorter than a progress poll is
  // struck for certain (on an idle machine the poll-triggered versions of these cells were not-triggered).
  // The PostgreSQL restart @ streaming-user stays out of CI: its wait can outlast the test's 300 s when Debezium reconnects late.
  // The CI subset is one cell per kind of fault rekey itself must ride out (its server restarting, a concurrent writer,
  // a data-path service restarting); the outage cells (Kubernetes API 30 s, S3 20 s: 68 s and 52 s in CI) prove the
  // same retry budgets as the Connect 503 cells and run with the whole matrix (npm run bench:faults).
  cell({
    procedure: 'cdc',
    fault: 'Temporal server restart',
    step: 'canary-write',
    hold: 'writeCanary',
    inject: faults.temporalRestart(),
    ci: true,
  }),
  cell({
    procedure: 'cdc',
    fault: 'Kubernetes API down 30 s',
    step: 'promote',
    hold: 'promotePendingCredential',
    store: 'kubernetes',
    inject: faults.kubeApiDown(),
  }),
  cell({
    procedure: 'cdc',
    fault: 'Secret changed concurrently (409)',
    step: 'phase:switching',
    store: 'kubernetes',
    inject: faults.secretTouched(pipeline.cdcSecret),
    ci: true,
    check: async () =>
      (await touchSurvived(pipeline.cdcSecret)) ? [] : ["the concurrent writer's annotation was overwritten"],
  }),
  cell({
    procedure: 'registry',
    fault: 'registry down 20 s',
    step: 'new-user-accepted',
    hold: 'waitRegistryAuth',
    inject: faults.registryDown(),
  }),
  cell({
    procedure: 'registry',
    fault: 'Connect REST 503 for 20 s',
    step: 'restart-tasks',
    hold: 'restartConnector',
    inject: faults.connect5xx(),
  }),
  cell({
    procedure: 'registry',
    fault: 'Temporal server restart',
    step: 'phase:grace',
    inject: faults.temporalRestart(),
  }),
  cell({
    procedure: 'aws',
    fault: 'S3/IAM emulator down 20 s',
    step: 'new-key-used',
    hold: 'waitAccessKeyUsedSince',
    inject: faults.s3Down(),
  }),
  cell({
    procedure: 'aws',
    fault: 'Connect REST 503 for 20 s',
    step: 'restart-tasks',
    hold: 'restartConnector',
    inject: faults.connect5xx(),
  }),
  // the switch (install + reload + stable handshakes) lasts seconds; verify-served alone can pass between two polls
  cell({
    procedure: 'cert',
    fault: 'PostgreSQL restart',
    step: 'phase:switching',
    inject: faults.postgresRestart(),
    ci: true,
  }),
  cell({
    procedure: 'cert',
    fault: "worker's PostgreSQL sessions cut",
    step: 'phase:switching',
    inject: faults.postgresConnectionsDropped(),
  }),
  cell({
    procedure: 'scram',
    fault: 'Connect REST 503 for 20 s',
    step: 'restart-connect-worker',
    hold: 'restartConnectWorker',
    inject: faults.connect5xx(),
  }),
  cell({
    procedure: 'scram',
    fault: 'Temporal server restart',
    step: 'phase:grace',
    inject: faults.temporalRestart(),
  }),
  cell({
    procedure: 'connect-rest',
    fault: 'Connect REST 503 for 20 s',
    step: 'restart-accept-both',
    hold: 'restartConnectWorker',
    inject: faults.connect5xx(),
  }),
  cell({
    procedure: 'connect-rest',
    fault: 'Temporal server restart',
    step: 'phase:grace',
    inject: faults.temporalRestart(),
  }),
];
