import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { CA_KEYS, CERT_KEYS, describeCertificate, handshake } from '../../activities/tls/index.js';
import { summarize, underLoad } from '../../scripts/lib/load.js';
import { pipeline } from '../../scripts/stack/config.js';
import { startCertificateRotation } from '../../workers/startRotation.js';
import { rotateCertificateAuthority } from '../../workflows/certificates/authority.js';
import { managedCertificates } from '../../contracts/managedCertificates.js';
import type { TlsService } from '../../contracts/input/certificate.js';
import { issueFirstCertificate } from '../../workflows/certificates/issue.js';
import { renewCertificates } from '../../workflows/certificates/renew.js';
import {
  cleanupNowSignal,
  progressQuery,
  rotationWorkflowId,
  type RotationResult,
} from '../../workflows/rotation/index.js';
import { startTestWorker, type TestWorker } from '../helpers.js';
import { cfg, stopLeftover, store } from './pipeline.js';
import { recordHistory, recordingOverrides } from './histories.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { kafkaBootstrap } from '../../scripts/stack/kafka.js';

/**
 * The life of the stack's certificates beyond one rotation, checked as a client would: a
 * certificate issued with a short lifetime is renewed by the scan (the handshake shows the new
 * fingerprint), and a CA rotation under CDC load ends with every service serving a certificate
 * from the new CA, `sslmode=verify-full` with the new CA working, the old CA refused, 0 lost.
 */
