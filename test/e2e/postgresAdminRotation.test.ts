import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { KubernetesSecretStore } from '../../activities/secrets/kubernetesStore.js';
import { adminKubeConfig, kubeNamespace } from '../../scripts/stack/kube.js';
import { usePipelineStore } from '../../scripts/stack/pipelineStore.js';
import { credentialStarters } from '../../workers/startRotation.js';
import type { RotationResult } from '../../workflows/rotation/index.js';
import { summarize, underLoad } from '../../scripts/lib/load.js';
import { pipeline } from '../../scripts/stack/config.js';
import { kafkaBootstrap } from '../../scripts/stack/kafka.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { recordHistory } from './histories.js';
import { cfg, failureOf, store } from './pipeline.js';
import { rotationHarness, startServiceAccountWorker } from './rotationHarness.js';

/**
 * The PostgreSQL admin password (POSTGRES_PASSWORD; rekey's own postgres-admin) changed in
 * place on the stack while a session of that role inserts the CDC load: the session is never
 * cut, rekey keeps working on its new password, and the old password is refused; a rollback
 * puts back the exact verifier pg_authid had.
 */
const rotations = rotationHarness('postgresql-admin', 'ecommerce');

const admin = async () => (await store.read(pipeline.adminSecret))!.data as { username: string; password: string };

/** A new session with this login, as any PostgreSQL client opens one: accepted, or the server's error code. */
async function login(c: { username: string; password: string }): Promise<string> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: cfg.ports.postgres,
    database: pipeline.database,
    user: c.username,
    password: c.password,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return 'accepted';
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const verifierOf = async (db: pg.Client, role: string) =>
  (await db.query<{ rolpassword: string }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role])).rows[0]!
    .rolpassword;

const rotate = (db: pg.Client, input: Record<string, unknown>) =>
  underLoad({ db, brokers: [kafkaBootstrap(cfg)], topic: pipeline.usersTopic, rate: 40 }, () =>
    rotations.rotate(input),
  );

describe('PostgreSQL admin password rotation in place on the stack', () => {
  it('changes the password while a session of the role inserts the load: not cut, 0 lost; the old password refused, rekey works on the new one', async () => {
    const old = await admin();
    const db = await adminClient(cfg, pipeline.database);
    try {
      const run = await rotate(db, {});
      const events = summarize(run.emails, run.deliveries);
      console.info(`postgresql-admin rotation: ${JSON.stringify(events)}`);
      expect(run.result.result?.status).toBe('completed');
      // the session opened with the old password before the change inserted the whole load and still works
      expect(events.lost).toBe(0);
      expect(events.inserted).toBeGreaterThan(0);
      expect((await db.query('SELECT session_user AS u')).rows[0].u).toBe(old.username);
      const now = await admin();
      expect(now.username).toBe(old.username);
      expect(now.password).not.toBe(old.password);
      expect(await login(old)).toBe('28P01');
      expect(await login(now)).toBe('accepted');
      expect(await store.read(`${pipeline.adminSecret}-backup`)).toBeUndefined();
      // rekey itself keeps working: a CDC dry run's pre-flight opens new admin sessions
      const dry = await credentialStarters['postgresql-cdc'](
        rotations.worker.client,
        { target: 'ecommerce', requestedBy: 'e2e', dryRun: true },
        { taskQueue: rotations.worker.taskQueue, now: new Date() },
      );
      expect(((await dry.result()) as RotationResult).status).toBe('dry-run');
      await recordHistory(run.result.handle, 'other-postgresql-admin-completed');
    } finally {
      await db.end().catch(() => undefined);
    }
  });

  it('rolls back after the switch to the exact verifier pg_authid had: the old password logs in again, the new one never stays', async () => {
    const old = await admin();
    const db = await adminClient(cfg, pipeline.database);
    try {
      const before = await verifierOf(db, old.username);
      const run = await rotate(db, { injectFailure: 'sessions-kept' });
      expect((await failureOf(run.result.handle))?.type).toBe('RotationRolledBack');
      expect(summarize(run.emails, run.deliveries).lost).toBe(0);
      expect(await verifierOf(db, old.username)).toBe(before);
      expect(await admin()).toEqual(old);
      expect(await login(old)).toBe('accepted');
      expect(await store.read(`${pipeline.adminSecret}-pending`)).toBeUndefined();
      expect(await store.read(`${pipeline.adminSecret}-backup`)).toBeUndefined();
    } finally {
      await db.end().catch(() => undefined);
    }
  });

  it('on Kubernetes, as the rekey-worker ServiceAccount: the Secret in the cluster promoted, the old password refused', async () => {
    const k8s = new KubernetesSecretStore(adminKubeConfig(cfg), kubeNamespace);
    await usePipelineStore(cfg, 'kubernetes');
    const w = await startServiceAccountWorker();
    try {
      const old = (await k8s.read(pipeline.adminSecret))!.data as { username: string; password: string };
      const handle = await credentialStarters['postgresql-admin'](
        w.client,
        { target: 'ecommerce', requestedBy: 'e2e-k8s' },
        { taskQueue: w.taskQueue, now: new Date() },
      );
      expect(((await handle.result()) as RotationResult).status).toBe('completed');
      const now = (await k8s.read(pipeline.adminSecret))!.data as { username: string; password: string };
      expect(now.password).not.toBe(old.password);
      expect(await login(old)).toBe('28P01');
      expect(await login(now)).toBe('accepted');
      expect(await k8s.read(`${pipeline.adminSecret}-pending`)).toBeUndefined();
      expect(await k8s.read(`${pipeline.adminSecret}-backup`)).toBeUndefined();
    } finally {
      await w.stop();
      // back to the file store, which takes the cluster's (new) values
      await usePipelineStore(cfg, 'file');
    }
  });
});
