import { IAMClient, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CA_KEYS, CERT_KEYS, describeCertificate, handshake } from '../../../activities/tls/index.js';
import type { SecretStore } from '../../../activities/secrets/store.js';
import { acceptedUsers } from '../../../activities/connectRestUsersFile.js';
import { postgresAdmin, postgresApp } from './postgresProcedures.js';
import { siblings } from '../../../activities/secrets/store.js';
import { Kafka } from 'kafkajs';
import fs from 'node:fs';
import { describeScramUsers } from '../../../activities/kafkaScram.js';
import {
  credentialStarters,
  startAwsKeysRotation,
  startCertificateRotation,
  startPostgresCdcRotation,
  startSchemaRegistryRotation,
} from '../../../workers/startRotation.js';
import { pipeline, type StackConfig } from '../../stack/config.js';
import { awsClientConfig } from '../../stack/moto.js';
import { adminClient } from '../../stack/postgres.js';
import { kafkaBootstrap } from '../../stack/kafka.js';
import { kafkaCaFile, kafkaSaslBootstrap } from '../../stack/kafkaPrincipals.js';

export { procedureNames, type InUse, type ProbeContext, type Procedure, type ProcedureName } from './procedure.js';
import type { Procedure, ProcedureName } from './procedure.js';

const by = 'fault-matrix';
/** Values of secret keys (never user names or key ids): what must never reach a history. */
export const secretKey = /(password|secret-access-key|tls\.key|ca\.key)$/;

const cdc: Procedure = {
  name: 'cdc',
  secrets: [pipeline.cdcSecret],
  start: (client, taskQueue, extra) =>
    startPostgresCdcRotation(
      client,
      { target: 'ecommerce', gracePeriod: 'PT3S', requestedBy: by, ...extra },
      { taskQueue },
    ),
  async inUse({ cfg, store }) {
    const db = await adminClient(cfg, pipeline.database);
    db.on('error', () => undefined);
    try {
      const streaming = await db.query<{ usename: string | null }>(
        'SELECT r.usename FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = $1',
        [pipeline.slot],
      );
      const roles = (
        await db.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE rolname LIKE 'debezium\\_%' ORDER BY 1`)
      ).rows.map((r) => r.rolname);
      const user = (await store.read(pipeline.cdcSecret))?.data['db-username'] ?? null;
      const streamingUser = streaming.rows[0]?.usename ?? null;
      const problems: string[] = [];
      if (streamingUser !== user) problems.push(`slot streamed by ${streamingUser}, secret holds ${user}`);
      const expected = [pipeline.parentRole, user ?? '(none)'].sort();
      if (roles.join() !== expected.join())
        problems.push(`CDC roles ${roles.join(', ')} (expected ${expected.join(', ')})`);
      return { id: user, problems };
    } finally {
      await db.end();
    }
  },
};

const registryAccount = 'developer';
const registry: Procedure = {
  name: 'registry',
  secrets: [pipeline.registrySecret],
  start: (client, taskQueue, extra) =>
    startSchemaRegistryRotation(
      client,
      { target: 'ecommerce', gracePeriod: 'PT3S', requestedBy: by, ...extra },
      { taskQueue },
    ),
  async inUse({ cfg, store }) {
    const data = (await store.read(pipeline.registrySecret))?.data ?? {};
    const user = data[`${registryAccount}-user`] ?? null;
    const auth = Buffer.from(`${user}:${data[`${registryAccount}-password`]}`).toString('base64');
    const status = await fetch(`http://127.0.0.1:${cfg.ports.registry}/apis/ccompat/v7/subjects`, {
      headers: { authorization: `Basic ${auth}` },
    }).then(
      (r) => r.status,
      () => 0,
    );
    const problems: string[] = [];
    if (status !== 200) problems.push(`registry answers ${status} to ${user}`);
    const halfway = Object.keys(data).filter((k) => /-(next|previous)-/.test(k));
    if (halfway.length) problems.push(`secret keeps ${halfway.join(', ')}`);
    return { id: user, problems };
  },
};

const aws: Procedure = {
  name: 'aws',
  secrets: [pipeline.awsSecret],
  start: (client, taskQueue, extra) =>
    startAwsKeysRotation(
      client,
      { target: 'datapipe-archive', gracePeriod: 'PT3S', watchSeconds: 10, requestedBy: by, ...extra },
      { taskQueue },
    ),
  async inUse({ cfg, store }) {
    const data = (await store.read(pipeline.awsSecret))?.data ?? {};
    const creds = { accessKeyId: data['access-key-id'] ?? '', secretAccessKey: data['secret-access-key'] ?? '' };
    const admin = await awsClientConfig(cfg);
    const keys = (
      (await new IAMClient(admin).send(new ListAccessKeysCommand({ UserName: pipeline.awsUser }))).AccessKeyMetadata ??
      []
    ).map((k) => `${k.AccessKeyId}:${k.Status}`);
    const put = await new S3Client({ ...admin, credentials: creds })
      .send(new PutObjectCommand({ Bucket: pipeline.bucket, Key: `fault-matrix/${Date.now()}.json`, Body: '{}' }))
      .then(
        () => 'ok',
        (e: Error) => e.name,
      );
    const problems: string[] = [];
    if (keys.join() !== `${creds.accessKeyId}:Active`)
      problems.push(`IAM keys ${keys.join(', ')} (expected only ${creds.accessKeyId}:Active)`);
    if (put !== 'ok') problems.push(`S3 PutObject with the secret's key: ${put}`);
    return { id: creds.accessKeyId || null, problems };
  },
};

