import { ApplicationFailure, executeChild, ParentClosePolicy, patched, workflowInfo } from '@temporalio/workflow';
import {
  describeError,
  parseIsoDuration,
  Rotation,
  rotationWorkflowId,
  type RotationResult,
  procedureActivities,
  resolvePlanOnWorker,
} from '../rotation/index.js';
import type { CaRotationInput, CaRotationPlan } from '../../contracts/input/caRotation.js';
import { type CaFacts, caSteps, type CaSteps, orderedCaSteps } from './authoritySteps.js';
import { managedCertificates, renewalDecisions } from '../../contracts/managedCertificates.js';
import { describeChildError } from './renew.js';
import { RESTARTED_TLS_SERVICES } from '../../contracts/input/certificate.js';
import { healConnector, rotateServiceCertificate } from './workflow.js';

const { read, change, wait, undo, worker } = procedureActivities();

interface Run {
  r: Rotation;
  plan: CaRotationPlan;
  steps: CaSteps;
  facts: CaFacts;
  rotationId: string;
  /** The new CA's fingerprint, once made. */
  to?: string;
}
type Cert = CaFacts['certificates'][number];

/**
 * Replaces the CA without an outage: the new CA is staged beside the old one, added to every
 * trust bundle (clients accept both), every service certificate is reissued from it and proven
 * served, the new CA is promoted, and only after a durable grace period does the old CA leave
 * the bundles. Until cleanup, any failure or a rollback signal undoes every phase: the old CA
 * trusted and served again. One CA rotation per CA secret (`rotate-ca/<caSecret>`).
 */
export async function rotateCertificateAuthority(input: CaRotationInput = {}): Promise<RotationResult> {
  const plan = await resolvePlanOnWorker(() => worker.resolveCaRotationPlan(input));
  const { workflowId, runId } = workflowInfo();
  const r = Rotation.begin({
    procedure: 'ca',
    component: 'tls_ca',
    target: 'pipeline',
    resource: plan.caSecret,
    reason: plan.reason,
    requestedBy: plan.requestedBy,
    dryRun: plan.dryRun,
    injectFailure: plan.injectFailure,
    details: { caSecret: plan.caSecret, gracePeriod: plan.gracePeriod, caValidityDays: String(plan.caValidityDays) },
    memo: { ...plan },
    orderedAudit: true,
  });

  return r.run(async () => {
    r.setPhase('preflight');
    const facts = await r.step(
      'preflight',
      () => preflight(plan, r),
      (f) =>
        `${plan.caSecret} is ${f.from}; ${f.certificates.length} certificate(s): ${f.certificates.map((c) => c.secret).join(', ')}`,
    );
    r.from = facts.from;
    const steps = caSteps(plan, facts);
    if (plan.dryRun) return r.dryRun(orderedCaSteps(steps));
    const run: Run = { r, plan, steps, facts, rotationId: `${workflowId}/${runId}` };

    await createAndTrust(run); // (a) + (b): clients trust both CAs before any certificate changes
    await reissueAll(run); // (c): every service certificate from the new CA, verified by its child
    await promote(run); // (d): the new CA signs; verified by handshake against it
    r.checkpoint('promote-ca');
    await r.holdGrace(parseIsoDuration(plan.gracePeriod)!); // (e) both trusted until the timer or cleanupNow
    await r.cleanup(() => removeOldCa(run));
    return 'completed';
  });
}

async function createAndTrust(run: Run): Promise<void> {
  const { r, plan, steps, facts, rotationId } = run;
  r.setPhase('staging');
  const made = await r.change(steps.createCa, {
    run: () =>
      change.stagePendingAuthority({
        caSecret: plan.caSecret,
        commonName: facts.newCommonName,
        validityDays: plan.caValidityDays,
        rotationId,
      }),
    undo: () => undo.removeCredentialVersions({ secret: plan.caSecret, versions: ['pending'] }),
    show: (c) => `${c.fingerprint} in ${c.secret}, valid until ${c.notAfter}`,
  });
  run.to = made.fingerprint;
  r.to = made.fingerprint;
  for (const c of facts.certificates) {
    await r.change(steps.trust[c.secret]!, {
      run: () =>
        trustAndInstall(c, () => change.trustAuthority({ secret: c.secret, caSecret: `${plan.caSecret}-pending` })),
      undo: () =>
        trustAndInstall(c, () => undo.distrustAuthority({ secret: c.secret, caFingerprint: made.fingerprint })),
      show: (b) => `${c.secret} trusts ${b.bundle.length} CA(s); ${c.service} reloaded`,
    });
  }
  r.checkpoint('trust-new-ca');
}

