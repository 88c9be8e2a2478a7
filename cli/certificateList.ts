import { CA_KEYS, CERT_KEYS, describeCertificate, handshake } from '../activities/tls/index.js';
import { httpsEndpoint } from '../activities/http.js';
import {
  DEFAULT_CA_SECRET,
  DEFAULT_CERT_SECRETS,
  TLS_SERVICES,
  type TlsService,
} from '../contracts/input/certificate.js';
import { renewalDecisions } from '../contracts/managedCertificates.js';
import { RENEW_BEFORE_RATIO } from '../contracts/input/renewalScan.js';
import { configFromEnv } from './context.js';

/** `rekey cert list`: loaded when the command runs (it needs the secret store's and TLS clients). */
const DAY_MS = 86_400_000;

/** One managed certificate as `cert list` shows it (never a key). */
export interface ManagedCertificate {
  secret: string;
  role: 'ca' | TlsService;
  subject?: string;
  fingerprint?: string;
  notAfter?: string;
  daysLeft?: number;
  /** A service certificate with less than the renewal share of its lifetime left (what `cert renew` would renew). */
  renewalDue?: boolean;
  /** What the service serves now (handshake), and whether it is this secret's certificate. */
  served?: { fingerprint: string; same: boolean } | { error: string };
  problem?: string;
}

/** Where a service's certificate is served to rekey: PostgreSQL's port, Kafka's first TLS broker, or an https:// URL rekey is configured with. */
function servedAt(
  config: ReturnType<typeof configFromEnv>,
  role: ManagedCertificate['role'],
): { host: string; port: number; protocol: 'postgres' | 'tls' } | undefined {
  if (role === 'postgresql') return { host: config.postgres.host, port: config.postgres.port, protocol: 'postgres' };
  if (role === 'kafka') {
    const broker = config.kafka.tls?.brokers[0];
    if (!broker) return undefined;
    const at = broker.lastIndexOf(':');
    return { host: broker.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(broker.slice(at + 1)), protocol: 'tls' };
  }
  const url =
    role === 'kafka-connect'
      ? config.kafkaConnect.url
      : role === 'schema-registry'
        ? config.schemaRegistry.url
        : undefined;
  const endpoint = url ? httpsEndpoint(url) : undefined;
  return endpoint ? { ...endpoint, protocol: 'tls' } : undefined;
}

/** The CA and each service's certificate, read from the worker's secret store; services are asked by handshake what they serve. */
export async function listManagedCertificates(now = new Date()): Promise<ManagedCertificate[]> {
  const config = configFromEnv();
  const { secretStoreFor } = await import('../workers/worker.js');
  const store = await secretStoreFor(config);
  const entries: Array<[ManagedCertificate['role'], string, string]> = [
    ['ca', DEFAULT_CA_SECRET, CA_KEYS.cert],
    ...TLS_SERVICES.map((s): [TlsService, string, string] => [s, DEFAULT_CERT_SECRETS[s], CERT_KEYS.cert]),
  ];
  return Promise.all(
    entries.map(async ([role, secret, key]): Promise<ManagedCertificate> => {
      const s = await store.read(secret).catch((err: Error) => err);
      if (s instanceof Error || !s?.data[key])
        return { secret, role, problem: s instanceof Error ? s.message : `no ${key} in the ${store.kind} store` };
      const info = describeCertificate(s.data[key]);
      const row: ManagedCertificate = {
        secret,
        role,
        subject: info.subject,
        fingerprint: info.fingerprint,
        notAfter: info.notAfter,
        daysLeft: Math.floor((Date.parse(info.notAfter) - now.getTime()) / DAY_MS),
      };
      if (role !== 'ca') row.renewalDue = renewalDue(info, now);
      const endpoint = servedAt(config, role);
      if (endpoint) {
        row.served = await handshake({ ...endpoint, servername: endpoint.host }).then(
          (h) => ({ fingerprint: h.fingerprint, same: h.fingerprint === info.fingerprint }),
          (err: Error) => ({ error: err.message }),
        );
      }
      return row;
    }),
  );
}

/** The daily scan's default rule (less than 1/3 of the lifetime left). */
const renewalDue = (c: { notBefore: string; notAfter: string }, now: Date) =>
  renewalDecisions(
    [{ service: TLS_SERVICES[0], secret: '-', subject: '', issuer: '', fingerprint: '', caFingerprints: [], ...c }],
    { renewBeforeRatio: RENEW_BEFORE_RATIO.default },
    now.getTime(),
  )[0]!.due;

export function printList(rows: ManagedCertificate[]): void {
  for (const r of rows) {
    if (r.problem) {
      console.log(`${r.secret.padEnd(16)} ${r.role.padEnd(11)} ${r.problem}`);
      continue;
    }
    const served = !r.served
      ? ''
      : 'error' in r.served
        ? `   served: ${r.served.error}`
        : `   served: ${r.served.same ? 'this certificate' : `ANOTHER certificate ${r.served.fingerprint}`}`;
    const due = r.renewalDue === undefined ? '' : r.renewalDue ? ', renewal DUE' : ', renewal not due';
    console.log(
      `${r.secret.padEnd(16)} ${r.role.padEnd(11)} ${r.subject}\n  sha256 ${r.fingerprint}\n  expires ${r.notAfter} (${r.daysLeft} days left${due})${served}`,
    );
  }
}
