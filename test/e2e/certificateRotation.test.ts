import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { CA_KEYS, CERT_KEYS, describeCertificate, handshake } from '../../activities/tls/index.js';
import { summarize, underLoad } from '../../scripts/lib/load.js';
import { pipeline } from '../../scripts/stack/config.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { startCertificateRotation } from '../../workers/startRotation.js';
import type { CertificateRotationInput } from '../../contracts/input/certificate.js';
import type { RotationResult } from '../../workflows/rotation/index.js';
import { startTestWorker, type TestWorker } from '../helpers.js';
import { KubernetesSecretStore } from '../../activities/secrets/kubernetesStore.js';
import type { SecretStore } from '../../activities/secrets/store.js';
import { adminKubeConfig, kubeNamespace, serviceAccountKubeconfig } from '../../scripts/stack/kube.js';
import { cfg, failureOf, stopLeftover, store } from './pipeline.js';
import { recordHistory, recordingOverrides } from './histories.js';
import { kafkaBootstrap } from '../../scripts/stack/kafka.js';

/**
 * PostgreSQL's server certificate renewed by the workflow on the embedded stack, checked as
 * a client would: the handshake serves the new certificate, a `sslmode=verify-full` client
 * with the CA connects, sessions opened before keep working, and the CDC change events
 * inserted during the rotation all arrive (0 lost).
 */
let w: TestWorker;
let running: WorkflowHandle | undefined;
const caFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-ca-')), 'ca.crt');
beforeAll(async () => {
  w = await startTestWorker(recordingOverrides);
  fs.writeFileSync(caFile, (await store.read(pipeline.caSecret))!.data[CA_KEYS.cert]!);
});
afterAll(async () => {
  await stopLeftover(running);
  await w?.stop();
  fs.rmSync(path.dirname(caFile), { recursive: true, force: true });
});

const secretCert = async () =>
  describeCertificate((await store.read(pipeline.postgresTlsSecret))!.data[CERT_KEYS.cert]!);
const served = async () =>
  handshake({
    host: '127.0.0.1',
    port: cfg.ports.postgres,
    protocol: 'postgres',
    servername: '127.0.0.1',
    caPem: fs.readFileSync(caFile, 'utf8'),
  });

/** A client as an application would configure it: verify-full against the CA file, by the address it connects to. */
async function verifyFullClient(): Promise<pg.Client> {
  const admin = (await store.read(pipeline.adminSecret))!.data;
  const url = `postgresql://${encodeURIComponent(admin.username!)}:${encodeURIComponent(admin.password!)}@127.0.0.1:${cfg.ports.postgres}/${pipeline.database}?sslmode=verify-full&sslrootcert=${encodeURIComponent(caFile)}`;
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}
const sslOf = async (c: pg.Client) =>
  (await c.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0]!.ssl;

async function rotate(input: Partial<CertificateRotationInput>, worker: TestWorker = w) {
  const handle = await startCertificateRotation(
    worker.client,
    { service: 'postgresql', requestedBy: 'e2e', ...input },
    { taskQueue: worker.taskQueue },
  );
  running = handle;
  try {
    return await handle.result().then(
      (result: RotationResult) => ({ handle, result, error: undefined }),
      (error: unknown) => ({ handle, result: undefined, error }),
    );
  } finally {
    running = undefined;
  }
}

