import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import fs from 'node:fs';
import path from 'node:path';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { KubernetesSecretStore } from '../../activities/secrets/kubernetesStore.js';
import type { SecretStore } from '../../activities/secrets/store.js';
import { pipeline, type StackConfig } from './config.js';
import { connectCall, connectUrl, connectorStore, ref } from './connect.js';
import { adminKubeConfig, kubeconfigPath, kubectl, kubeNamespace } from './kube.js';
import type { PipelineStore } from './pipelineStore.js';
import { adminClient } from './postgres.js';
import { waitFor } from './proc.js';
import { logPath } from './service.js';
import { connectFetch } from './connectRest.js';

/**
 * A fleet of CDC pipelines on the one embedded stack (issue 13): each target has its own
 * schema and table, parent role, publication, replication slot, Debezium connector and
 * Secret — the shape of N databases behind one PostgreSQL, as the first Sunday of the month
 * sees them. They share the rotation canary table (public.rekey_canary): every connector
 * publishes it, each rotation waits for its own marker on its own topic.
 */
export const MAX_FLEET = 60;

export interface FleetTarget {
  index: number;
  /** The rotation's target label and the connector/topic prefix (`fleet-07`). */
  name: string;
  schema: string;
  secret: string;
  connector: string;
  slot: string;
  publication: string;
  parentRole: string;
  userPrefix: string;
  usersTopic: string;
  canaryTopic: string;
}

export function fleetTarget(index: number): FleetTarget {
  if (!Number.isInteger(index) || index < 1 || index > MAX_FLEET)
    throw new Error(`fleet target index must be 1-${MAX_FLEET}`);
  const nn = String(index).padStart(2, '0');
  const name = `fleet-${nn}`;
  const schema = `fleet_${nn}`;
  return {
    index,
    name,
    schema,
    secret: `${name}-credentials`,
    connector: `${name}-cdc`,
    slot: `${schema}_slot`,
    publication: `${schema}_pub`,
    parentRole: `${schema}_parent`,
    userPrefix: schema,
    usersTopic: `${name}.${schema}.users`,
    canaryTopic: `${name}.public.rekey_canary`,
  };
}

export const fleetTargets = (n: number) => Array.from({ length: n }, (_, i) => fleetTarget(i + 1));

/** The rotation input that rotates one fleet target (plain JSON, as the CLI or Web UI would send it). */
export function fleetRotationInput(t: FleetTarget, gracePeriod = 'PT5S') {
  return {
    target: t.name,
    secret: t.secret,
    connector: t.connector,
    slot: t.slot,
    publication: t.publication,
    parentRole: t.parentRole,
    userPrefix: t.userPrefix,
    canaryTopic: t.canaryTopic,
    gracePeriod,
    reason: 'fleet benchmark',
    requestedBy: 'bench:fleet',
  };
}

const loginName = (t: FleetTarget) =>
  `${t.userPrefix}_${new Date().toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '_')}`;

/** Schema, table, parent role, grants and publication of one target; idempotent. */
async function seedDatabase(db: pg.Client, t: FleetTarget): Promise<void> {
  const [schema, parent, pub] = [t.schema, t.parentRole, t.publication].map((n) => db.escapeIdentifier(n));
  await db.query(`CREATE SCHEMA IF NOT EXISTS ${schema};
    CREATE TABLE IF NOT EXISTS ${schema}.users (id bigserial PRIMARY KEY, email text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE IF NOT EXISTS ${schema}.heartbeat (id integer PRIMARY KEY, ts timestamptz NOT NULL);`);
  await db.query(
    `INSERT INTO ${schema}.users (email) SELECT 'seed@example.invalid' WHERE NOT EXISTS (SELECT 1 FROM ${schema}.users)`,
  );
  const role = await db.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [t.parentRole]);
  if (role.rowCount === 0) await db.query(`CREATE ROLE ${parent} NOLOGIN`);
  await db.query(`GRANT CONNECT, CREATE ON DATABASE ${db.escapeIdentifier(pipeline.database)} TO ${parent};
    GRANT USAGE ON SCHEMA ${schema}, public TO ${parent};
    GRANT SELECT ON ${schema}.users TO ${parent};
    GRANT SELECT, INSERT, UPDATE ON ${schema}.heartbeat, public.rekey_canary TO ${parent};`);
  const exists = await db.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [t.publication]);
  if (exists.rowCount === 0)
    await db.query(`CREATE PUBLICATION ${pub} FOR TABLE ${schema}.users, ${schema}.heartbeat, public.rekey_canary`);
  await db.query(`ALTER PUBLICATION ${pub} OWNER TO ${parent}`);
}