const cert: Procedure = {
  name: 'cert',
  secrets: [pipeline.postgresTlsSecret, pipeline.caSecret],
  start: (client, taskQueue, extra) =>
    startCertificateRotation(
      client,
      { service: 'postgresql', validityDays: 30, requestedBy: by, ...extra },
      { taskQueue },
    ),
  async inUse({ cfg, store }) {
    const secret = (await store.read(pipeline.postgresTlsSecret))?.data ?? {};
    const ca = (await store.read(pipeline.caSecret))?.data[CA_KEYS.cert] ?? '';
    const inSecret = secret[CERT_KEYS.cert] ? describeCertificate(secret[CERT_KEYS.cert]!).fingerprint : null;
    const served = await handshake({
      host: '127.0.0.1',
      port: cfg.ports.postgres,
      protocol: 'postgres',
      servername: '127.0.0.1',
      caPem: ca,
    }).catch((e: Error) => ({ fingerprint: `(${e.message})`, trusted: false }));
    const problems: string[] = [];
    if (served.fingerprint !== inSecret)
      problems.push(`PostgreSQL serves ${served.fingerprint.slice(0, 16)}, secret holds ${inSecret?.slice(0, 16)}`);
    if (!served.trusted) problems.push('served certificate not trusted by the CA');
    return { id: inSecret, problems };
  },
};

/** A SASL login with a principal's credential, as any client of the SASL_SSL listener makes it. */
async function scramLogin(cfg: StackConfig, username: string, password: string): Promise<string> {
  const admin = new Kafka({
    brokers: [kafkaSaslBootstrap(cfg)],
    ssl: { ca: [fs.readFileSync(kafkaCaFile(cfg), 'utf8')] },
    sasl: { mechanism: 'scram-sha-512', username, password },
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    return 'accepted';
  } catch (err) {
    return (err as Error).message;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

const scram: Procedure = {
  name: 'scram',
  secrets: [pipeline.connectSaslSecret],
  start: (client, taskQueue, extra) =>
    credentialStarters['kafka-scram'](
      client,
      { target: 'ecommerce', gracePeriod: 'PT3S', requestedBy: by, ...extra },
      { taskQueue },
    ),
  async inUse({ cfg, store }) {
    const data = (await store.read(pipeline.connectSaslSecret))?.data ?? {};
    const user = data.username ?? null;
    const users = (await describeScramUsers({ brokers: [kafkaBootstrap(cfg)] }, null))
      .map((u) => u.user)
      .filter((u) => u.startsWith('kafka-connect'));
    const problems: string[] = [];
    if (users.join() !== (user ?? '')) problems.push(`SCRAM users ${users.join(', ')} (expected only ${user})`);
    const login = await scramLogin(cfg, user ?? '', data.password ?? '');
    if (login !== 'accepted') problems.push(`a login with the secret's credential: ${login}`);
    return { id: user, problems };
  },
};

/** What Connect's REST API answers a client sending this user and password. */
async function restStatus(cfg: StackConfig, username: string, password: string): Promise<number | string> {
  const auth = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  const res = await fetch(`http://127.0.0.1:${cfg.ports.connect}/connectors`, {
    headers: { authorization: auth },
  }).catch((e: Error) => e.message);
  if (typeof res === 'string') return res;
  await res.body?.cancel();
  return res.status;
}

const connectRest: Procedure = {
  name: 'connect-rest',
  secrets: [pipeline.connectRestSecret],
  start: (client, taskQueue, extra) =>
    credentialStarters['connect-rest'](
      client,
      { target: 'ecommerce', gracePeriod: 'PT3S', requestedBy: by, ...extra },
      { taskQueue },
    ),
  async inUse({ cfg, store }) {
    const data = (await store.read(pipeline.connectRestSecret))?.data ?? {};
    const user = data.username ?? null;
    const listed = acceptedUsers(data['users.properties'] ?? '');
    const problems: string[] = [];
    if (listed.join() !== (user ?? ''))
      problems.push(`users.properties lists ${listed.join(', ')} (expected only ${user})`);
    const status = await restStatus(cfg, user ?? '', data.password ?? '');
    if (status !== 200) problems.push(`Connect answers the secret's credential with ${status}`);
    return { id: user, problems };
  },
};

export const procedures: Record<ProcedureName, Procedure> = {
  cdc,
  registry,
  aws,
  cert,
  scram,
  'connect-rest': connectRest,
  'postgresql-admin': postgresAdmin,
  'postgresql-app': postgresApp,
};

/** Secret versions a finished rotation must not leave behind. */
export async function leftovers(store: SecretStore, secrets: string[]): Promise<string[]> {
  const names = secrets.flatMap((s) => [siblings(s).pending, siblings(s).backup]);
  const found = await Promise.all(names.map(async (n) => ((await store.read(n)) ? n : undefined)));
  return found.filter((n): n is string => Boolean(n));
}

/** Every secret value (of secret keys) the procedure's secrets hold now, current and staged versions. */
export async function secretValues(store: SecretStore, secrets: string[]): Promise<string[]> {
  const names = secrets.flatMap((s) => [s, siblings(s).pending, siblings(s).backup]);
  const out: string[] = [];
  for (const n of names) {
    const data = (await store.read(n).catch(() => undefined))?.data ?? {};
    for (const [k, v] of Object.entries(data)) if (secretKey.test(k) && v.length >= 12) out.push(v);
  }
  return out;
}
