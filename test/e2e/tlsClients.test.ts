import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '@temporalio/client';
import { Kafka } from 'kafkajs';
import { kafkaClientConfig } from '../../activities/kafkaClient.js';
import { connectFetch } from '../../scripts/stack/connectRest.js';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import type { SecretStore } from '../../activities/secrets/store.js';
import { createActivities } from '../../activities/index.js';
import { createConnections } from '../../activities/postgres/connection.js';
import { CA_KEYS, createCertificateAuthority } from '../../activities/tls/index.js';
import { createEmbeddedWorker, embeddedWorkerConfig } from '../../scripts/lib/session.js';
import { pipeline, repoRoot } from '../../scripts/stack/config.js';
import { startTemporalTlsProxy, type TemporalTlsProxy } from '../../scripts/stack/temporalTlsProxy.js';
import { postgresTls } from '../../workers/tlsConfig.js';
import { kafkaClientDeps } from '../../workers/kafkaDeps.js';
import { cfg, store } from './pipeline.js';

/**
 * rekey's own connections over TLS against real servers: Temporal behind a TLS-terminating
 * mTLS proxy (a worker and the CLI get through with the client certificate, a client without
 * one is refused), PostgreSQL with sslmode=verify-full against the stack CA (a wrong CA fails
 * with a message that says so), Kafka Connect and the registry over HTTPS trusting the stack CA.
 */
const run = promisify(execFile);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-tls-clients-'));
const caFile = path.join(dir, 'ca.crt');
const wrongCaFile = path.join(dir, 'wrong-ca.crt');
let proxy: TemporalTlsProxy;

