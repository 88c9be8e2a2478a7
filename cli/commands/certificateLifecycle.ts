import { type Command, InvalidArgumentError } from 'commander';
import { type CaRotationInput, MAX_CA_VALIDITY_DAYS, parseCaRotationInput } from '../../contracts/input/caRotation.js';
import {
  DEFAULT_CERT_SECRETS,
  MAX_VALIDITY_DAYS,
  TLS_SERVICES,
  type TlsService,
} from '../../contracts/input/certificate.js';
import type { RenewalScanResult } from '../../workflows/certificates/renew.js';
import { RENEW_BEFORE_RATIO, type RenewalScanInput, parseRenewalScanInput } from '../../contracts/input/renewalScan.js';
import type { initCertificateAuthority } from '../../workflows/certificates/initCa.js';
import { keyAlgorithms, type KeyAlgorithm } from '../../contracts/keyAlgorithms.js';
import { MAX_GRACE_MS, parseIsoDuration } from '../../contracts/duration.js';
import { rotationWorkflowId } from '../../contracts/ids.js';
import { service } from './certificates.js';
import { finish, runRotation } from './rotate.js';
import { configFromEnv, operator, withClient } from '../context.js';

const wholeDays = (max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new InvalidArgumentError(`must be a whole number of days from 1 to ${max}`);
  return n;
};
function ratio(v: string): number {
  const n = v.includes('/') ? Number(v.split('/')[0]) / Number(v.split('/')[1]) : Number(v);
  if (!Number.isFinite(n) || n < RENEW_BEFORE_RATIO.min || n > RENEW_BEFORE_RATIO.max)
    throw new InvalidArgumentError(
      `must be a share of the lifetime from ${RENEW_BEFORE_RATIO.min} to ${RENEW_BEFORE_RATIO.max} (e.g. 1/3 or 0.25)`,
    );
  return n;
}
function days(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > MAX_VALIDITY_DAYS)
    throw new InvalidArgumentError(`must be a number of days from 0 to ${MAX_VALIDITY_DAYS}`);
  return n;
}
function grace(v: string): string {
  const ms = parseIsoDuration(v);
  if (ms === undefined || ms > MAX_GRACE_MS)
    throw new InvalidArgumentError('must be an ISO-8601 duration of at most P30D, such as PT24H or PT15M');
  return v;
}

interface IssueOptions {
  service: TlsService;
  san?: string[];
  force?: boolean;
  validityDays?: number;
  reason: string;
  requestedBy: string;
  json?: boolean;
}

/** A certificate where the service's secret has none; with --force a re-issue of an existing one (the rotation workflow). */
async function issue(o: IssueOptions): Promise<void> {
  const secret = DEFAULT_CERT_SECRETS[o.service];
  const { secretStoreFor } = await import('../../workers/worker.js');
  const { CERT_KEYS, describeCertificate } = await import('../../activities/tls/index.js');
  const current = await (await secretStoreFor(configFromEnv())).read(secret);
  const pem = current?.data[CERT_KEYS.cert];
  if (pem && !o.force) {
    const c = describeCertificate(pem);
    throw new InvalidArgumentError(
      `--service ${o.service}: secret ${secret} already holds a certificate (${c.fingerprint}, expires ${c.notAfter}); use --force to re-issue it, or rekey cert renew`,
    );
  }
  await withClient(async (client, taskQueue) => {
    const { startCertificateRotation } = await import('../../workers/startRotation.js');
    const handle = pem
      ? await startCertificateRotation(
          client,
          { service: o.service, validityDays: o.validityDays, reason: o.reason, requestedBy: o.requestedBy },
          { taskQueue },
        )
      : await client.workflow.start('issueFirstCertificate', {
          taskQueue,
          workflowId: rotationWorkflowId('certificate', secret),
          args: [{ service: o.service, secret, sans: o.san, validityDays: o.validityDays, requestedBy: o.requestedBy }],
          staticSummary: `first certificate for ${o.service} (${secret})`,
        });
    if (!o.json) console.log(`started ${handle.workflowId}`);
    await finish(handle, o);
  });
}