/** The target's Secret and its first CDC user (created only when the Secret names no existing role). */
async function seedCredential(db: pg.Client, store: SecretStore, t: FleetTarget): Promise<void> {
  let secret = await store.read(t.secret);
  if (!secret) {
    await store.write(t.secret, { 'db-username': loginName(t), 'db-password': randomBytes(24).toString('base64url') });
    secret = (await store.read(t.secret))!;
  }
  const user = secret.data['db-username']!;
  const has = await db.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user]);
  if (has.rowCount === 0) {
    await db.query(
      `CREATE ROLE ${db.escapeIdentifier(user)} WITH LOGIN REPLICATION PASSWORD ${db.escapeLiteral(secret.data['db-password']!)} IN ROLE ${db.escapeIdentifier(t.parentRole)}`,
    );
  }
}

/**
 * The target's Debezium connector: JSON values (the registry is not what a fleet rotation
 * exercises), and small queues and producer buffers so fifty tasks fit one Connect worker.
 */
export function fleetConnectorConfig(
  cfg: StackConfig,
  t: FleetTarget,
  store: PipelineStore = 'file',
): Record<string, string> {
  return {
    'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
    'tasks.max': '1',
    'database.hostname': '127.0.0.1',
    'database.port': String(cfg.ports.postgres),
    'database.user': ref(cfg, store, t.secret, 'db-username'),
    'database.password': ref(cfg, store, t.secret, 'db-password'),
    'database.dbname': pipeline.database,
    'topic.prefix': t.name,
    'plugin.name': 'pgoutput',
    'slot.name': t.slot,
    'publication.name': t.publication,
    'publication.autocreate.mode': 'disabled',
    'table.include.list': `${t.schema}.users,public.rekey_canary`,
    'snapshot.mode': 'initial',
    'heartbeat.interval.ms': '5000',
    'heartbeat.action.query': `INSERT INTO ${t.schema}.heartbeat (id, ts) VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET ts = EXCLUDED.ts`,
    'offset.flush.interval.ms': '1000',
    'poll.interval.ms': '100',
    'max.queue.size': '2048',
    'max.batch.size': '512',
    'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'key.converter.schemas.enable': 'false',
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'value.converter.schemas.enable': 'false',
    // the default 32 MiB producer buffer per task would be 1.6 GiB of heap for fifty
    'producer.override.buffer.memory': String(4 * 1024 * 1024),
  };
}

