import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type ConfigResourceTypes, type ConfigSource } from 'kafkajs';
import type { WorkflowHandle } from '@temporalio/client';
import { reloadListenerKeystore } from '../../activities/kafka.js';
import { kafkaClientConfig } from '../../activities/kafkaClient.js';
import { kafkaClientDeps } from '../../workers/kafkaDeps.js';
import { CA_KEYS, CERT_KEYS, describeCertificate, handshake } from '../../activities/tls/index.js';
import { summarize, underLoad } from '../../scripts/lib/load.js';
import { pipeline } from '../../scripts/stack/config.js';
import { kafkaTlsBootstrap } from '../../scripts/stack/kafka.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { pidFile } from '../../scripts/stack/proc.js';
import { startCertificateRotation } from '../../workers/startRotation.js';
import type { CertificateRotationInput } from '../../contracts/input/certificate.js';
import type { RotationResult } from '../../workflows/rotation/index.js';
import { startTestWorker, type TestWorker } from '../helpers.js';
import { cfg, failureOf, stopLeftover, store } from './pipeline.js';
import { kafkaBootstrap } from '../../scripts/stack/kafka.js';

/**
 * Kafka's TLS listener certificate renewed by the workflow on the embedded stack while CDC
 * change events flow, checked as a client would: a kafkajs consumer that verifies the broker
 * against the stack CA, connected over TLS before the rotation, receives every change event
 * inserted during and after it (0 lost); the handshake then serves the new certificate,
 * trusted and valid for 127.0.0.1; the broker was never restarted.
 */
let w: TestWorker;
let running: WorkflowHandle | undefined;
let caPem: string;
beforeAll(async () => {
  caPem = (await store.read(pipeline.caSecret))!.data[CA_KEYS.cert]!;
  await served().catch((err: Error) => {
    throw new Error(
      `the stack's Kafka has no TLS listener (${err.message}): a broker started before it existed; restart it (npm run stack:down && npm run stack:up)`,
    );
  });
  w = await startTestWorker();
});
afterAll(async () => {
  await stopLeftover(running);
  await w?.stop();
});

/** Kafka protocol values: resource type BROKER, config source DYNAMIC_BROKER_CONFIG. */
const BROKER = 4 as ConfigResourceTypes;
const DYNAMIC_BROKER_CONFIG = 2 as ConfigSource;

const secretCert = async () => describeCertificate((await store.read(pipeline.kafkaTlsSecret))!.data[CERT_KEYS.cert]!);
const served = async () =>
  handshake({ host: '127.0.0.1', port: cfg.ports.kafkaTls, protocol: 'tls', servername: '127.0.0.1', caPem });
const brokerPid = () => fs.readFileSync(pidFile(cfg.runDir, 'kafka'), 'utf8').trim();

/** A TLS client as an application configures it: the CA, host name verification on (kafkajs passes the broker's host as servername). */
async function clusterOverTls() {
  const admin = new Kafka({
    clientId: 'e2e-tls',
    brokers: [kafkaTlsBootstrap(cfg)],
    ssl: { ca: [caPem] },
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  }).admin();
  await admin.connect();
  try {
    return await admin.describeCluster();
  } finally {
    await admin.disconnect();
  }
}