function printScan(r: RenewalScanResult): void {
  console.log(`${r.dryRun ? 'dry run: ' : ''}${r.policy} (scanned ${r.scannedAt})`);
  if (r.caRotationInProgress)
    console.log(`  a CA rotation is under way (${r.caRotationInProgress}): renewals wait for it`);
  for (const c of r.certificates) {
    const left = c.daysLeft === null ? '?' : `${Math.floor(c.daysLeft)} days left`;
    console.log(
      `${c.secret.padEnd(18)} ${c.service.padEnd(16)} ${left.padEnd(15)} ${c.action.padEnd(15)} ${c.why}${c.detail ? `\n  ${c.workflowId ? `${c.workflowId}: ` : ''}${c.detail}` : ''}`,
    );
  }
}

async function renew(o: {
  renewBefore?: number;
  renewBeforeDays?: number;
  validityDays?: number;
  dryRun?: boolean;
  requestedBy: string;
  json?: boolean;
}): Promise<void> {
  const input: RenewalScanInput = {
    renewBeforeRatio: o.renewBefore,
    renewBeforeDays: o.renewBeforeDays,
    validityDays: o.validityDays,
    dryRun: Boolean(o.dryRun),
    requestedBy: o.requestedBy,
    reason: 'renewal scan by rekey cert renew',
  };
  parseRenewalScanInput(input);
  await withClient(async (client, taskQueue) => {
    const workflowId = `renew-certificates/manual/${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')}`;
    const result: RenewalScanResult = await client.workflow.execute('renewCertificates', {
      taskQueue,
      workflowId,
      args: [input],
      staticSummary: `certificate renewal scan${o.dryRun ? ' (dry run)' : ''} by ${o.requestedBy}`,
    });
    if (o.json) console.log(JSON.stringify({ workflowId, ...result }));
    else printScan(result);
    if (result.certificates.some((c) => c.action === 'failed' || c.action === 'unreadable')) process.exitCode = 1;
  });
}

async function rotateCa(o: {
  caSecret?: string;
  service?: TlsService[];
  grace?: string;
  caValidityDays?: number;
  validityDays?: number;
  commonName?: string;
  reason: string;
  requestedBy: string;
  dryRun?: boolean;
  wait?: boolean;
  json?: boolean;
}): Promise<void> {
  const input: CaRotationInput = {
    caSecret: o.caSecret,
    services: o.service,
    gracePeriod: o.grace,
    caValidityDays: o.caValidityDays,
    validityDays: o.validityDays,
    commonName: o.commonName,
    reason: o.reason,
    requestedBy: o.requestedBy,
    dryRun: Boolean(o.dryRun),
  };
  await runRotation(o, input, parseCaRotationInput, async (c, i, taskQueue) =>
    (await import('../../workers/startRotation.js')).startCaRotation(c, i, { taskQueue }),
  );
}

function keyAlgorithm(v: string): KeyAlgorithm {
  if (!(keyAlgorithms as readonly string[]).includes(v))
    throw new InvalidArgumentError(`must be one of: ${keyAlgorithms.join(', ')}`);
  return v as KeyAlgorithm;
}

/** A first CA where none exists: made on the worker (its key only ever in the secret store). */
async function initCa(o: {
  caSecret?: string;
  commonName?: string;
  validityDays?: number;
  keyAlgorithm?: KeyAlgorithm;
  requestedBy: string;
  json?: boolean;
}): Promise<void> {
  const { InitCaInput, initCaWorkflowId } = await import('../../workflows/certificates/initCa.js');
  const input = InitCaInput.parse({
    caSecret: o.caSecret,
    commonName: o.commonName,
    validityDays: o.validityDays,
    keyAlgorithm: o.keyAlgorithm,
    requestedBy: o.requestedBy,
  });
  await withClient(async (client, taskQueue) => {
    const workflowId = initCaWorkflowId(input.caSecret);
    const ca: Awaited<ReturnType<typeof initCertificateAuthority>> = await client.workflow.execute(
      'initCertificateAuthority',
      {
        taskQueue,
        workflowId,
        args: [input],
        staticSummary: `first CA into ${input.caSecret} (${input.keyAlgorithm})`,
      },
    );
    if (o.json) console.log(JSON.stringify({ workflowId, ...ca }));
    else
      console.log(
        `CA ${ca.subject} in secret ${ca.secret}: ${ca.fingerprint}, valid until ${ca.notAfter}\nnext: rekey cert issue --service <name>`,
      );
  });
}

