import { ApplicationFailure, patched, workflowInfo } from '@temporalio/workflow';
import {
  describeError,
  parseIsoDuration,
  Rotation,
  type RotationResult,
  procedureActivities,
  gatePreflight,
  resolvePlanOnWorker,
} from '../rotation/index.js';
import {
  type CertificateRotationInput,
  type CertificateRotationPlan,
  DEFAULT_CONNECTOR,
} from '../../contracts/input/certificate.js';
import { evaluateCertificatePreflight, servedProblem } from './preflight.js';
import { normalizeSan } from '../../contracts/sans.js';
import { type CertificateFacts, certificateSteps, type CertificateSteps, orderedCertificateSteps } from './steps.js';

const { read, change, wait, undo, worker } = procedureActivities();

interface Run {
  r: Rotation;
  plan: CertificateRotationPlan;
  steps: CertificateSteps;
  facts: CertificateFacts;
  rotationId: string;
}

/**
 * Renews a service's server certificate from the CA in the secret store: issued on the worker
 * into `<secret>-pending`, promoted over a backup, installed and reloaded without a restart,
 * then proven by a client's handshake (the new fingerprint, trusted by the CA, the right host
 * name). Any failure before cleanup reinstalls the previous certificate. One rotation per
 * secret at a time (`rotate-certificate/<secret>`).
 */
export async function rotateServiceCertificate(input: CertificateRotationInput): Promise<RotationResult> {
  const plan = await resolvePlanOnWorker(() => worker.resolveCertificatePlan(input));
  const { workflowId, runId } = workflowInfo();
  const r = Rotation.forPlan(plan, {
    procedure: 'certificate',
    component: `tls_${plan.service}`,
    // a restart of Connect or the registry restarts the pipeline connector's tasks too
    ...(plan.service === 'kafka-connect' || plan.service === 'schema-registry'
      ? { lease: `connector/${plan.connector ?? DEFAULT_CONNECTOR}` }
      : {}),
    details: {
      service: plan.service,
      secret: plan.secret,
      caSecret: plan.caSecret,
      validityDays: String(plan.validityDays),
    },
    orderedAudit: true,
  });

  return r.run(async () => {
    // 1. Pre-flight: read only; every check must pass, nothing is changed otherwise.
    r.setPhase('preflight');
    const facts = await r.step(
      'preflight',
      () => preflight(plan, r),
      (f) => `${plan.secret} serves ${f.from}; SANs ${f.sans.join(', ')}`,
    );
    r.from = facts.from;
    const steps = certificateSteps(plan, facts);
    if (plan.dryRun) return r.dryRun(orderedCertificateSteps(steps));
    const run: Run = { r, plan, steps, facts, rotationId: `${workflowId}/${runId}` };

    const issued = await issue(run); // 2. the new key and certificate, staged: the key only in the store
    await switchOver(run, issued); // 3. backup, promote, install + reload until it is served
    // 4. a client's handshake: the new certificate, trusted, for the right name
    r.setPhase('verifying');
    await r.wait(
      steps.verify.name,
      () => verifyServed(run, issued),
      (s) => `served ${s.fingerprint} (${s.tlsVersion}), trusted by ${plan.caSecret}, matches ${facts.hostname}`,
    );
    r.checkpoint(steps.verify.name);
    // 5. the old key is deleted with the staging versions (a certificate needs no grace: the old one is not revoked)
    await r.cleanup(async () => {
      await r.persist(steps.cleanup.name, () =>
        undo.removeCredentialVersions({ secret: plan.secret, versions: ['pending', 'backup'] }),
      );
    });
    return 'completed';
  });
}

async function issue(run: Run): Promise<{ fingerprint: string; notAfter: string }> {
  const { r, plan, steps, facts, rotationId } = run;
  r.setPhase('staging');
  const issued = await r.change(steps.issue, {
    run: () =>
      change.stagePendingCertificate({
        secret: plan.secret,
        caSecret: plan.caSecret,
        commonName: facts.commonName,
        sans: facts.sans,
        validityDays: plan.validityDays,
        keyAlgorithm: plan.keyAlgorithm,
        rotationId,
      }),
    undo: () => undo.removeCredentialVersions({ secret: plan.secret, versions: ['pending'] }),
    show: (c) => `${c.fingerprint} in ${c.secret}, valid until ${c.notAfter}`,
  });
  r.to = issued.fingerprint;
  return issued;
}