describe('PostgreSQL server certificate rotation', () => {
  it('serves TLS from the postgres-tls secret, signed by the stack CA, beside plaintext', async () => {
    const s = await served();
    expect(s).toMatchObject({ fingerprint: (await secretCert()).fingerprint, trusted: true, hostnameOk: true });
    const plain = await adminClient(cfg, pipeline.database);
    const tlsClient = await verifyFullClient();
    try {
      expect(await sslOf(plain)).toBe(false);
      expect(await sslOf(tlsClient)).toBe(true);
    } finally {
      await plain.end();
      await tlsClient.end();
    }
  });

  it('rotates under CDC load: the new certificate served and trusted, verify-full clients connect, open sessions stay, 0 change events lost', async () => {
    const before = await secretCert();
    const earlier = await verifyFullClient();
    const db = await adminClient(cfg, pipeline.database);
    try {
      const run = await underLoad(
        { db, brokers: [kafkaBootstrap(cfg)], topic: pipeline.usersTopic, rate: 40, warmupMs: 1000 },
        () => rotate({ validityDays: 30 }),
      );
      const events = summarize(run.emails, run.deliveries);
      const { result, error } = run.result;
      console.info(
        `certificate rotation: ${JSON.stringify({ events, from: result?.from, to: result?.to, steps: result?.steps.map((s) => `${s.name}:${s.outcome}:${s.detail ?? ''}`) })}`,
      );
      expect(error).toBeUndefined();
      expect(result!.status).toBe('completed');
      expect(events.lost).toBe(0);
      expect(events.inserted).toBeGreaterThan(20);
      const after = await secretCert();
      expect(result).toMatchObject({ from: before.fingerprint, to: after.fingerprint });
      expect(after.fingerprint).not.toBe(before.fingerprint);
      expect(after.sans).toEqual(before.sans);
      expect(Math.round((Date.parse(after.notAfter) - Date.now()) / 86_400_000)).toBe(30);
      expect(await served()).toMatchObject({ fingerprint: after.fingerprint, trusted: true, hostnameOk: true });
      // a session from before the reload keeps its TLS connection; a new one verifies the new certificate
      expect(await sslOf(earlier)).toBe(true);
      const fresh = await verifyFullClient();
      expect(await sslOf(fresh)).toBe(true);
      await fresh.end();
      expect(await store.read(`${pipeline.postgresTlsSecret}-pending`)).toBeUndefined();
      expect(await store.read(`${pipeline.postgresTlsSecret}-backup`)).toBeUndefined();
      await recordHistory(run.result.handle, 'other-certificate-postgresql-completed');
    } finally {
      await db.end();
      await earlier.end().catch(() => undefined);
    }
  });

  it('rolls back after install (drill): the previous certificate is back in the secret and served', async () => {
    const before = await secretCert();
    const { handle, error } = await rotate({ injectFailure: 'install' });
    expect(error).toBeDefined();
    expect((await failureOf(handle))?.type).toBe('RotationRolledBack');
    expect((await secretCert()).fingerprint).toBe(before.fingerprint);
    expect((await served()).fingerprint).toBe(before.fingerprint);
    const c = await verifyFullClient();
    await c.end();
    expect(await store.read(`${pipeline.postgresTlsSecret}-pending`)).toBeUndefined();
    expect(await store.read(`${pipeline.postgresTlsSecret}-backup`)).toBeUndefined();
    await recordHistory(handle, 'other-certificate-postgresql-rolled-back-drill');
  });

  it('rotates as the rekey-worker ServiceAccount with the CA and the certificate in Kubernetes Secrets: the rendered Role and admission policy allow exactly what it does', async () => {
    const kube = new KubernetesSecretStore(adminKubeConfig(cfg), kubeNamespace);
    const copy = async (name: string, from: SecretStore, to: SecretStore) => {
      const current = (await from.read(name))!;
      const existing = await to.read(name);
      if (existing?.info.fingerprint !== current.info.fingerprint)
        await to.write(name, current.bytes, { expectedVersion: existing?.info.version ?? null });
    };
    // the cluster holds what the file store holds, as a platform keeps them: the CA and the service's certificate as Secrets
    for (const name of [pipeline.caSecret, pipeline.postgresTlsSecret, pipeline.adminSecret])
      await copy(name, store, kube);
    const asWorker = await serviceAccountKubeconfig(cfg, 'rekey-worker');
    const sa = await startTestWorker({
      secrets: { kind: 'kubernetes', namespace: kubeNamespace, kubeconfig: asWorker },
    });
    try {
      const { result, error } = await rotate({ requestedBy: 'e2e-service-account' }, sa);
      expect(error).toBeUndefined();
      expect(result).toMatchObject({ status: 'completed', procedure: 'certificate' });
      const inCluster = describeCertificate((await kube.read(pipeline.postgresTlsSecret))!.data[CERT_KEYS.cert]!);
      expect(inCluster.fingerprint).toBe(result!.to);
      expect((await served()).fingerprint).toBe(result!.to);
      expect(await kube.read(`${pipeline.postgresTlsSecret}-pending`)).toBeUndefined();
      expect(await kube.read(`${pipeline.postgresTlsSecret}-backup`)).toBeUndefined();
    } finally {
      // the file store, which the other files read, holds what PostgreSQL serves again
      await copy(pipeline.postgresTlsSecret, kube, store);
      await sa.stop();
    }
  });

  it('refuses SANs that differ from the current certificate’s before anything changes', async () => {
    const before = (await store.read(pipeline.postgresTlsSecret))!.info.fingerprint;
    const { handle } = await rotate({ sans: ['localhost', '127.0.0.1', 'db.example'] });
    const failure = await failureOf(handle);
    expect(failure?.type).toBe('PreflightFailed');
    expect(failure?.message).toMatch(
      /nothing was changed: SANs unchanged: saw current DNS:localhost, IP:127\.0\.0\.1; requested .*DNS:db\.example/,
    );
    expect((await store.read(pipeline.postgresTlsSecret))!.info.fingerprint).toBe(before);
    expect(await store.read(`${pipeline.postgresTlsSecret}-pending`)).toBeUndefined();
  });
});