/** `rekey cert issue|renew|rotate-ca`, beside `cert rotate|list` (cli/commands/certificates.ts). */
export function registerCertificateLifecycleCommands(program: Command): void {
  const cert =
    program.commands.find((c) => c.name() === 'cert') ??
    program.command('cert').description('TLS certificates of the pipeline’s services');
  cert
    .command('issue')
    .description(
      'a first certificate where the service’s secret has none (issued, installed, verified by handshake), or with --force a re-issue of the existing one (the rotation workflow)',
    )
    .requiredOption('--service <name>', TLS_SERVICES.join('|'), service)
    .option('--force', 're-issue although the secret already holds a certificate')
    .option(
      '--san <name>',
      'a first certificate’s subject alternative names (repeat or comma-separate; default: the host the worker connects to)',
      (v: string, prev: string[] = []) => [
        ...prev,
        ...v
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      ],
    )
    .option('--validity-days <n>', 'lifetime of the new certificate (default 90)', wholeDays(MAX_VALIDITY_DAYS))
    .option('--reason <text>', 'why', 'certificate issued by rekey cert issue')
    .option('--requested-by <who>', 'who', operator)
    .option('--json', 'print the result as JSON')
    .action(issue);
  cert
    .command('init-ca')
    .description(
      'a first CA where none exists (the worker makes the key and writes it only to the secret store); never replaces one (rotate-ca does)',
    )
    .option('--ca-secret <name>', 'the CA secret (default rekey-ca)')
    .option('--common-name <cn>', "the CA's CN (default rekey CA)")
    .option('--validity-days <n>', 'lifetime of the CA (default 3650)', wholeDays(MAX_CA_VALIDITY_DAYS))
    .option('--key-algorithm <kind>', `${keyAlgorithms.join('|')} (default ecdsa-p256)`, keyAlgorithm)
    .option('--requested-by <who>', 'who', operator)
    .option('--json', 'print the result as JSON')
    .action(initCa);
  cert
    .command('renew')
    .description(
      'scan every managed certificate now and renew those due (less than --renew-before of the lifetime left); prints what is due and what was started',
    )
    .option(
      '--renew-before <share>',
      `share of the lifetime left that makes a certificate due (default 1/3; ${RENEW_BEFORE_RATIO.min}–${RENEW_BEFORE_RATIO.max})`,
      ratio,
    )
    .option('--renew-before-days <n>', 'or: due when fewer than this many days are left', days)
    .option(
      '--validity-days <n>',
      'lifetime of renewed certificates (default: each one’s current lifetime)',
      wholeDays(MAX_VALIDITY_DAYS),
    )
    .option('--dry-run', 'print what is due; start nothing')
    .option('--requested-by <who>', 'who', operator)
    .option('--json', 'print JSON')
    .action(renew);
  cert
    .command('rotate-ca')
    .description(
      'replace the CA without an outage: new CA trusted beside the old, every certificate reissued and verified, the new CA promoted, the old one dropped after the grace period',
    )
    .option('--ca-secret <name>', 'the CA secret (default rekey-ca)')
    .option(
      '--service <name>',
      `only these services move to the new CA (repeat; ${TLS_SERVICES.join('|')}; default: every managed one)`,
      (v: string, prev: TlsService[] = []) => [...prev, service(v)],
    )
    .option(
      '--grace <duration>',
      'how long both CAs stay trusted after the switch (default PT24H, at most P30D)',
      grace,
    )
    .option('--ca-validity-days <n>', 'lifetime of the new CA (default 3650)', wholeDays(MAX_CA_VALIDITY_DAYS))
    .option(
      '--validity-days <n>',
      'lifetime of the reissued certificates (default: each one’s current lifetime)',
      wholeDays(MAX_VALIDITY_DAYS),
    )
    .option('--common-name <cn>', 'the new CA’s CN (default: the current CN with today’s date)')
    .option('--reason <text>', 'why', 'CA rotation')
    .option('--requested-by <who>', 'who', operator)
    .option('--dry-run', 'run pre-flight and print the plan: every step and its compensation')
    .option('--wait', 'follow the rotation until it ends, grace included (a dry run always does)')
    .option('--json', 'print the result as JSON')
    .action(rotateCa);
}