async function connectorRunning(cfg: StackConfig, t: FleetTarget): Promise<boolean> {
  const res = await connectFetch(`${connectUrl(cfg)}/connectors/${t.connector}/status`, {
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) return false;
  const s = (await res.json()) as { connector: { state: string }; tasks: Array<{ state: string; trace?: string }> };
  const failed = s.tasks.find((x) => x.state === 'FAILED');
  if (failed) throw new Error(`${t.connector}: task FAILED: ${failed.trace?.split('\n')[0]}`);
  return s.connector.state === 'RUNNING' && s.tasks.length > 0 && s.tasks.every((x) => x.state === 'RUNNING');
}

function kubernetesStore(cfg: StackConfig): KubernetesSecretStore {
  if (!fs.existsSync(kubeconfigPath(cfg)))
    throw new Error(
      'the fleet on the Kubernetes store needs the embedded control plane: npm run stack:up (or bench:fleet --store kubernetes)',
    );
  return new KubernetesSecretStore(adminKubeConfig(cfg), kubeNamespace);
}

/** Where the fleet's Secrets live: the store the embedded connector reads now (`upWithStore`). */
export function fleetStore(cfg: StackConfig): { kind: PipelineStore; store: SecretStore } {
  const connector = connectorStore(cfg);
  if (connector === 'kubernetes-volume')
    throw new Error(
      'the fleet reads its Secrets from the file store or through the Kubernetes API, not from projected volumes',
    );
  return connector === 'kubernetes'
    ? { kind: 'kubernetes', store: kubernetesStore(cfg) }
    : { kind: 'file', store: new FileSecretStore(cfg.secretsDir) };
}

/** The store the fleet is not in now, when it can hold a fleet Secret (the API server answers within 3 s). */
async function otherStore(cfg: StackConfig, kind: PipelineStore): Promise<SecretStore | undefined> {
  if (kind === 'kubernetes') return new FileSecretStore(cfg.secretsDir);
  if (!fs.existsSync(kubeconfigPath(cfg))) return undefined;
  const up = await kubectl(cfg, ['get', '--raw', '/readyz', '--request-timeout=3s']).then(
    () => true,
    () => false,
  );
  return up ? kubernetesStore(cfg) : undefined;
}

/**
 * A fleet seeded in the other store keeps its current users (the rotations since may have
 * renamed them): each target's Secret is copied here; the returned function deletes the old
 * copies, once the connectors read the new ones, so every Secret ends in exactly one store.
 */
async function copySecrets(
  from: SecretStore | undefined,
  to: SecretStore,
  targets: FleetTarget[],
): Promise<() => Promise<void>> {
  const copied: FleetTarget[] = [];
  for (const t of from ? targets : []) {
    const there = await from!.read(t.secret);
    if (!there) continue;
    const here = await to.read(t.secret);
    if (here?.info.fingerprint !== there.info.fingerprint)
      await to.write(t.secret, there.data, { expectedVersion: here?.info.version ?? null });
    copied.push(t);
  }
  return async () => {
    for (const t of copied) await from!.remove(t.secret);
  };
}

/**
 * The fleet's Secrets made readable by Connect's ServiceAccount (Strimzi's provider GETs each by
 * name): deploy/kafka-connect.yaml names the pipeline's three, as a production Role would name
 * each target's. The worker on the stack uses the admin kubeconfig.
 */
async function grantFleetSecrets(cfg: StackConfig): Promise<void> {
  // every possible target, so a smaller run never takes access away from the larger fleet's connectors
  const names = fleetTargets(MAX_FLEET).map((t) => t.secret);
  const doc = [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'kafka-connect-fleet-credentials', namespace: kubeNamespace },
      rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: names, verbs: ['get'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'kafka-connect-fleet-credentials', namespace: kubeNamespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'kafka-connect-fleet-credentials' },
      subjects: [{ kind: 'ServiceAccount', name: 'kafka-connect', namespace: kubeNamespace }],
    },
  ];
  const file = path.join(cfg.dataDir, 'fleet-rbac.json');
  fs.writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: doc }));
  await kubectl(cfg, ['apply', '--server-side', '--force-conflicts', '-f', file]);
}

/**
 * Seeds targets 1…n (idempotent: existing ones are left as they are) and waits until every
 * connector's task runs. The Secrets go to the store the connector reads now (file, or the
 * Kubernetes API after `upWithStore(…, 'kubernetes')`); connectors are pointed at it.
 */
