import path from 'node:path';
import fs from 'node:fs';
import type { Client } from '@temporalio/client';
import { handshake, type TlsProtocol } from '../../activities/tls/index.js';
import { createClient } from '../../workers/client.js';
import type { WorkerConfig } from '../../workers/config.js';
import { startCertificateRotation } from '../../workers/startRotation.js';
import { DEFAULT_CERT_SECRETS, type TlsService } from '../../contracts/input/certificate.js';
import type { RotationResult } from '../../workflows/rotation/index.js';
import { pipeline, type StackConfig } from '../stack/config.js';
import { adminClient } from '../stack/postgres.js';
import { startTemporalTlsProxy } from '../stack/temporalTlsProxy.js';
import { summarize, underLoad } from './load.js';
import { rotateUnderLoad } from './measure.js';
import { createEmbeddedWorker, embeddedWorkerConfig, uiLink } from './session.js';
import { kafkaBootstrap } from '../stack/kafka.js';

/**
 * `demo --tls`: rekey's own connections over TLS where the stack offers it — Temporal through
 * an mTLS proxy (the dev server has no TLS), PostgreSQL with sslmode=verify-full, Kafka
 * Connect and the registry over HTTPS, all trusting the stack CA — then the CDC credential
 * rotation and a certificate rotation under insert load, with the served fingerprint before and after.
 */
export async function tlsDemo(opts: {
  stack: StackConfig;
  rate: number;
  grace: string;
  cert: TlsService;
  json: boolean;
  say: (line: string) => void;
}) {
  const { stack, say } = opts;
  const proxy = await startTemporalTlsProxy(stack);
  const env = tlsEnv(stack, proxy.address, proxy.files);
  const { config } = embeddedWorkerConfig({ ...process.env, ...env });
  say('rekey connects over TLS, trusting the stack CA only:');
  say(
    `  Temporal        ${config.temporal.address} (mTLS: a TLS-terminating proxy that requires a client certificate, in front of the dev server)`,
  );
  say(`  PostgreSQL      ${config.postgres.host}:${config.postgres.port} sslmode=${config.postgres.sslmode}`);
  say(`  Kafka Connect   ${config.kafkaConnect.url}`);
  say(`  Schema Registry ${config.schemaRegistry.url}`);
  say(`  (Kafka stays plaintext: the stack's brokers offer no TLS listener to rekey here)`);
  const taskQueue = `rekey-demo-tls-${process.pid}`;
  const { worker, connection: workerConnection } = await createEmbeddedWorker(
    { ...config, temporal: { ...config.temporal, taskQueue } },
    { quiet: !opts.json },
  );
  const running = worker.run();
  const { client, connection } = await createClient(config);
  try {
    say(`\n1. the CDC user's credential, rotated over these connections (${opts.rate} inserts/s)`);
    const credential = await rotateUnderLoad({
      client,
      stack,
      brokers: [kafkaBootstrap(stack)],
      taskQueue,
      strategy: 'reload-connector',
      grace: opts.grace,
      rate: opts.rate,
      say,
    });
    say(
      `   ${credential.rotation.status}: ${credential.rotation.oldUser} → ${credential.rotation.newUser}; events inserted ${credential.events.inserted}, delivered ${credential.events.delivered}, lost ${credential.events.lost}`,
    );
    say(
      `\n2. ${opts.cert}'s server certificate (secret ${DEFAULT_CERT_SECRETS[opts.cert]}), rotated under the same load`,
    );
    const certificate = await rotateCertificate({
      client,
      config,
      stack,
      taskQueue,
      service: opts.cert,
      rate: opts.rate,
      say,
    });
    return {
      connections: {
        temporal: `${config.temporal.address} mTLS`,
        postgres: `sslmode=${config.postgres.sslmode}`,
        kafkaConnect: config.kafkaConnect.url,
        schemaRegistry: config.schemaRegistry.url,
      },
      credential,
      certificate,
      proxyRefusedHandshakes: proxy.refused(),
    };
  } finally {
    worker.shutdown();
    await running;
    await workerConnection.close();
    await connection.close();
    await proxy.close();
  }
}

