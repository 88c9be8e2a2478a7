import { type PlannedStep, plannedStep } from '../rotation/definitions.js';
import type { CaRotationPlan } from '../../contracts/input/caRotation.js';
import type { ManagedCertificateRef } from '../../contracts/managedCertificates.js';

/** What the CA rotation's steps are planned from: the plan and what pre-flight found. */
export interface CaFacts {
  /** The current CA's fingerprint and CN. */
  from: string;
  fromSubject: string;
  newCommonName: string;
  /** Every managed certificate with the lifetime its reissue keeps. */
  certificates: Array<ManagedCertificateRef & { fingerprint: string; validityDays: number }>;
  graceMs: number;
}

/**
 * Every step of a CA rotation with what it does (keys never shown) and its compensation: the
 * workflow names its steps from here and the dry run prints this list. Per-certificate steps
 * are named `<step>:<secret>`, one per managed certificate.
 */
export function caSteps(p: CaRotationPlan, f: CaFacts) {
  const ca = p.caSecret;
  const pending = `${ca}-pending`;
  const each = (
    name: string,
    phase: PlannedStep['phase'],
    does: (c: CaFacts['certificates'][number]) => string,
    undo?: (c: CaFacts['certificates'][number]) => string,
  ) =>
    Object.fromEntries(
      f.certificates.map((c) => [c.secret, plannedStep(`${name}:${c.secret}`, phase, does(c), undo?.(c))]),
    );
  return {
    preflight: plannedStep(
      'preflight',
      'preflight',
      `read only: ${ca} holds a CA (${f.from}); no ${pending} from another rotation; every managed certificate (${f.certificates.map((c) => c.secret).join(', ')}) is readable and served`,
    ),
    createCa: plannedStep(
      'create-ca',
      'staging',
      `on the worker: a new ECDSA P-256 CA, CN=${f.newCommonName}, ${p.caValidityDays} days, into ${pending} (the key is never shown)`,
      `delete secret ${pending}`,
    ),
    trust: each(
      'trust-new-ca',
      'staging',
      (c) =>
        `add the new CA to ${c.secret}'s ca.crt (old + new), install it for ${c.service} and reload: clients given this bundle accept both CAs`,
      (c) => `remove the new CA from ${c.secret}'s ca.crt, install and reload`,
    ),
    reissue: each(
      'reissue',
      'switching',
      (c) =>
        `child rotate-certificate/${c.secret}: a new certificate for ${c.service} signed by ${pending} (${c.validityDays} days), installed, reloaded and verified by handshake against the new CA`,
      (c) => `child rotate-certificate/${c.secret} again, signed by ${ca} (the old CA, restored first)`,
    ),
    backupCa: plannedStep(
      'backup-ca',
      'switching',
      `copy ${ca} → ${ca}-backup (the old CA)`,
      `delete secret ${ca}-backup`,
    ),
    promoteCa: plannedStep(
      'promote-ca',
      'switching',
      `copy ${pending} → ${ca}: the new CA signs from now on (renewals included)`,
      `copy ${ca}-backup → ${ca}`,
    ),
    verifyNew: plannedStep(
      'verify-new-ca',
      'verifying',
      `TLS handshake with every service: the served certificate validates against ${ca} (the new CA) and names its host`,
    ),
    grace: plannedStep(
      'grace',
      'grace',
      `both CAs trusted for ${Math.round(f.graceMs / 60_000)} min (cleanupNow ends it early; rollback undoes everything above)`,
    ),
    distrust: each(
      'distrust-old-ca',
      'cleanup',
      (c) => `remove the old CA ${f.from} from ${c.secret}'s ca.crt, install it for ${c.service} and reload`,
    ),
    verifyOldGone: plannedStep(
      'verify-old-ca-gone',
      'cleanup',
      `TLS handshake with every service: trusted by the new CA, refused by a client that trusts only the old CA (${ca}-backup)`,
    ),
    cleanup: plannedStep(
      'remove-versions',
      'cleanup',
      `delete secrets ${pending} and ${ca}-backup (the old CA's key is gone)`,
    ),
  };
}

export type CaSteps = ReturnType<typeof caSteps>;

export function orderedCaSteps(s: CaSteps): PlannedStep[] {
  return [
    s.preflight,
    s.createCa,
    ...Object.values(s.trust),
    ...Object.values(s.reissue),
    s.backupCa,
    s.promoteCa,
    s.verifyNew,
    s.grace,
    ...Object.values(s.distrust),
    s.verifyOldGone,
    s.cleanup,
  ];
}