/**
 * A bundle change, then the same certificate installed again so the service (its trust store)
 * reloads. Connect and the registry reload by a restart, which fails a converter's task that
 * meets it: those tasks are restarted and the connector seen RUNNING, as a service-certificate
 * rotation does (found by an emergency CA rotation left with the CDC task FAILED; runs from
 * before the marker never healed).
 */
async function trustAndInstall(c: Cert, edit: () => Promise<{ bundle: string[]; certificate: string }>) {
  const b = await edit();
  await wait.installServiceCertificate({ service: c.service, secret: c.secret, expectFingerprint: b.certificate });
  if (RESTARTED_TLS_SERVICES.includes(c.service) && patched('ca-restart-heal'))
    await healConnector({ service: c.service });
  return b;
}

async function reissueAll(run: Run): Promise<void> {
  const { r, plan, steps, facts } = run;
  r.setPhase('switching');
  for (const c of facts.certificates) {
    await r.change(steps.reissue[c.secret]!, {
      run: () => reissue(run, c, `${plan.caSecret}-pending`),
      undo: () => reissueFromOldCa(run, c),
      show: (x) => `${x.from ?? '?'} → ${x.to ?? '?'} (${x.workflowId})`,
    });
  }
  r.checkpoint('reissue');
}

async function reissue(run: Run, c: Cert, caSecret: string): Promise<RotationResult> {
  const { plan } = run;
  const child = executeChild(rotateServiceCertificate, {
    workflowId: rotationWorkflowId('certificate', c.secret),
    args: [
      {
        service: c.service,
        secret: c.secret,
        caSecret,
        validityDays: c.validityDays,
        reason: `${plan.reason}: ${caSecret === plan.caSecret ? 'back to the old CA' : 'reissued from the new CA'}`,
        requestedBy: plan.requestedBy,
      },
    ],
    parentClosePolicy: ParentClosePolicy.ABANDON,
    staticSummary: `CA rotation of ${plan.caSecret}: ${c.secret} signed by ${caSecret}`,
  });
  return child.catch((err: unknown) => {
    throw ApplicationFailure.nonRetryable(
      `${rotationWorkflowId('certificate', c.secret)} failed: ${describeChildError(err)}`,
      'ReissueFailed',
    );
  });
}

/** reissue's compensation: a certificate from the old CA again, unless the secret already holds one (the child rolled itself back). */
async function reissueFromOldCa(run: Run, c: Cert): Promise<void> {
  const scan = await undo.scanManagedCertificates({
    certificates: [{ service: c.service, secret: c.secret }],
    caSecret: run.plan.caSecret,
  });
  const now = scan.certificates[0]!;
  if (!('error' in now) && now.signedByCa) return;
  await reissue(run, c, run.plan.caSecret);
}

async function promote(run: Run): Promise<void> {
  const { r, plan, steps, rotationId } = run;
  const ref = { caSecret: plan.caSecret, rotationId };
  await r.change(steps.backupCa, {
    run: () => change.backupAuthority(ref),
    undo: () => undo.removeCredentialVersions({ secret: plan.caSecret, versions: ['backup'] }),
    show: (c) => `${c.fingerprint} in ${c.secret}`,
  });
  await r.change(steps.promoteCa, {
    run: () => change.promotePendingAuthority(ref),
    undo: () => undo.restoreAuthorityBackup(ref),
    show: (c) => `${plan.caSecret} is ${c.fingerprint}`,
  });
  r.setPhase('verifying');
  await r.wait(
    steps.verifyNew.name,
    () => verifyServed(run, 'new'),
    (x) => x,
  );
}

/**
 * Handshakes with every service as a client holding one CA: `new` — trusted by the CA secret
 * (the new CA) and the right host; `old-gone` — additionally refused by a client holding only
 * the old CA (`<caSecret>-backup`), so no service still presents a certificate from it.
 */
