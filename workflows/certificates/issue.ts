import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import type { PlannedStep } from '../rotation/definitions.js';
import { Rotation, type RotationResult, procedureActivities } from '../rotation/index.js';
import { DEFAULT_CA_SECRET, DEFAULT_CERT_SECRETS, type TlsService } from '../../contracts/input/certificate.js';
import { normalizeSan } from '../../contracts/sans.js';

const { read, change, wait, undo } = procedureActivities();

/** Input of a first issuance (validated at the edge by the CLI): names, SANs and a lifetime, never a key. */
export interface FirstCertificateInput {
  service: TlsService;
  secret?: string;
  caSecret?: string;
  /** Default: the host the worker reaches the service at. */
  sans?: string[];
  validityDays?: number;
  requestedBy?: string;
}

/**
 * A service's first certificate, where its secret holds none: issued from the CA on the worker,
 * written to the secret (refused if one appeared meanwhile), installed and proven served by a
 * handshake. Same id as a rotation (`rotate-certificate/<secret>`): never beside one.
 */
export async function issueFirstCertificate(input: FirstCertificateInput): Promise<RotationResult> {
  const secret = input.secret ?? DEFAULT_CERT_SECRETS[input.service];
  const caSecret = input.caSecret ?? DEFAULT_CA_SECRET;
  const validityDays = input.validityDays ?? 90;
  const { workflowId, runId } = workflowInfo();
  const rotationId = `${workflowId}/${runId}`;
  const r = Rotation.begin({
    procedure: 'certificate',
    component: `tls_${input.service}`,
    target: 'pipeline',
    resource: secret,
    reason: 'first certificate',
    requestedBy: input.requestedBy ?? 'unknown',
    dryRun: false,
    details: { service: input.service, secret, caSecret, validityDays: String(validityDays) },
    memo: { ...input },
    orderedAudit: true,
  });
  const step = (name: string, phase: PlannedStep['phase'], does: string, undoText?: string): PlannedStep => ({
    name,
    phase,
    does,
    ...(undoText ? { undo: undoText } : {}),
  });
  return r.run(async () => {
    r.setPhase('preflight');
    const facts = await r.step(
      'preflight',
      async () => {
        const [ca, scan, endpoint] = await Promise.all([
          read.describeCertificateAuthority({ caSecret }),
          read.scanManagedCertificates({ certificates: [{ service: input.service, secret }], caSecret }),
          read.serviceEndpoint({ service: input.service }),
        ]);
        if (ca.refusal)
          throw ApplicationFailure.nonRetryable(
            `pre-flight failed, nothing was changed: ${ca.refusal}`,
            'PreflightFailed',
          );
        if (!('error' in scan.certificates[0]!))
          throw ApplicationFailure.nonRetryable(
            `pre-flight failed, nothing was changed: ${secret} already holds a certificate: rotate it (rekey cert issue --force)`,
            'PreflightFailed',
          );
        return { endpoint, sans: (input.sans ?? [endpoint.host]).map(normalizeSan) };
      },
      (f) => `${secret} holds none; SANs ${f.sans.join(', ')}`,
    );
    r.setPhase('staging');
    const issued = await r.change(
      step(
        'issue',
        'staging',
        `a key and certificate for CN=${input.service} signed by ${caSecret} into ${secret}-pending`,
        `delete ${secret}-pending`,
      ),
      {
        run: () =>
          change.stagePendingCertificate({
            secret,
            caSecret,
            commonName: input.service,
            sans: facts.sans,
            validityDays,
            rotationId,
          }),
        undo: () => undo.removeCredentialVersions({ secret, versions: ['pending'] }),
        show: (c) => `${c.fingerprint}, valid until ${c.notAfter}`,
      },
    );
    r.to = issued.fingerprint;
    r.setPhase('switching');
    await r.change(
      step('promote', 'switching', `copy ${secret}-pending → ${secret}`, `delete ${secret} (it held nothing before)`),
      {
        run: () => change.promotePendingCertificate({ secret, rotationId }),
        undo: () => undo.removeIssuedCertificate({ secret, rotationId }),
      },
    );
    await r.change(
      step('install', 'switching', `install ${secret} for ${input.service} and reload until it is served`),
      {
        run: () =>
          wait.installServiceCertificate({ service: input.service, secret, expectFingerprint: issued.fingerprint }),
        show: (x) => `served after ${x.reloads} reload(s)`,
      },
    );
    r.setPhase('verifying');
    await r.step(
      'verify-served',
      async () => {
        const s = await read.verifyServedCertificate({
          ...facts.endpoint,
          servername: facts.endpoint.host,
          expectFingerprint: issued.fingerprint,
          caSecret,
        });
        if (!s.matches || !s.trusted || !s.hostnameOk)
          throw ApplicationFailure.nonRetryable(
            `${input.service} serves ${s.fingerprint}: ${s.problem ?? 'not the new certificate'}`,
            'ServedCertificateRejected',
          );
        return s;
      },
      (s) => `served ${s.fingerprint}, trusted by ${caSecret}`,
    );
    await r.cleanup(async () => {
      await r.persist('remove-versions', () => undo.removeCredentialVersions({ secret, versions: ['pending'] }));
    });
    return 'completed';
  });
}
