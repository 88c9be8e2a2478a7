import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import type { SecretStore } from '../../activities/secrets/store.js';
import {
  CA_KEYS,
  CERT_KEYS,
  describeCertificate,
  issueCertificate,
  type TlsInstaller,
} from '../../activities/tls/index.js';
import { pipeline, type StackConfig } from './config.js';
import { StackError } from './proc.js';
import { ensureStackCertificates } from './tls.js';

/** The HTTPS listeners of the stack: Kafka Connect's REST API and the Schema Registry, each with its own certificate secret. */
export const httpsServices = {
  'kafka-connect': { secret: 'connect-tls', commonName: 'kafka-connect', dir: 'connect-tls' },
  'schema-registry': { secret: 'registry-tls', commonName: 'schema-registry', dir: 'registry-tls' },
} as const;
export type HttpsService = keyof typeof httpsServices;

const SERVICE_DAYS = 90;
/** The names clients use on the stack: the loopback address and localhost. */
export const HTTPS_SANS = ['DNS:localhost', 'IP:127.0.0.1'];

/** Where the service reads its certificate at start: PEM pair (Quarkus) and a PKCS#12 keystore (Connect's Jetty takes no PEM). */
export function httpsTlsFiles(cfg: StackConfig, service: HttpsService) {
  const dir = path.join(cfg.dataDir, httpsServices[service].dir);
  return {
    dir,
    cert: path.join(dir, 'tls.crt'),
    key: path.join(dir, 'tls.key'),
    keystore: path.join(dir, 'keystore.p12'),
    password: path.join(dir, 'keystore.password'),
  };
}

/**
 * The service's first certificate, issued by the stack CA into the file store (made once,
 * reissued when it expired while the stack was down). True when it was (re)issued.
 */
async function ensureServiceCertificate(cfg: StackConfig, service: HttpsService): Promise<boolean> {
  await ensureStackCertificates(cfg);
  const store = new FileSecretStore(cfg.secretsDir);
  const { secret, commonName } = httpsServices[service];
  const current = await store.read(secret);
  const pem = current?.data[CERT_KEYS.cert];
  if (pem && Date.parse(describeCertificate(pem).notAfter) > Date.now()) return false;
  const ca = (await store.read(pipeline.caSecret))!;
  const caPem = { certPem: ca.data[CA_KEYS.cert]!, keyPem: ca.data[CA_KEYS.key]! };
  const issued = await issueCertificate({ ca: caPem, commonName, sans: HTTPS_SANS, validityDays: SERVICE_DAYS });
  await store.write(
    secret,
    { [CERT_KEYS.cert]: issued.certPem, [CERT_KEYS.key]: issued.keyPem, [CERT_KEYS.ca]: caPem.certPem },
    { expectedVersion: current?.info.version ?? null },
  );
  return true;
}

/** The keystore's password: made once per stack, 0600 (a random value, not a secret anyone else holds). */
function keystorePassword(file: string): string {
  if (!fs.existsSync(file)) fs.writeFileSync(file, randomBytes(18).toString('base64url'), { mode: 0o600 });
  return fs.readFileSync(file, 'utf8').trim();
}

/** Writes the secret's certificate and key where the service reads them at start (what the kubelet does for a Secret volume). */
export async function writeHttpsTlsFiles(
  cfg: StackConfig,
  service: HttpsService,
  store: SecretStore,
  secret: string = httpsServices[service].secret,
): Promise<void> {
  const s = await store.read(secret);
  const cert = s?.bytes[CERT_KEYS.cert];
  const key = s?.bytes[CERT_KEYS.key];
  if (!cert || !key)
    throw new StackError(
      service,
      `secret ${secret} lacks ${CERT_KEYS.cert}/${CERT_KEYS.key} in the ${store.kind} store`,
    );
  const files = httpsTlsFiles(cfg, service);
  fs.mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  const write = (file: string, data: Buffer) => {
    fs.writeFileSync(`${file}.tmp`, data, { mode: 0o600 });
    fs.renameSync(`${file}.tmp`, file);
  };
  write(files.key, key);
  write(files.cert, cert);
  if (service !== 'kafka-connect') return;
  // Kafka Connect's REST server hands ssl.keystore.* to Jetty, which takes a Java keystore only
  keystorePassword(files.password);
  execFileSync(
    'openssl',
    [
      'pkcs12',
      '-export',
      '-in',
      files.cert,
      '-inkey',
      files.key,
      '-name',
      'kafka-connect',
      '-out',
      `${files.keystore}.tmp`,
      '-passout',
      `file:${files.password}`,
    ],
    { stdio: 'pipe' },
  );
  fs.chmodSync(`${files.keystore}.tmp`, 0o600);
  fs.renameSync(`${files.keystore}.tmp`, files.keystore);
}

/** At service start: the certificate exists and its files are in place (rewritten only when newly issued or missing). */
export async function prepareHttpsTls(cfg: StackConfig, service: HttpsService) {
  const issued = await ensureServiceCertificate(cfg, service);
  const files = httpsTlsFiles(cfg, service);
  const missing = !fs.existsSync(files.cert) || (service === 'kafka-connect' && !fs.existsSync(files.keystore));
  if (issued || missing) await writeHttpsTlsFiles(cfg, service, new FileSecretStore(cfg.secretsDir));
  return { ...files, keystorePassword: service === 'kafka-connect' ? keystorePassword(files.password) : '' };
}

/**
 * Stand-in for the Secret volume of the Connect or registry pod: installing writes the
 * secret's files where the service reads them at start; the activity then restarts it.
 */
export function localHttpsTls(cfg: StackConfig, service: HttpsService, store: SecretStore): TlsInstaller {
  return {
    async install({ secret }, onProgress) {
      onProgress(`writing ${secret} to ${httpsTlsFiles(cfg, service).dir}`);
      await writeHttpsTlsFiles(cfg, service, store, secret);
    },
  };
}
