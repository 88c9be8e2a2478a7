import { type Command, InvalidArgumentError } from 'commander';
import {
  DEFAULT_CA_SECRET,
  MAX_VALIDITY_DAYS,
  TLS_SERVICES,
  type CertificateRotationInput,
  type TlsService,
} from '../../contracts/input/certificate.js';
import { parseCertificateInput } from '../../contracts/input/certificate.js';
import { operator } from '../context.js';
import { runRotation } from './rotate.js';

/** `--service` of every `cert` command. */
export function service(v: string): TlsService {
  if (!(TLS_SERVICES as readonly string[]).includes(v))
    throw new InvalidArgumentError(`unknown service ${JSON.stringify(v)}: use ${TLS_SERVICES.join('|')}`);
  return v as TlsService;
}

function days(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_VALIDITY_DAYS)
    throw new InvalidArgumentError(`must be a whole number of days from 1 to ${MAX_VALIDITY_DAYS}`);
  return n;
}

const collect = (v: string, previous: string[] = []) => [
  ...previous,
  ...v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

interface RotateOptions {
  service: TlsService;
  secret?: string;
  caSecret?: string;
  san?: string[];
  allowSanChange?: boolean;
  hostname?: string;
  validityDays?: number;
  reason: string;
  requestedBy: string;
  dryRun?: boolean;
  wait?: boolean;
  json?: boolean;
}

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
  await runRotation(o, input, parseCertificateInput, async (c, i, taskQueue) =>
    (await import('../../workers/startRotation.js')).startCertificateRotation(c, i, { taskQueue }),
  );
}

/** `rekey cert rotate|list`: service certificates issued by the CA in the secret store. */
export function registerCertificateCommands(program: Command): void {
  const cert = program
    .command('cert')
    .description('TLS certificates of the pipeline’s services (issued and rotated by workflows)');
  cert
    .command('rotate')
    .description(
      'renew a service’s server certificate from the CA, install it, reload the service and verify what it serves (one per secret at a time)',
    )
    .requiredOption('--service <name>', TLS_SERVICES.join('|'), service)
    .option('--secret <name>', 'the certificate’s secret (default: the service’s, postgres-tls or kafka-tls)')
    .option('--ca-secret <name>', `the signing CA’s secret (default ${DEFAULT_CA_SECRET})`)
    .option(
      '--san <name>',
      'subject alternative name (repeat or comma-separate; default: the current certificate’s)',
      collect,
    )
    .option('--allow-san-change', 'accept SANs that differ from the current certificate’s')
    .option(
      '--hostname <name>',
      'the name clients connect with, checked in the served certificate (default: the host the worker connects to)',
    )
    .option('--validity-days <n>', 'lifetime of the new certificate (default 90)', days)
    .option('--reason <text>', 'why', 'certificate renewal')
    .option('--requested-by <who>', 'who', operator)
    .option('--dry-run', 'run pre-flight and print the plan: every step and its compensation')
    .option('--wait', 'follow the rotation until it ends (a dry run always does)')
    .option('--json', 'print the result as JSON')
    .action(rotate);
  cert
    .command('list')
    .description('each managed certificate: fingerprint, expiry, days left, and whether the service serves it')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const { listManagedCertificates, printList } = await import('../certificateList.js');
      const rows = await listManagedCertificates();
      if (o.json) console.log(JSON.stringify(rows));
      else printList(rows);
      if (rows.some((r) => r.problem || (r.served && ('error' in r.served || !r.served.same)))) process.exitCode = 1;
    });
}
