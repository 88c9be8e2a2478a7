import fs from 'node:fs';
import { z } from 'zod';
import type { PostgresTls } from '../activities/postgres/connection.js';

/**
 * rekey's own client TLS settings: Temporal (mTLS or an API key), PostgreSQL (sslmode, root
 * CA), Kafka Connect and the registry (a CA bundle for https:// URLs). Files are named here and
 * read when the worker or CLI connects; their contents (keys, the API key) never enter a
 * message or a log line.
 */

/** A PEM file that exists and is readable; the message names the path, never the contents. */
export const pemFile = (what: string) =>
  z
    .string()
    .min(1)
    .superRefine((file, ctx) => {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (err) {
        ctx.addIssue({
          code: 'custom',
          message: `cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        });
        return;
      }
      if (!/-----BEGIN [A-Z0-9 ]+-----/.test(text))
        ctx.addIssue({ code: 'custom', message: `${file} is not PEM (expected a ${what})` });
    });

/** Temporal over TLS: a client certificate and key for mTLS (both or neither), the CA that signs the server's certificate, the name it carries. */
export const TemporalTlsSchema = z
  .object({
    clientCertPath: pemFile('client certificate').optional(),
    clientKeyPath: pemFile('client private key').optional(),
    serverRootCaPath: pemFile('CA certificate').optional(),
    serverNameOverride: z.string().min(1).max(253).optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (Boolean(t.clientCertPath) !== Boolean(t.clientKeyPath)) {
      ctx.addIssue({
        code: 'custom',
        path: [t.clientCertPath ? 'clientKeyPath' : 'clientCertPath'],
        message: 'mTLS needs both clientCertPath and clientKeyPath (REKEY_TEMPORAL_TLS_CERT, REKEY_TEMPORAL_TLS_KEY)',
      });
    }
  });

export const sslmodes = ['disable', 'require', 'verify-ca', 'verify-full'] as const;

export type TemporalSettings = { address: string; tls?: z.infer<typeof TemporalTlsSchema>; apiKey?: string };

const read = (file: string | undefined) => (file ? fs.readFileSync(file) : undefined);

/**
 * Connection options for @temporalio/client's Connection and @temporalio/worker's
 * NativeConnection: TLS when `tls` is set or an API key is given (Temporal Cloud takes API
 * keys over TLS only).
 */
export function temporalConnectionOptions(t: TemporalSettings) {
  const useTls = t.tls !== undefined || t.apiKey !== undefined;
  const cert = read(t.tls?.clientCertPath);
  const key = read(t.tls?.clientKeyPath);
  const tls = useTls
    ? {
        ...(t.tls?.serverNameOverride ? { serverNameOverride: t.tls.serverNameOverride } : {}),
        ...(t.tls?.serverRootCaPath ? { serverRootCACertificate: read(t.tls.serverRootCaPath) } : {}),
        ...(cert && key ? { clientCertPair: { crt: cert, key } } : {}),
      }
    : undefined;
  return { address: t.address, ...(tls ? { tls } : {}), ...(t.apiKey ? { apiKey: t.apiKey } : {}) };
}

/** node-postgres TLS for rekey's own PostgreSQL connections (undefined: plaintext). */
export function postgresTls(p: { sslmode: (typeof sslmodes)[number]; sslRootCert?: string }): PostgresTls | undefined {
  if (p.sslmode === 'disable') return undefined;
  return { sslmode: p.sslmode, ...(p.sslRootCert ? { rootCertPem: fs.readFileSync(p.sslRootCert, 'utf8') } : {}) };
}

export const readCaBundle = (file: string | undefined) => (file ? fs.readFileSync(file, 'utf8') : undefined);

/**
 * The CA bundle as it is now: read once at start (a missing file fails the start), then again
 * whenever its modification time or size changes (the kubelet swaps a mounted Secret's files).
 */
export function caBundleReader(file: string | undefined): (() => string) | undefined {
  if (!file) return undefined;
  let seen = { key: '', pem: '' };
  const read = () => {
    const st = fs.statSync(file);
    const key = `${st.mtimeMs}:${st.size}`;
    if (key !== seen.key) seen = { key, pem: fs.readFileSync(file, 'utf8') };
    return seen.pem;
  };
  read();
  return read;
}

/** The TLS part of the environment: REKEY_TEMPORAL_TLS*, REKEY_TEMPORAL_API_KEY(_FILE), REKEY_PG_SSLMODE/SSLROOTCERT, REKEY_CONNECT_CA_FILE, REKEY_REGISTRY_CA_FILE. */
export function tlsFromEnv(env: NodeJS.ProcessEnv) {
  const anyTls = [
    'REKEY_TEMPORAL_TLS_CERT',
    'REKEY_TEMPORAL_TLS_KEY',
    'REKEY_TEMPORAL_TLS_CA',
    'REKEY_TEMPORAL_TLS_SERVER_NAME',
  ].some((k) => env[k]);
  const tlsOn = anyTls || ['1', 'true', 'yes'].includes((env.REKEY_TEMPORAL_TLS ?? '').toLowerCase());
  return {
    temporal: {
      tls: tlsOn
        ? {
            clientCertPath: env.REKEY_TEMPORAL_TLS_CERT,
            clientKeyPath: env.REKEY_TEMPORAL_TLS_KEY,
            serverRootCaPath: env.REKEY_TEMPORAL_TLS_CA,
            serverNameOverride: env.REKEY_TEMPORAL_TLS_SERVER_NAME,
          }
        : undefined,
      apiKey: env.REKEY_TEMPORAL_API_KEY ?? readApiKeyFile(env.REKEY_TEMPORAL_API_KEY_FILE),
    },
    postgres: { sslmode: env.REKEY_PG_SSLMODE, sslRootCert: env.REKEY_PG_SSLROOTCERT },
    kafkaConnect: { caFile: env.REKEY_CONNECT_CA_FILE },
    schemaRegistry: { caFile: env.REKEY_REGISTRY_CA_FILE },
  };
}

/** An unreadable file yields an empty key, which the schema refuses naming temporal.apiKey (the path is not a secret, the key is). */
function readApiKeyFile(file: string | undefined): string | undefined {
  if (!file) return undefined;
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}