async function verifyServed(run: Run, what: 'new' | 'old-gone'): Promise<string> {
  const { plan, facts } = run;
  const lines: string[] = [];
  for (const c of facts.certificates) {
    const endpoint = await read.serviceEndpoint({ service: c.service });
    const served = await read.verifyServedCertificate({
      ...endpoint,
      servername: endpoint.host,
      caSecret: plan.caSecret,
    });
    if (!served.trusted || !served.hostnameOk)
      throw ApplicationFailure.nonRetryable(
        `${c.service} at ${endpoint.host}:${endpoint.port} serves ${served.fingerprint}, which a client trusting the new CA refuses: ${served.problem ?? '?'}`,
        'ServedCertificateRejected',
      );
    if (what === 'old-gone') {
      const old = await read.verifyServedCertificate({
        ...endpoint,
        servername: endpoint.host,
        caSecret: `${plan.caSecret}-backup`,
      });
      if (old.trusted)
        throw ApplicationFailure.nonRetryable(
          `${c.service} at ${endpoint.host}:${endpoint.port} still serves ${old.fingerprint}, signed by the old CA`,
          'OldCaStillServed',
        );
    }
    lines.push(`${c.service} ${served.fingerprint} (${served.issuer})`);
  }
  return `trusted by the new CA${what === 'old-gone' ? ', refused by the old one' : ''}: ${lines.join('; ')}`;
}

/** After the grace period: the old CA leaves every bundle (each service reloaded), proven by handshakes, then its key is deleted. */
async function removeOldCa(run: Run): Promise<void> {
  const { r, plan, steps, facts } = run;
  for (const c of facts.certificates) {
    await r.persist(
      steps.distrust[c.secret]!.name,
      () => trustAndInstall(c, () => change.distrustAuthority({ secret: c.secret, caFingerprint: facts.from })),
      (b) => `${c.secret} trusts ${b.bundle.join(', ')}`,
    );
  }
  await r.persist(
    steps.verifyOldGone.name,
    () => verifyServed(run, 'old-gone'),
    (x) => x,
  );
  await r.persist(steps.cleanup.name, () =>
    undo.removeCredentialVersions({ secret: plan.caSecret, versions: ['pending', 'backup'] }),
  );
}

async function preflight(plan: CaRotationPlan, r: Rotation): Promise<CaFacts> {
  const ca = await read.describeCertificateAuthority({ caSecret: plan.caSecret });
  const inScope = managedCertificates().filter((c) => !plan.services || plan.services.includes(c.service));
  const scan = await read.scanManagedCertificates({ certificates: inScope, caSecret: plan.caSecret });
  const problems: string[] = [];
  if (!ca.isCa) problems.push(`${plan.caSecret} does not hold a CA certificate`);
  if (scan.caRotationInProgress)
    problems.push(`another CA rotation left staged versions: ${scan.caRotationInProgress}`);
  const decisions = renewalDecisions(scan.certificates, { renewBeforeRatio: 0 }, Date.now());
  const certificates: Cert[] = [];
  for (const [i, c] of scan.certificates.entries()) {
    if ('error' in c) {
      problems.push(c.error);
      continue;
    }
    // a service rekey cannot reach over TLS cannot be proven to take the new CA: named, with the way out
    const endpoint = await read.serviceEndpoint({ service: c.service }).catch((err: unknown) => {
      const others = (plan.services ?? managedCertificates().map((m) => m.service)).filter((x) => x !== c.service);
      problems.push(`${c.service}: ${describeError(err)} (or leave it out: services ${JSON.stringify(others)})`);
      return undefined;
    });
    if (!endpoint) continue;
    const served = await read
      .verifyServedCertificate({ ...endpoint, servername: endpoint.host, expectFingerprint: c.fingerprint })
      .catch((err: unknown) => ({ matches: false, fingerprint: describeError(err) }));
    if (!served.matches)
      problems.push(`${c.service} serves ${served.fingerprint}, not ${c.secret}'s certificate ${c.fingerprint}`);
    certificates.push({
      service: c.service,
      secret: c.secret,
      fingerprint: c.fingerprint,
      validityDays: plan.validityDays ?? decisions[i]!.validityDays!,
    });
  }
  if (problems.length > 0)
    throw ApplicationFailure.nonRetryable(
      `pre-flight failed, nothing was changed: ${problems.join('; ')}`,
      'PreflightFailed',
    );
  r.audit.record('preflight', 'preflight', 'success', { validation_status: 'passed' });
  const cn = /(?:^|, )CN=([^,]+)/.exec(ca.subject)?.[1] ?? 'rekey CA';
  const newCommonName =
    plan.commonName ?? `${cn.replace(/ \d{4}-\d{2}-\d{2}$/, '')} ${new Date().toISOString().slice(0, 10)}`;
  return {
    from: ca.fingerprint,
    fromSubject: ca.subject,
    newCommonName,
    certificates,
    graceMs: parseIsoDuration(plan.gracePeriod)!,
  };
}