let w: TestWorker;
let running: WorkflowHandle | undefined;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-ca-life-'));
beforeAll(async () => {
  w = await startTestWorker(recordingOverrides);
});
afterAll(async () => {
  await stopLeftover(running);
  await w?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const pgCert = async () => describeCertificate((await store.read(pipeline.postgresTlsSecret))!.data[CERT_KEYS.cert]!);
const caPem = async (secret: string = pipeline.caSecret) => (await store.read(secret))!.data[CA_KEYS.cert]!;
const served = (ca?: string) =>
  handshake({ host: '127.0.0.1', port: cfg.ports.postgres, protocol: 'postgres', servername: '127.0.0.1', caPem: ca });

/** verify-full against a CA file, as an application would connect; resolves to the error message when refused. */
async function verifyFull(ca: string): Promise<true | string> {
  const file = path.join(dir, `ca-${Date.now()}-${Math.random().toString(36).slice(2)}.crt`);
  fs.writeFileSync(file, ca);
  const admin = (await store.read(pipeline.adminSecret))!.data;
  const url = `postgresql://${encodeURIComponent(admin.username!)}:${encodeURIComponent(admin.password!)}@127.0.0.1:${cfg.ports.postgres}/${pipeline.database}?sslmode=verify-full&sslrootcert=${encodeURIComponent(file)}`;
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    const { rows } = await c.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    return rows[0]!.ssl ? true : 'connected without TLS';
  } catch (err) {
    return (err as Error).message;
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function scan(input: Parameters<typeof renewCertificates>[0], id: string) {
  const handle = await w.client.workflow.start(renewCertificates, {
    taskQueue: w.taskQueue,
    workflowId: `renew-certificates/e2e/${id}/${Date.now()}`,
    args: [input],
  });
  const result = await handle.result();
  if (id === 'renew') await recordHistory(handle, 'other-certificate-renewal-scan-renewed');
  return result;
}

describe('certificate renewal before expiry', () => {
  it('renews a certificate issued with a 1-day lifetime: the scan starts rotate-certificate/<secret>, the handshake serves the new fingerprint', async () => {
    const short = await startCertificateRotation(
      w.client,
      { service: 'postgresql', validityDays: 1, requestedBy: 'e2e', reason: 'short-lived for the renewal test' },
      { taskQueue: w.taskQueue },
    );
    running = short;
    expect((await short.result()).status).toBe('completed');
    running = undefined;
    const issued = await pgCert();
    expect(Math.round((Date.parse(issued.notAfter) - Date.now()) / 3_600_000)).toBe(24);

    const dry = await scan({ renewBeforeDays: 2, dryRun: true, requestedBy: 'e2e' }, 'dry');
    expect(dry.certificates.find((c) => c.secret === pipeline.postgresTlsSecret)).toMatchObject({
      due: true,
      action: 'would-renew',
    });
    expect((await pgCert()).fingerprint).toBe(issued.fingerprint);
    // the default ratio (1/3 of the lifetime): a fresh 1-day certificate is not due yet
    const notYet = await scan({ requestedBy: 'e2e' }, 'ratio');
    expect(notYet.certificates.find((c) => c.secret === pipeline.postgresTlsSecret)).toMatchObject({
      due: false,
      action: 'none',
    });

    const t0 = Date.now();
    const result = await scan({ renewBeforeDays: 2, requestedBy: 'e2e' }, 'renew');
    const row = result.certificates.find((c) => c.secret === pipeline.postgresTlsSecret)!;
    const renewed = await pgCert();
    console.info(
      `renewal scan: ${JSON.stringify({ ms: Date.now() - t0, rows: result.certificates.map((c) => `${c.secret}:${c.action}:${c.why}:${c.detail ?? ''}`) })}`,
    );
    expect(row).toMatchObject({
      action: 'renewed',
      workflowId: rotationWorkflowId('certificate', pipeline.postgresTlsSecret),
      detail: `${issued.fingerprint} → ${renewed.fingerprint}`,
    });
    expect(renewed.fingerprint).not.toBe(issued.fingerprint);
    expect(Math.round((Date.parse(renewed.notAfter) - Date.parse(renewed.notBefore)) / 3_600_000)).toBe(24); // same lifetime kept
    expect(await served(await caPem())).toMatchObject({
      fingerprint: renewed.fingerprint,
      trusted: true,
      hostnameOk: true,
    });

    // back to a normal lifetime for the test files that follow
    const back = await startCertificateRotation(
      w.client,
      { service: 'postgresql', validityDays: 90, requestedBy: 'e2e', reason: 'restore a 90-day certificate' },
      { taskQueue: w.taskQueue },
    );
    expect((await back.result()).status).toBe('completed');
  });
});

describe('a first certificate', () => {
  it('where the secret has none: issued from the CA, installed, served and trusted; refused where one exists', async () => {
    const saved = (await store.read(pipeline.postgresTlsSecret))!;
    const refused = await w.client.workflow
      .execute(issueFirstCertificate, {
        taskQueue: w.taskQueue,
        workflowId: rotationWorkflowId('certificate', pipeline.postgresTlsSecret),
        args: [{ service: 'postgresql', requestedBy: 'e2e' }],
      })
      .then(
        () => 'completed',
        (err: { cause?: { message?: string } }) => err.cause?.message ?? String(err),
      );
    expect(refused).toMatch(/nothing was changed: postgres-tls already holds a certificate/);
    await store.remove(pipeline.postgresTlsSecret);
    try {
      const result = await w.client.workflow.execute(issueFirstCertificate, {
        taskQueue: w.taskQueue,
        workflowId: rotationWorkflowId('certificate', pipeline.postgresTlsSecret),
        args: [{ service: 'postgresql', sans: ['localhost', '127.0.0.1'], validityDays: 90, requestedBy: 'e2e' }],
      });
      const issued = await pgCert();
      expect(result).toMatchObject({ status: 'completed', to: issued.fingerprint });
      expect(issued.sans).toEqual(['DNS:localhost', 'IP:127.0.0.1']);
      expect(await served(await caPem())).toMatchObject({
        fingerprint: issued.fingerprint,
        trusted: true,
        hostnameOk: true,
      });
      expect(await verifyFull(await caPem())).toBe(true);
    } finally {
      // a failed issuance must not leave the stack without its certificate
      if (!(await store.read(pipeline.postgresTlsSecret))) await store.write(pipeline.postgresTlsSecret, saved.bytes);
    }
  });
});

/**
 * The services whose certificate rekey proves by handshake with the CA from the secret store
 * (PostgreSQL, Kafka's TLS listener). Connect and the registry are reached by this worker over
 * HTTP; with https:// URLs rekey would verify them with its CA file, which a CA rotation does
 * not rewrite — see docs/runbook-certificates.md.
 */
const inScope: TlsService[] = ['postgresql', 'kafka'];

describe('CA rotation without an outage', () => {
  it('under CDC load: both CAs trusted during grace, then every service serves a certificate from the new CA, verify-full with the new CA works, the old CA is refused, 0 events lost', async () => {
    const oldCa = await caPem();
    const before = await pgCert();
    expect(await verifyFull(oldCa)).toBe(true);
    const db = await adminClient(cfg, pipeline.database);
    let mid: { bundleOk: true | string; newOnly: true | string; oldOnly: true | string; served: string } | undefined;
    const t0 = Date.now();
    try {
      const run = await underLoad(
        { db, brokers: [kafkaBootstrap(cfg)], topic: pipeline.usersTopic, rate: 40, warmupMs: 1000 },
        async () => {
          const handle = await w.client.workflow.start(rotateCertificateAuthority, {
            taskQueue: w.taskQueue,
            workflowId: rotationWorkflowId('ca', pipeline.caSecret),
            args: [{ services: inScope, gracePeriod: 'PT10M', requestedBy: 'e2e', reason: 'e2e CA rotation' }],
          });
          running = handle;
          await waitForPhase(handle, 'grace', 150_000);
          // in grace: a client holding the service's bundle (old + new) connects; the new CA alone does too
          const bundle = (await store.read(pipeline.postgresTlsSecret))!.data[CERT_KEYS.ca]!;
          mid = {
            bundleOk: await verifyFull(bundle),
            newOnly: await verifyFull(await caPem()),
            oldOnly: await verifyFull(oldCa),
            served: (await served(await caPem())).issuer,
          };
          await handle.signal(cleanupNowSignal, { by: 'e2e' });
          const result = await handle.result();
          running = undefined;
          await recordHistory(handle, 'other-certificate-authority-rotated');
          return result;
        },
      );
      const events = summarize(run.emails, run.deliveries);
      const result: RotationResult = run.result;
      const newCa = await caPem();
      const after = await pgCert();
      console.info(
        `CA rotation: ${JSON.stringify({ ms: Date.now() - t0, events, mid, from: result.from, to: result.to, steps: result.steps.map((s) => `${s.name}:${s.outcome}:${s.detail ?? ''}`) })}`,
      );
      expect(result.status).toBe('completed');
      expect(events.lost).toBe(0);
      expect(events.inserted).toBeGreaterThan(20);
      expect(mid).toMatchObject({ bundleOk: true, newOnly: true });
      expect(mid!.oldOnly).toMatch(/certificate|verify|self.signed|issuer/i);
      expect(describeCertificate(newCa).fingerprint).toBe(result.to);
      expect(describeCertificate(newCa).fingerprint).not.toBe(describeCertificate(oldCa).fingerprint);
      expect(after.fingerprint).not.toBe(before.fingerprint);
      // every managed service: served from the new CA; PostgreSQL: verify-full with the new CA, refused with the old one
      for (const c of managedCertificates().filter((m) => inScope.includes(m.service))) {
        const bundle = (await store.read(c.secret))!.data[CERT_KEYS.ca]!;
        expect(bundle.match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
        expect(describeCertificate(bundle).fingerprint).toBe(result.to);
      }
      expect(await served(newCa)).toMatchObject({ fingerprint: after.fingerprint, trusted: true, hostnameOk: true });
      expect((await served(oldCa)).trusted).toBe(false);
      expect(await verifyFull(newCa)).toBe(true);
      expect(await verifyFull(oldCa)).not.toBe(true);
      for (const s of ['-pending', '-backup']) expect(await store.read(`${pipeline.caSecret}${s}`)).toBeUndefined();
    } finally {
      await db.end();
    }
  }, 240_000);
});

async function waitForPhase(handle: WorkflowHandle, phase: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await handle.query(progressQuery).catch(() => undefined);
    if (p?.phase === phase) return;
    if (p && ['rolled-back', 'completed', 'needs-attention'].includes(p.phase))
      throw new Error(
        `CA rotation reached ${p.phase}: ${p.steps.map((s) => `${s.name}:${s.outcome}:${s.detail ?? ''}`).join(' | ')}`,
      );
    if (Date.now() > deadline) throw new Error(`CA rotation not in ${phase} after ${timeoutMs} ms (phase ${p?.phase})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
