import { type Command, InvalidArgumentError } from 'commander';
import { WorkflowFailedError } from '@temporalio/client';
import { CA_KEYS, CERT_KEYS, describeCertificate, handshake } from '../../activities/tls/index.js';
import { httpsEndpoint } from '../../activities/http.js';
import { startCertificateRotation } from '../../workers/startRotation.js';
import { secretStoreFor } from '../../workers/worker.js';
import { DEFAULT_CA_SECRET, DEFAULT_CERT_SECRETS, MAX_VALIDITY_DAYS, TLS_SERVICES, type CertificateRotationInput, type TlsService } from '../../workflows/certificates/input.js';
import { renewalDecisions } from '../../workflows/certificates/managed.js';
import { RENEW_BEFORE_RATIO } from '../../workflows/certificates/renewalInput.js';
import type { RotationResult } from '../../workflows/rotation/index.js';
import { printPlan, printResult } from '../lib/print.js';
import { configFromEnv, operator, withClient } from './context.js';

const DAY_MS = 86_400_000;

/** Waits for a rotation and prints it (human or JSON); a failure names the workflow and its cause. */
export async function finish(handle: { workflowId: string; result(): Promise<unknown> }, o: { json?: boolean }): Promise<void> {
  const result = (await handle.result().catch((err: unknown) => {
    throw err instanceof WorkflowFailedError ? new Error(`${handle.workflowId} failed: ${err.cause?.message ?? err.message}`) : err;
  })) as RotationResult;
  if (o.json) console.log(JSON.stringify(result));
  else if (result.plan) printPlan(result);
  else printResult(result);
  if (result.status !== 'completed' && result.status !== 'dry-run') process.exitCode = 1;
}

/** `--service` of every `cert` command. */
export function service(v: string): TlsService {
  if (!(TLS_SERVICES as readonly string[]).includes(v)) throw new InvalidArgumentError(`unknown service ${JSON.stringify(v)}: use ${TLS_SERVICES.join('|')}`);
  return v as TlsService;
}

function days(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_VALIDITY_DAYS) throw new InvalidArgumentError(`must be a whole number of days from 1 to ${MAX_VALIDITY_DAYS}`);
  return n;
}

