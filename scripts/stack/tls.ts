import fs from 'node:fs';
import path from 'node:path';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import type { SecretStore } from '../../activities/secrets/store.js';
import {
  CA_KEYS,
  CERT_KEYS,
  createCertificateAuthority,
  describeCertificate,
  issueCertificate,
  pemKeystore,
  type TlsInstaller,
} from '../../activities/tls/index.js';
import { pipeline, type StackConfig } from './config.js';
import { chownToPostgres } from './postgresUser.js';
import { StackError } from './proc.js';

/** The stack's own CA lives long; the service certificate as long as a real one (rotations renew it). */
const CA_DAYS = 3650;
const SERVICE_DAYS = 90;
/** Names clients use on the stack: the loopback address the worker and Connect connect to, and localhost. */
export const POSTGRES_SANS = ['DNS:localhost', 'IP:127.0.0.1'];
export const KAFKA_SANS = ['DNS:localhost', 'IP:127.0.0.1'];

/** Where PostgreSQL reads its certificate and key (ssl_cert_file / ssl_key_file). */
export const postgresTlsFiles = (cfg: StackConfig) => {
  const dir = path.join(cfg.dataDir, 'postgres-tls');
  return { dir, cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') };
};

/** Where the broker's TLS listener reads its PEM keystore (key + certificate in one file, KIP-651). */
export const kafkaTlsFiles = (cfg: StackConfig) => {
  const dir = path.join(cfg.dataDir, 'kafka-tls');
  return { dir, keystore: path.join(dir, CERT_KEYS.keystore) };
};

/** The stack's service certificates: the secret, its CN and SANs, and whether it carries a PEM keystore (Kafka reads one file). */
const stackCertificates = [
  { secret: pipeline.postgresTlsSecret, commonName: 'postgres', sans: POSTGRES_SANS, keystore: false },
  { secret: pipeline.kafkaTlsSecret, commonName: 'kafka', sans: KAFKA_SANS, keystore: true },
];

/**
 * The stack's CA (`rekey-ca`) and the services' first certificates (`postgres-tls`,
 * `kafka-tls`) in the file store, made once; a certificate that expired while the stack was
 * down is reissued.
 */
export async function ensureStackCertificates(cfg: StackConfig): Promise<void> {
  const store = new FileSecretStore(cfg.secretsDir);
  let ca = await store.read(pipeline.caSecret);
  if (!ca) {
    const made = await createCertificateAuthority({ commonName: 'rekey embedded stack CA', validityDays: CA_DAYS });
    await store.write(
      pipeline.caSecret,
      { [CA_KEYS.cert]: made.certPem, [CA_KEYS.key]: made.keyPem },
      { expectedVersion: null },
    );
    ca = (await store.read(pipeline.caSecret))!;
  }
  const caPem = { certPem: ca.data[CA_KEYS.cert]!, keyPem: ca.data[CA_KEYS.key]! };
  for (const c of stackCertificates) {
    const current = await store.read(c.secret);
    const pem = current?.data[CERT_KEYS.cert];
    if (pem && Date.parse(describeCertificate(pem).notAfter) > Date.now()) continue;
    const issued = await issueCertificate({
      ca: caPem,
      commonName: c.commonName,
      sans: c.sans,
      validityDays: SERVICE_DAYS,
    });
    const keystore = c.keystore
      ? { [CERT_KEYS.keystore]: pemKeystore(issued.keyPem, issued.certPem) }
      : ({} as Record<string, string>);
    await store.write(
      c.secret,
      { [CERT_KEYS.cert]: issued.certPem, [CERT_KEYS.key]: issued.keyPem, [CERT_KEYS.ca]: caPem.certPem, ...keystore },
      { expectedVersion: current?.info.version ?? null },
    );
  }
}

function writeAtomically(file: string, data: Buffer, owner: (f: string) => void = () => undefined): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data, { mode: 0o600 });
  owner(tmp);
  fs.renameSync(tmp, file);
}

/** Writes the secret's certificate and key where PostgreSQL reads them (what the kubelet does for a Secret volume). */
export async function writePostgresTlsFiles(
  cfg: StackConfig,
  store: SecretStore,
  secret: string = pipeline.postgresTlsSecret,
): Promise<void> {
  const s = await store.read(secret);
  const cert = s?.bytes[CERT_KEYS.cert];
  const key = s?.bytes[CERT_KEYS.key];
  if (!cert || !key)
    throw new StackError(
      'postgres',
      `secret ${secret} lacks ${CERT_KEYS.cert}/${CERT_KEYS.key} in the ${store.kind} store`,
    );
  const files = postgresTlsFiles(cfg);
  fs.mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  chownToPostgres(files.dir);
  // the key first: until the certificate follows, a reload would fail on the pair and keep the old context
  // PostgreSQL refuses a key file that is group- or world-readable or not its own
  writeAtomically(files.key, key, chownToPostgres);
  writeAtomically(files.cert, cert, chownToPostgres);
}

/**
 * Stand-in for the Secret volume a PostgreSQL pod mounts: installing a certificate writes the
 * secret's files where `ssl_cert_file`/`ssl_key_file` point; the activity then reloads PostgreSQL.
 */
export function localPostgresTls(cfg: StackConfig, store: SecretStore): TlsInstaller {
  return {
    async install({ secret }, onProgress) {
      onProgress(`writing ${secret} to ${postgresTlsFiles(cfg).dir}`);
      await writePostgresTlsFiles(cfg, store, secret);
    },
  };
}

/** Writes the secret's PEM keystore where the broker's TLS listener reads it (what the kubelet does for a Secret volume). */
export async function writeKafkaTlsFiles(
  cfg: StackConfig,
  store: SecretStore,
  secret: string = pipeline.kafkaTlsSecret,
): Promise<void> {
  const keystore = (await store.read(secret))?.bytes[CERT_KEYS.keystore];
  if (!keystore)
    throw new StackError('kafka', `secret ${secret} lacks ${CERT_KEYS.keystore} in the ${store.kind} store`);
  const files = kafkaTlsFiles(cfg);
  fs.mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  // one rename: the broker never reads a key without its certificate
  writeAtomically(files.keystore, keystore);
}

/**
 * Stand-in for the Secret volume a Kafka broker pod mounts: installing a certificate writes
 * the secret's `keystore.pem` where `ssl.keystore.location` points; the activity then has the
 * broker reload it through the Admin API.
 */
export function localKafkaTls(cfg: StackConfig, store: SecretStore): TlsInstaller {
  return {
    async install({ secret }, onProgress) {
      onProgress(`writing ${secret} to ${kafkaTlsFiles(cfg).dir}`);
      await writeKafkaTlsFiles(cfg, store, secret);
    },
  };
}