export async function ensureFleet(
  cfg: StackConfig,
  n: number,
  log: (line: string) => void = () => undefined,
): Promise<FleetTarget[]> {
  if (!Number.isInteger(n) || n < 1 || n > MAX_FLEET) throw new Error(`fleet size must be 1-${MAX_FLEET}`);
  const targets = fleetTargets(n);
  const { kind, store } = fleetStore(cfg);
  if (kind === 'kubernetes') await grantFleetSecrets(cfg);
  const removeOldCopies = await copySecrets(await otherStore(cfg, kind), store, targets);
  const db = await adminClient(cfg, pipeline.database);
  try {
    for (const t of targets) {
      await seedDatabase(db, t);
      await seedCredential(db, store, t);
    }
  } finally {
    await db.end();
  }
  log(`${n} fleet databases seeded; creating connectors`);
  for (const t of targets) {
    const res = await connectCall(`${connectUrl(cfg)}/connectors/${t.connector}/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(fleetConnectorConfig(cfg, t, kind)),
    });
    if (!res.ok) throw new Error(`creating connector ${t.connector} failed: HTTP ${res.status} ${await res.text()}`);
  }
  for (const t of targets) {
    await waitFor('kafka-connect', () => connectorRunning(cfg, t), {
      timeoutMs: 300_000,
      logPath: logPath(cfg, 'kafka-connect'),
      what: `connector ${t.connector} running`,
    });
  }
  log(`${n} fleet connectors running`);
  await removeOldCopies();
  return targets;
}

/**
 * Stops a connector, deletes its source offsets (KIP-875) and then the connector: a connector
 * created later under the same name must not resume from an LSN its new slot never had.
 */
async function deleteWithOffsets(cfg: StackConfig, connector: string): Promise<void> {
  const url = `${connectUrl(cfg)}/connectors/${connector}`;
  const stop = await connectFetch(`${url}/stop`, { method: 'PUT' }).catch(() => undefined);
  if (!stop?.ok) return; // no such connector
  await waitFor(
    'kafka-connect',
    async () =>
      ((await (await connectFetch(`${url}/status`)).json()) as { connector: { state: string } }).connector.state ===
      'STOPPED',
    { timeoutMs: 60_000, maxMs: 60_000, logPath: logPath(cfg, 'kafka-connect'), what: `${connector} stopped` },
  );
  const reset = await connectFetch(`${url}/offsets`, { method: 'DELETE' });
  if (!reset.ok)
    throw new Error(`resetting the offsets of ${connector} failed: HTTP ${reset.status} ${await reset.text()}`);
  await connectFetch(url, { method: 'DELETE' });
}

/**
 * Removes targets completely (tests leave the shared stack as they found it): the connectors,
 * then — once their walsenders are gone — the slots, publications, login roles, parent
 * roles, schemas and Secrets.
 */
export async function removeFleet(cfg: StackConfig, targets: FleetTarget[]): Promise<void> {
  for (const t of targets) await deleteWithOffsets(cfg, t.connector);
  const store = connectorStore(cfg) === 'kubernetes' ? kubernetesStore(cfg) : new FileSecretStore(cfg.secretsDir);
  const db = await adminClient(cfg, pipeline.database);
  try {
    for (const t of targets) {
      await waitFor(
        'postgres',
        async () =>
          (await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active', [t.slot])).rowCount ===
          0,
        { timeoutMs: 60_000, maxMs: 60_000, logPath: logPath(cfg, 'postgres'), what: `slot ${t.slot} released` },
      );
      await db.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [
        t.slot,
      ]);
      await db.query(`DROP PUBLICATION IF EXISTS ${db.escapeIdentifier(t.publication)}`);
      const members = await db.query<{ rolname: string }>(
        'SELECT r.rolname FROM pg_roles r JOIN pg_auth_members m ON m.member = r.oid JOIN pg_roles p ON p.oid = m.roleid WHERE p.rolname = $1',
        [t.parentRole],
      );
      await db.query(`DROP SCHEMA IF EXISTS ${db.escapeIdentifier(t.schema)} CASCADE`);
      for (const role of [...members.rows.map((r) => r.rolname), t.parentRole]) {
        await db.query(`DROP OWNED BY ${db.escapeIdentifier(role)}`).catch(() => undefined);
        await db.query(`DROP ROLE IF EXISTS ${db.escapeIdentifier(role)}`);
      }
      await store.remove(t.secret);
    }
  } finally {
    await db.end();
  }
}