async function rotate(input: Partial<CertificateRotationInput>) {
  const handle = await startCertificateRotation(
    w.client,
    { service: 'kafka', requestedBy: 'e2e', ...input },
    { taskQueue: w.taskQueue },
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

describe('Kafka TLS listener certificate rotation', () => {
  it('serves TLS from the kafka-tls secret, signed by the stack CA, beside plaintext', async () => {
    expect(await served()).toMatchObject({
      fingerprint: (await secretCert()).fingerprint,
      trusted: true,
      hostnameOk: true,
    });
    expect((await clusterOverTls()).brokers.map((b) => b.port)).toEqual([cfg.ports.kafkaTls]);
  });

  it('reloads through the Admin API keeping the broker’s other dynamic configs (kafkajs AlterConfigs replaces them all)', async () => {
    const admin = new Kafka({
      clientId: 'e2e-configs',
      brokers: [kafkaBootstrap(cfg)],
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    const dynamic = async () => {
      const { resources } = await admin.describeConfigs({
        resources: [{ type: BROKER, name: '1' }],
        includeSynonyms: false,
      });
      return Object.fromEntries(
        resources[0]!.configEntries
          .filter((e) => e.configSource === DYNAMIC_BROKER_CONFIG)
          .map((e) => [e.configName, e.configValue]),
      );
    };
    const put = async (configs: Record<string, string>) =>
      admin.alterConfigs({
        validateOnly: false,
        resources: [
          { type: BROKER, name: '1', configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) },
        ],
      });
    // the broker answers DescribeConfigs from its metadata cache, which follows the controller by a moment
    const settled = async (test: (c: Record<string, string>) => boolean) => {
      for (let i = 0; i < 20 && !test(await dynamic()); i++) await new Promise((r) => setTimeout(r, 250));
      return dynamic();
    };
    const before = await dynamic();
    try {
      await put({ ...before, 'log.cleaner.backoff.ms': '15001' });
      await settled((c) => c['log.cleaner.backoff.ms'] === '15001');
      const fingerprint = (await served()).fingerprint;
      expect(
        await reloadListenerKeystore(kafkaClientConfig(kafkaClientDeps(w.config.kafka), store), 'SSL'),
      ).toMatchObject({
        brokers: [1],
        location: expect.stringMatching(/kafka-tls\/keystore\.pem$/),
      });
      await new Promise((r) => setTimeout(r, 1500));
      expect(await settled((c) => 'listener.name.ssl.ssl.keystore.location' in c)).toMatchObject({
        'log.cleaner.backoff.ms': '15001',
        'listener.name.ssl.ssl.keystore.location': expect.stringMatching(/keystore\.pem$/),
      });
      // the file did not change: the same certificate is served
      expect((await served()).fingerprint).toBe(fingerprint);
    } finally {
      const rest = await dynamic();
      delete rest['log.cleaner.backoff.ms'];
      await put(rest);
      await settled((c) => !('log.cleaner.backoff.ms' in c));
      await admin.disconnect();
    }
  });

  it('rotates under CDC load without a broker restart: a TLS consumer from before keeps consuming, 0 change events lost, the new certificate served and trusted', async () => {
    const before = await secretCert();
    const pid = brokerPid();
    const db = await adminClient(cfg, pipeline.database);
    try {
      // load goes on 3 s after the rotation: the consumer must keep receiving after the switch
      const run = await underLoad(
        {
          db,
          brokers: [kafkaTlsBootstrap(cfg)],
          ssl: { ca: [caPem] },
          topic: pipeline.usersTopic,
          rate: 30,
          warmupMs: 3000,
        },
        async () => {
          const r = await rotate({ validityDays: 30 });
          await new Promise((res) => setTimeout(res, 3000));
          return r;
        },
      );
      const events = summarize(run.emails, run.deliveries);
      const { result, error } = run.result;
      const install = result?.steps.find((s) => s.name === 'install');
      const switchedAt = install?.endedAt ? Date.parse(install.endedAt) : Infinity;
      const deliveredAfterSwitch = run.deliveries.filter((d) => d.receivedAt > switchedAt).length;
      const installMs = install?.endedAt ? Date.parse(install.endedAt) - Date.parse(install.startedAt) : null;
      console.info(
        `kafka certificate rotation: ${JSON.stringify({ events, deliveredAfterSwitch, installMs, from: result?.from, to: result?.to, steps: result?.steps.map((s) => `${s.name}:${s.outcome}:${s.detail ?? ''}`) })}`,
      );
      expect(error).toBeUndefined();
      expect(result!.status).toBe('completed');
      expect(events.lost).toBe(0);
      expect(events.inserted).toBeGreaterThan(100);
      expect(deliveredAfterSwitch).toBeGreaterThan(30);
      const after = await secretCert();
      expect(result).toMatchObject({ from: before.fingerprint, to: after.fingerprint });
      expect(after.fingerprint).not.toBe(before.fingerprint);
      expect(after.sans).toEqual(before.sans);
      expect(await served()).toMatchObject({ fingerprint: after.fingerprint, trusted: true, hostnameOk: true });
      expect((await clusterOverTls()).brokers).toHaveLength(1);
      expect(brokerPid()).toBe(pid);
      expect(await store.read(`${pipeline.kafkaTlsSecret}-pending`)).toBeUndefined();
      expect(await store.read(`${pipeline.kafkaTlsSecret}-backup`)).toBeUndefined();
    } finally {
      await db.end();
    }
  });

  it('rolls back when the served certificate is not verified (drill): the previous certificate is back in the secret and served', async () => {
    const before = await secretCert();
    const { handle, error } = await rotate({ injectFailure: 'verify-served' });
    expect(error).toBeDefined();
    expect((await failureOf(handle))?.type).toBe('RotationRolledBack');
    expect((await secretCert()).fingerprint).toBe(before.fingerprint);
    expect(await served()).toMatchObject({ fingerprint: before.fingerprint, trusted: true, hostnameOk: true });
    expect((await clusterOverTls()).brokers).toHaveLength(1);
    expect(await store.read(`${pipeline.kafkaTlsSecret}-pending`)).toBeUndefined();
    expect(await store.read(`${pipeline.kafkaTlsSecret}-backup`)).toBeUndefined();
  });
});