/** The environment a TLS-configured worker and CLI take (README, "TLS options"). */
function tlsEnv(
  stack: StackConfig,
  temporalAddress: string,
  files: { ca: string; clientCert: string; clientKey: string },
): NodeJS.ProcessEnv {
  return {
    REKEY_TEMPORAL_ADDRESS: temporalAddress,
    REKEY_TEMPORAL_TLS_CERT: files.clientCert,
    REKEY_TEMPORAL_TLS_KEY: files.clientKey,
    REKEY_TEMPORAL_TLS_CA: files.ca,
    REKEY_PG_SSLMODE: 'verify-full',
    REKEY_PG_SSLROOTCERT: files.ca,
    REKEY_CONNECT_URL: `https://127.0.0.1:${stack.ports.connectHttps}`,
    REKEY_CONNECT_AUTH_SECRET: pipeline.connectRestSecret,
    REKEY_CONNECT_CA_FILE: files.ca,
    REKEY_REGISTRY_URL: `https://127.0.0.1:${stack.ports.registryHttps}/apis/ccompat/v7`,
    REKEY_REGISTRY_CA_FILE: files.ca,
  };
}

const endpointOf = (
  config: WorkerConfig,
  service: TlsService,
): { host: string; port: number; protocol: TlsProtocol } => {
  if (service === 'postgresql') return { host: config.postgres.host, port: config.postgres.port, protocol: 'postgres' };
  const u = new URL(service === 'kafka-connect' ? config.kafkaConnect.url : config.schemaRegistry.url);
  return { host: u.hostname, port: Number(u.port), protocol: 'tls' };
};

async function rotateCertificate(o: {
  client: Client;
  config: WorkerConfig;
  stack: StackConfig;
  taskQueue: string;
  service: TlsService;
  rate: number;
  say: (line: string) => void;
}) {
  const endpoint = endpointOf(o.config, o.service);
  const caPem = fs.readFileSync(path.join(o.stack.dataDir, 'temporal-tls', 'ca.crt'), 'utf8');
  const served = () => handshake({ ...endpoint, servername: endpoint.host, caPem });
  const before = await served();
  o.say(`   served before: ${before.fingerprint} (trusted: ${before.trusted}, host name ok: ${before.hostnameOk})`);
  const db = await adminClient(o.stack, pipeline.database);
  const t0 = Date.now();
  try {
    const run = await underLoad(
      { db, brokers: [kafkaBootstrap(o.stack)], topic: pipeline.usersTopic, rate: o.rate, warmupMs: 2000 },
      async () => {
        const handle = await startCertificateRotation(
          o.client,
          { service: o.service, reason: 'demo --tls', requestedBy: process.env.USER ?? 'rekey' },
          { taskQueue: o.taskQueue },
        );
        o.say(`   workflow ${handle.workflowId}\n   Web UI: ${uiLink(o.stack, handle.workflowId)}`);
        return handle.result().then(
          (r: RotationResult) => ({ result: r, error: null as string | null }),
          (err: Error) => ({ result: undefined, error: (err.cause as Error | undefined)?.message ?? err.message }),
        );
      },
    );
    const after = await served();
    const events = summarize(run.emails, run.deliveries);
    o.say(`   served after:  ${after.fingerprint} (trusted: ${after.trusted}, host name ok: ${after.hostnameOk})`);
    o.say(
      `   ${run.result.result?.status ?? `failed: ${run.result.error}`} in ${((Date.now() - t0) / 1000).toFixed(1)} s; events inserted ${events.inserted}, delivered ${events.delivered}, lost ${events.lost}, duplicates ${events.duplicates}`,
    );
    return {
      service: o.service,
      status: run.result.result?.status ?? 'failed',
      error: run.result.error,
      servedBefore: before.fingerprint,
      servedAfter: after.fingerprint,
      trustedAfter: after.trusted && after.hostnameOk,
      events,
      wallMs: Date.now() - t0,
      steps: run.result.result?.steps ?? [],
    };
  } finally {
    await db.end();
  }
}
