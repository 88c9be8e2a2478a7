import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { CA_KEYS, CERT_KEYS, describeCertificate, handshake } from '../../activities/tls/index.js';
import { summarize, underLoad } from '../../scripts/lib/load.js';
import { pipeline } from '../../scripts/stack/config.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { httpsServices, type HttpsService } from '../../scripts/stack/httpsTls.js';
import { startCertificateRotation } from '../../workers/startRotation.js';
import type { CertificateRotationInput } from '../../contracts/input/certificate.js';
import type { RotationResult } from '../../workflows/rotation/index.js';
import { startTestWorker, type TestWorker } from '../helpers.js';
import { cfg, stopLeftover, store } from './pipeline.js';
import { kafkaBootstrap } from '../../scripts/stack/kafka.js';
import { connectFetch } from '../../scripts/stack/connectRest.js';

/**
 * Kafka Connect's REST API and the Schema Registry serve HTTPS beside HTTP; their
 * certificates are renewed by the workflow with a restart (they read them only at start),
 * checked as a client would: the handshake serves the new certificate, trusted by the stack CA
 * for the host name, and the CDC change events inserted meanwhile all arrive (0 lost). The
 * worker itself talks to Connect and the registry over HTTPS, trusting only the stack CA.
 */
let w: TestWorker;
let running: WorkflowHandle | undefined;
const caFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-ca-')), 'ca.crt');
const httpsPort = { 'kafka-connect': cfg.ports.connectHttps, 'schema-registry': cfg.ports.registryHttps } as const;

beforeAll(async () => {
  // rekey's CA file as an operator keeps it: the signing CA plus each service's trust bundle (after a
  // CA rotation limited to other services, Connect and the registry still serve certificates from the old CA)
  const bundles = [(await store.read(pipeline.caSecret))!.data[CA_KEYS.cert]!];
  for (const secret of ['connect-tls', 'registry-tls']) bundles.push((await store.read(secret))!.data[CERT_KEYS.ca]!);
  fs.writeFileSync(caFile, bundles.join('\n'));
  w = await startTestWorker({
    kafkaConnect: {
      url: `https://127.0.0.1:${cfg.ports.connectHttps}`,
      caFile,
      auth: { secret: pipeline.connectRestSecret },
    },
    schemaRegistry: { url: `https://127.0.0.1:${cfg.ports.registryHttps}/apis/ccompat/v7`, api: 'apicurio', caFile },
  });
});
afterAll(async () => {
  await stopLeftover(running);
  await w?.stop();
  fs.rmSync(path.dirname(caFile), { recursive: true, force: true });
});

const secretCert = async (s: HttpsService) =>
  describeCertificate((await store.read(httpsServices[s].secret))!.data[CERT_KEYS.cert]!);
const served = (s: HttpsService, servername = '127.0.0.1') =>
  handshake({
    host: '127.0.0.1',
    port: httpsPort[s],
    protocol: 'tls',
    servername,
    caPem: fs.readFileSync(caFile, 'utf8'),
  });

async function rotate(input: CertificateRotationInput) {
  const handle = await startCertificateRotation(w.client, { requestedBy: 'e2e', ...input }, { taskQueue: w.taskQueue });
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

async function rotateUnderLoad(service: HttpsService) {
  const before = await secretCert(service);
  const db = await adminClient(cfg, pipeline.database);
  try {
    const t0 = Date.now();
    const run = await underLoad(
      { db, brokers: [kafkaBootstrap(cfg)], topic: pipeline.usersTopic, rate: 15, warmupMs: 1000, drainMs: 240_000 },
      () => rotate({ service, validityDays: 30, clientWatch: 'PT3S' }),
    );
    const events = summarize(run.emails, run.deliveries);
    const { result, error } = run.result;
    console.info(
      `${service} certificate rotation: ${JSON.stringify({ seconds: (Date.now() - t0) / 1000, events, from: result?.from, to: result?.to, steps: result?.steps.map((s) => `${s.name}:${s.outcome}:${s.detail ?? ''}`) })}`,
    );
    expect(error).toBeUndefined();
    expect(result!.status).toBe('completed');
    // lost = never delivered within 4 min: a Connect restart leaves a backlog Debezium drains after it (at-least-once, from its committed offset)
    expect(events.inserted).toBeGreaterThan(20);
    expect(events.lost).toBe(0);
    const after = await secretCert(service);
    expect(result).toMatchObject({ from: before.fingerprint, to: after.fingerprint });
    expect(after.fingerprint).not.toBe(before.fingerprint);
    expect(after.sans).toEqual(before.sans);
    for (const name of ['127.0.0.1', 'localhost'])
      expect(await served(service, name)).toMatchObject({
        fingerprint: after.fingerprint,
        trusted: true,
        hostnameOk: true,
      });
    expect(await store.read(`${httpsServices[service].secret}-pending`)).toBeUndefined();
    expect(await store.read(`${httpsServices[service].secret}-backup`)).toBeUndefined();
  } finally {
    await db.end();
  }
}

describe('HTTPS certificates of Kafka Connect and the Schema Registry', () => {
  it('both serve HTTPS from their secrets, signed by the stack CA, for 127.0.0.1 and localhost; HTTP stays', async () => {
    for (const s of ['kafka-connect', 'schema-registry'] as const) {
      expect(await served(s)).toMatchObject({
        fingerprint: (await secretCert(s)).fingerprint,
        trusted: true,
        hostnameOk: true,
      });
      expect(await served(s, 'localhost')).toMatchObject({ trusted: true, hostnameOk: true });
    }
    expect((await connectFetch(`http://127.0.0.1:${cfg.ports.connect}/`)).status).toBe(200);
  });

  it('rotates Kafka Connect’s certificate under CDC load (a worker restart): new certificate served and trusted, 0 events lost', async () => {
    await rotateUnderLoad('kafka-connect');
  });

  it('rotates the Schema Registry’s certificate under CDC load (a restart, failed converter tasks healed): 0 events lost', async () => {
    await rotateUnderLoad('schema-registry');
  });

  // a real certificate rollback: certificateRotation.test.ts (PostgreSQL drill); Connect's undo path (reinstall, restart): certificates.test.ts (stub world)
});