async function switchOver(run: Run, issued: { fingerprint: string }): Promise<void> {
  const { r, plan, steps, rotationId } = run;
  const ref = { secret: plan.secret, rotationId };
  r.setPhase('switching');
  await r.change(steps.backup, {
    run: () => change.backupCurrentCertificate(ref),
    undo: () => undo.removeCredentialVersions({ secret: plan.secret, versions: ['backup'] }),
    show: (c) => `${c.fingerprint} in ${c.secret}`,
  });
  await r.change(steps.promote, {
    run: () => change.promotePendingCertificate(ref),
    undo: () => undo.restoreBackupCertificate(ref),
    show: (c) => `${plan.secret} holds ${c.fingerprint}`,
  });
  await r.change(steps.install, {
    run: () =>
      wait.installServiceCertificate({
        service: plan.service,
        secret: plan.secret,
        expectFingerprint: issued.fingerprint,
      }),
    undo: () => reinstallPrevious(run),
    show: (x) =>
      `served after ${x.reloads} ${steps.heal ? 'restart' : 'reload'}(s), ${Math.round(x.waitedMs / 1000)} s`,
  });
  // Connect and the registry were restarted: the pipeline's tasks must run again before the rotation goes on
  // (only these services' runs take the step; PostgreSQL's histories never meet this marker)
  if (steps.heal && patched('certificate-restart-heal'))
    await r.step(
      steps.heal.name,
      () => healConnector(plan),
      (h) => (h.restarted.length ? `restarted failed task(s) ${h.restarted.join(', ')}` : 'every task RUNNING'),
    );
}

/** After a restart of Connect or the registry: failed tasks restarted, then the connector and its tasks RUNNING. */
export async function healConnector(
  plan: Pick<CertificateRotationPlan, 'service' | 'connector' | 'clientWatch'>,
): Promise<{ restarted: number[] }> {
  const connector = plan.connector ?? DEFAULT_CONNECTOR;
  // a restarted Connect first has to assign the connector again (polled; a FAILED task ends the wait)
  if (plan.service === 'kafka-connect') await wait.waitConnectorRunning({ connector }).catch(() => undefined);
  const healed = await wait.restartFailedTasks({
    connector,
    settleMs: parseIsoDuration(plan.clientWatch ?? (plan.service === 'schema-registry' ? 'PT15S' : 'PT3S')),
  });
  await wait.waitConnectorRunning({ connector });
  return { restarted: healed.restarted };
}

/** install's compensation: the previous certificate back in the secret, installed, and served again. */
async function reinstallPrevious(run: Run): Promise<void> {
  const { plan, rotationId } = run;
  const previous = await undo.restoreBackupCertificate({ secret: plan.secret, rotationId });
  await undo.installServiceCertificate({
    service: plan.service,
    secret: plan.secret,
    expectFingerprint: previous.fingerprint,
  });
  if (run.steps.heal && patched('certificate-restart-heal')) await healConnector(plan);
}

async function verifyServed(run: Run, issued: { fingerprint: string }) {
  const { plan, facts } = run;
  const served = await read.verifyServedCertificate({
    ...facts.endpoint,
    servername: facts.hostname,
    expectFingerprint: issued.fingerprint,
    caSecret: plan.caSecret,
  });
  const problem = servedProblem(served, issued.fingerprint);
  if (problem)
    throw ApplicationFailure.nonRetryable(
      `a client would not get the new certificate from ${facts.endpoint.host}:${facts.endpoint.port}: ${problem}`,
      'ServedCertificateRejected',
    );
  return served;
}

async function preflight(plan: CertificateRotationPlan, r: Rotation): Promise<CertificateFacts> {
  const endpoint = await read.serviceEndpoint({ service: plan.service });
  const hostname = plan.hostname ?? endpoint.host;
  const [ca, current, served] = await Promise.all([
    read.describeCertificateAuthority({ caSecret: plan.caSecret }),
    read.describeServiceCertificate({ secret: plan.secret }),
    read
      .verifyServedCertificate({ ...endpoint, servername: hostname, caSecret: plan.caSecret })
      .catch((err: unknown) => ({ error: describeError(err) })),
  ]);
  // one spelling (DNS:/IP:) in history, the CSR and the checks
  const sans = (plan.sans ?? current.sans).map(normalizeSan);
  const checks = evaluateCertificatePreflight(
    { ca, current, served },
    {
      secret: plan.secret,
      caSecret: plan.caSecret,
      sans,
      allowSanChange: plan.allowSanChange,
      hostname,
      validityDays: plan.validityDays,
      now: Date.now(),
    },
  );
  gatePreflight(r.audit, checks); // no force: a certificate the CA or clients refuse is never installed
  const commonName = plan.commonName ?? /(?:^|, )CN=([^,]+)/.exec(current.subject)?.[1] ?? hostname;
  return { from: current.fingerprint, commonName, sans, hostname, endpoint };
}