const collect = (v: string, previous: string[] = []) => [...previous, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

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
function servedAt(config: ReturnType<typeof configFromEnv>, role: ManagedCertificate['role']): { host: string; port: number; protocol: 'postgres' | 'tls' } | undefined {
  if (role === 'postgresql') return { host: config.postgres.host, port: config.postgres.port, protocol: 'postgres' };
  if (role === 'kafka') {
    const broker = config.kafka.tls?.brokers[0];
    if (!broker) return undefined;
    const at = broker.lastIndexOf(':');
    return { host: broker.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(broker.slice(at + 1)), protocol: 'tls' };
  }
  const url = role === 'kafka-connect' ? config.kafkaConnect.url : role === 'schema-registry' ? config.schemaRegistry.url : undefined;
  const endpoint = url ? httpsEndpoint(url) : undefined;
  return endpoint ? { ...endpoint, protocol: 'tls' } : undefined;
}

/** The CA and each service's certificate, read from the worker's secret store; services are asked by handshake what they serve. */
export async function listManagedCertificates(now = new Date()): Promise<ManagedCertificate[]> {
  const config = configFromEnv();
  const store = await secretStoreFor(config);
  const entries: Array<[ManagedCertificate['role'], string, string]> = [['ca', DEFAULT_CA_SECRET, CA_KEYS.cert], ...TLS_SERVICES.map((s): [TlsService, string, string] => [s, DEFAULT_CERT_SECRETS[s], CERT_KEYS.cert])];
  return Promise.all(
    entries.map(async ([role, secret, key]): Promise<ManagedCertificate> => {
      const s = await store.read(secret).catch((err: Error) => err);
      if (s instanceof Error || !s?.data[key]) return { secret, role, problem: s instanceof Error ? s.message : `no ${key} in the ${store.kind} store` };
      const info = describeCertificate(s.data[key]);
      const row: ManagedCertificate = { secret, role, subject: info.subject, fingerprint: info.fingerprint, notAfter: info.notAfter, daysLeft: Math.floor((Date.parse(info.notAfter) - now.getTime()) / DAY_MS) };
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
  renewalDecisions([{ service: TLS_SERVICES[0], secret: '-', subject: '', issuer: '', fingerprint: '', caFingerprints: [], ...c }], { renewBeforeRatio: RENEW_BEFORE_RATIO.default }, now.getTime())[0]!.due;

function printList(rows: ManagedCertificate[]): void {
  for (const r of rows) {
    if (r.problem) {
      console.log(`${r.secret.padEnd(16)} ${r.role.padEnd(11)} ${r.problem}`);
      continue;
    }
    const served = !r.served ? '' : 'error' in r.served ? `   served: ${r.served.error}` : `   served: ${r.served.same ? 'this certificate' : `ANOTHER certificate ${r.served.fingerprint}`}`;
    const due = r.renewalDue === undefined ? '' : r.renewalDue ? ', renewal DUE' : ', renewal not due';
    console.log(`${r.secret.padEnd(16)} ${r.role.padEnd(11)} ${r.subject}\n  sha256 ${r.fingerprint}\n  expires ${r.notAfter} (${r.daysLeft} days left${due})${served}`);
  }
}

interface RotateOptions { service: TlsService; secret?: string; caSecret?: string; san?: string[]; allowSanChange?: boolean; hostname?: string; validityDays?: number; reason: string; requestedBy: string; dryRun?: boolean; wait: boolean; json?: boolean }

async function rotate(o: RotateOptions): Promise<void> {
  const input: CertificateRotationInput = {
    service: o.service,
    secret: o.secret,
    caSecret: o.caSecret,
    sans: o.san,
    allowSanChange: o.allowSanChange,
    hostname: o.hostname,
    validityDays: o.validityDays,
    reason: o.reason,
    requestedBy: o.requestedBy,
    dryRun: Boolean(o.dryRun),
  };
  await withClient(async (client, taskQueue) => {
    const handle = await startCertificateRotation(client, input, { taskQueue });
    if (!o.json) console.log(`started ${handle.workflowId}`);
    if (!o.wait && !o.dryRun) return;
    await finish(handle, o);
  });
}

/** `rekey cert rotate|list`: service certificates issued by the CA in the secret store. */
export function registerCertificateCommands(program: Command): void {
  const cert = program.command('cert').description('TLS certificates of the pipeline’s services (issued and rotated by workflows)');
  cert
    .command('rotate')
    .description('renew a service’s server certificate from the CA, install it, reload the service and verify what it serves (one per secret at a time)')
    .requiredOption('--service <name>', TLS_SERVICES.join('|'), service)
    .option('--secret <name>', 'the certificate’s secret (default: the service’s, postgres-tls or kafka-tls)')
    .option('--ca-secret <name>', `the signing CA’s secret (default ${DEFAULT_CA_SECRET})`)
    .option('--san <name>', 'subject alternative name (repeat or comma-separate; default: the current certificate’s)', collect)
    .option('--allow-san-change', 'accept SANs that differ from the current certificate’s')
    .option('--hostname <name>', 'the name clients connect with, checked in the served certificate (default: the host the worker connects to)')
    .option('--validity-days <n>', 'lifetime of the new certificate (default 90)', days)
    .option('--reason <text>', 'why', 'certificate renewal')
    .option('--requested-by <who>', 'who', operator)
    .option('--dry-run', 'run pre-flight and print the plan: every step and its compensation')
    .option('--no-wait', 'start it and return (follow with rekey progress <id>)')
    .option('--json', 'print the result as JSON')
    .action(rotate);
  cert
    .command('list')
    .description('each managed certificate: fingerprint, expiry, days left, and whether the service serves it')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const rows = await listManagedCertificates();
      if (o.json) console.log(JSON.stringify(rows));
      else printList(rows);
      if (rows.some((r) => r.problem || (r.served && ('error' in r.served || !r.served.same)))) process.exitCode = 1;
    });
}