beforeAll(async () => {
  fs.writeFileSync(caFile, (await store.read(pipeline.caSecret))!.data[CA_KEYS.cert]!);
  fs.writeFileSync(
    wrongCaFile,
    (await createCertificateAuthority({ commonName: 'not the stack CA', validityDays: 2 })).certPem,
  );
  proxy = await startTemporalTlsProxy(cfg);
});
afterAll(async () => {
  await proxy?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("rekey's TLS client connections", () => {
  it('Temporal through an mTLS proxy: a worker and the CLI connect with the client certificate; without one the handshake is refused', async () => {
    const taskQueue = `rekey-tls-${randomBytes(4).toString('hex')}`;
    const tlsEnv = {
      REKEY_TEMPORAL_ADDRESS: proxy.address,
      REKEY_TASK_QUEUE: taskQueue,
      REKEY_TEMPORAL_TLS_CERT: proxy.files.clientCert,
      REKEY_TEMPORAL_TLS_KEY: proxy.files.clientKey,
      REKEY_TEMPORAL_TLS_CA: proxy.files.ca,
    };
    const { config } = embeddedWorkerConfig({ ...process.env, ...tlsEnv });
    expect(config.temporal.tls?.clientCertPath).toBe(proxy.files.clientCert);
    const { worker, connection } = await createEmbeddedWorker({ ...config, testHooks: true }, { quiet: true });
    const running = worker.run();
    try {
      // the CLI, as an operator runs it: a dry run goes through the server to the worker and back
      const cli = await run(
        process.execPath,
        ['--import', 'tsx', 'scripts/rekey.ts', 'cert', 'rotate', '--service', 'postgresql', '--dry-run', '--json'],
        { cwd: repoRoot, env: { ...process.env, ...tlsEnv }, timeout: 120_000 },
      );
      const plan = JSON.parse(cli.stdout.trim().split('\n').at(-1)!) as { status?: string; steps?: unknown[] };
      expect(plan.status).toBe('dry-run');
      expect(JSON.stringify(plan)).toContain('preflight');

      const refusedBefore = proxy.refused();
      const noCert = Connection.connect({
        address: proxy.address,
        tls: { serverRootCACertificate: fs.readFileSync(proxy.files.ca) },
        connectTimeout: '5s',
      });
      await expect(noCert.then((c) => c.workflowService.getSystemInfo({}))).rejects.toThrow();
      const plaintext = Connection.connect({ address: proxy.address, connectTimeout: '5s' });
      await expect(plaintext.then((c) => c.workflowService.getSystemInfo({}))).rejects.toThrow();
      expect(proxy.refused()).toBeGreaterThan(refusedBefore);
    } finally {
      worker.shutdown();
      await running;
      await connection.close();
    }
  });

  it('PostgreSQL with sslmode=verify-full: the stack CA connects over TLS; a wrong CA fails naming the sslmode and the setting', async () => {
    const connectWith = (rootCert: string) => {
      const { config } = embeddedWorkerConfig({
        ...process.env,
        REKEY_PG_SSLMODE: 'verify-full',
        REKEY_PG_SSLROOTCERT: rootCert,
      });
      const p = config.postgres;
      return createConnections({
        store,
        host: p.host,
        port: p.port,
        database: p.database,
        adminSecret: p.adminSecret,
        ssl: postgresTls(p),
      });
    };
    const ssl = await connectWith(caFile).withAdmin((c) =>
      c.query<{ ssl: boolean; version: string }>('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()'),
    );
    expect(ssl.rows[0]).toMatchObject({ ssl: true });
    await expect(connectWith(wrongCaFile).withAdmin((c) => c.query('SELECT 1'))).rejects.toThrow(
      /presented a certificate rekey does not trust with sslmode=verify-full: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN).*REKEY_PG_SSLROOTCERT/,
    );
  });

  it('Kafka Connect and the registry over HTTPS: activities work trusting the stack CA, and refuse with another CA', async () => {
    const activitiesWith = (ca: string) => {
      const { config } = embeddedWorkerConfig();
      return createActivities({
        store,
        postgres: config.postgres,
        kafka: kafkaClientDeps(config.kafka),
        kafkaConnect: {
          url: `https://127.0.0.1:${cfg.ports.connectHttps}`,
          caPem: fs.readFileSync(ca, 'utf8'),
          auth: { secret: pipeline.connectRestSecret },
        },
        schemaRegistry: {
          url: `https://localhost:${cfg.ports.registryHttps}/apis/ccompat/v7`,
          caPem: fs.readFileSync(ca, 'utf8'),
        },
        audit: { path: path.join(dir, 'audit.jsonl') },
      });
    };
    const good = activitiesWith(caFile);
    // Connect answered over HTTPS (its state is the pipeline files' business: this lane runs beside them, and may restart it)
    await expect
      .poll(
        () =>
          good.connectorStatus({ connector: pipeline.connector }).then(
            (c) => c.connector,
            (e: Error) => e.message,
          ),
        { timeout: 90_000, interval: 1000 },
      )
      .toBe(pipeline.connector);
    // the registry may be restarting for a rotation beside this file: an answer within a minute
    await expect
      .poll(
        () =>
          good.registryAuth({ secret: pipeline.registrySecret, account: 'developer', slot: 'current' }).then(
            (a) => a.status,
            () => 0,
          ),
        { timeout: 60_000, interval: 1000 },
      )
      .toBe(200);
    const wrong = activitiesWith(wrongCaFile);
    // refused by the handshake, whenever the service listens (a pipeline file beside this one may be restarting it: ECONNREFUSED meanwhile)
    const refusal = (call: Promise<unknown>) =>
      call.then(
        () => 'accepted',
        (e: Error) => e.message,
      );
    const untrusted = /unreachable: fetch failed: (unable to verify the first certificate|self-signed certificate)/;
    await expect
      .poll(() => refusal(wrong.connectorStatus({ connector: pipeline.connector })), {
        timeout: 90_000,
        interval: 1000,
      })
      .toMatch(untrusted);
    await expect
      .poll(() => refusal(wrong.registryAuth({ secret: pipeline.registrySecret, account: 'probe', slot: 'current' })), {
        timeout: 90_000,
        interval: 1000,
      })
      .toMatch(untrusted);
  });

  it("Kafka over SASL_SSL: rekey's principal reads with only its ACLs; a wrong password, another CA and a missing secret fail without a secret in the error", async () => {
    const { config } = embeddedWorkerConfig();
    const kafkaWith = (over: Partial<ReturnType<typeof kafkaClientDeps>>, secrets: SecretStore = store) =>
      kafkaClientConfig({ ...kafkaClientDeps(config.kafka), ...over }, secrets)().then((c) =>
        new Kafka({ ...c, retry: { retries: 0 } }).admin(),
      );
    const admin = await kafkaWith({});
    await admin.connect();
    try {
      // Describe on the change topics: the canary's read; nothing beyond its grants is listed
      const topics = await admin.listTopics();
      expect(topics).toContain(pipeline.usersTopic);
      // and the registry's storage topic, which the access validation looks for
      expect(topics.filter((t) => !/^(ecommerce\.|fleet-|kafkasql-journal$)/.test(t))).toEqual([]);
      // a write the principal was not granted is refused by the broker's authorizer
      const denied = await admin.createTopics({ topics: [{ topic: `rekey-not-granted-${Date.now()}` }] }).then(
        () => 'created',
        (e: Error & { errors?: Array<{ type?: string }> }) => e.errors?.map((x) => x.type).join(',') ?? e.message,
      );
      expect(denied).toMatch(/^(TOPIC|CLUSTER)_AUTHORIZATION_FAILED$/);
    } finally {
      await admin.disconnect();
    }
    const password = (await store.read(pipeline.rekeySaslSecret))!.data.password!;
    const wrongSecret = new FileSecretStore(path.join(dir, 'wrong-secrets'));
    const username = (await store.read(pipeline.rekeySaslSecret))!.data.username!;
    await wrongSecret.write(
      pipeline.rekeySaslSecret,
      { username, password: `${password}x` },
      { expectedVersion: null },
    );
    const refused = async (over: Partial<ReturnType<typeof kafkaClientDeps>>, secrets?: SecretStore) => {
      const a = await kafkaWith(over, secrets);
      const message = await a.connect().then(
        () => 'connected',
        (e: Error) => e.message,
      );
      await a.disconnect().catch(() => undefined);
      expect(message).not.toContain(password);
      return message;
    };
    expect(await refused({}, wrongSecret)).toMatch(/SASL SCRAM SHA512 authentication failed|Authentication failed/i);
    expect(await refused({ ssl: { caPem: fs.readFileSync(wrongCaFile, 'utf8') } })).toMatch(
      /self[- ]signed|unable to verify|certificate/i,
    );
    await expect(kafkaWith({}, new FileSecretStore(path.join(dir, 'no-secrets')))).rejects.toThrow(
      `secret ${pipeline.rekeySaslSecret} does not exist (rekey's Kafka principal, kafka.sasl.secret)`,
    );
  });

  it("Kafka Connect's REST API asks for basic authentication: none or a wrong password is refused (401) on HTTP and HTTPS; rekey's activities pass with the secret's credential", async () => {
    const status = (url: string, authorization?: string) =>
      fetch(url, authorization ? { headers: { authorization } } : {}).then((r) => r.status);
    const http = `http://127.0.0.1:${cfg.ports.connect}/connectors`;
    // Connect may be restarting for a rotation in the stack lane beside this file
    await expect.poll(() => status(http).catch(() => 0), { timeout: 120_000, interval: 1000 }).toBe(401);
    const wrong = `Basic ${Buffer.from('connect-admin:not-the-password').toString('base64')}`;
    expect(await status(http, wrong)).toBe(401);
    expect((await connectFetch(http)).status).toBe(200);
    // a worker that has just started answers 404 for the connector's status until it has read the status topic
    const connectorStatusUrl = `${http}/${pipeline.connector}/status`;
    await expect
      .poll(
        () =>
          connectFetch(connectorStatusUrl).then(
            (r) => r.status,
            () => 0,
          ),
        { timeout: 120_000, interval: 1000 },
      )
      .toBe(200);
    const { config } = embeddedWorkerConfig();
    const acts = (auth?: { secret: string }, secrets: SecretStore = store) =>
      createActivities({
        store: secrets,
        postgres: config.postgres,
        kafka: kafkaClientDeps(config.kafka),
        kafkaConnect: { url: `http://127.0.0.1:${cfg.ports.connect}`, ...(auth ? { auth } : {}) },
        audit: { path: path.join(dir, 'audit.jsonl') },
      });
    expect(
      (await acts({ secret: pipeline.connectRestSecret }).connectorStatus({ connector: pipeline.connector })).connector,
    ).toBe(pipeline.connector);
    await expect(acts().connectorStatus({ connector: pipeline.connector })).rejects.toThrow(/401/);
    await expect(
      acts({ secret: pipeline.connectRestSecret }, new FileSecretStore(path.join(dir, 'no-secrets'))).connectorStatus({
        connector: pipeline.connector,
      }),
    ).rejects.toThrow(
      `secret ${pipeline.connectRestSecret} does not exist (Kafka Connect's REST credential, kafkaConnect.auth.secret)`,
    );
  });
});
