import { check, type CheckResult } from '../rotation/preflight.js';
import { hostMatchesSans, normalizeSan, sameSans } from '../../contracts/sans.js';

export type { CheckResult };

/** A certificate as activities describe it (never a key). */
export interface CertificateView {
  subject: string;
  sans: string[];
  notBefore: string;
  notAfter: string;
  fingerprint: string;
  isCa: boolean;
}

/** Facts read before a certificate rotation changes anything. */
export interface CertificatePreflightFacts {
  /** The signing CA, and why it cannot sign (null: it can). */
  ca: CertificateView & { refusal: string | null };
  /** What the service's secret holds now. */
  current: CertificateView;
  /** What a client is served now, or why the handshake failed. */
  served: { fingerprint: string; trusted: boolean; hostnameOk: boolean; problem: string | null } | { error: string };
}

export interface CertificateRequestView {
  secret: string;
  caSecret: string;
  /** The SANs the new certificate will carry. */
  sans: string[];
  allowSanChange: boolean;
  /** The name clients connect with. */
  hostname: string;
  validityDays: number;
  /** Workflow time (ms). */
  now: number;
}

const DAY_MS = 86_400_000;
const list = (sans: string[]) => sans.map(normalizeSan).join(', ') || '(none)';

/**
 * Every check made before a certificate is issued: the CA can sign for the whole lifetime,
 * the service is reachable over TLS and serves what its secret holds, and the new SANs keep
 * the names clients use. All of them must pass: nothing is changed otherwise.
 */
export function evaluateCertificatePreflight(f: CertificatePreflightFacts, r: CertificateRequestView): CheckResult[] {
  const newNotAfter = new Date(r.now + r.validityDays * DAY_MS).toISOString();
  const served = 'error' in f.served ? null : f.served;
  const caLasts = Date.parse(f.ca.notAfter) >= r.now + r.validityDays * DAY_MS;
  return [
    check(
      'CA usable',
      f.ca.refusal === null,
      f.ca.refusal ?? `${f.ca.subject}, valid ${f.ca.notBefore} – ${f.ca.notAfter}`,
      `${r.caSecret} holds a CA certificate valid now, and its key`,
    ),
    check(
      'CA outlives the certificate',
      caLasts,
      `CA expires ${f.ca.notAfter}`,
      `the CA valid until the new certificate's end, ${newNotAfter} (${r.validityDays} days): shorten validityDays or rotate the CA`,
    ),
    check(
      'served certificate readable',
      served !== null,
      served ? served.fingerprint : (f.served as { error: string }).error,
      'a TLS handshake with the service succeeds',
    ),
    check(
      'service serves its secret',
      served?.fingerprint === f.current.fingerprint,
      served?.fingerprint ?? '(no handshake)',
      `${r.secret}'s certificate ${f.current.fingerprint}`,
    ),
    check(
      'SANs unchanged',
      r.allowSanChange || sameSans(r.sans, f.current.sans),
      `current ${list(f.current.sans)}; requested ${list(r.sans)}`,
      'the same SANs as the current certificate (or allowSanChange: true)',
    ),
    check(
      'host name in SANs',
      hostMatchesSans(r.hostname, r.sans),
      `${r.hostname} against ${list(r.sans)}`,
      'the name clients connect with is one of the new SANs',
    ),
  ];
}

/** What is wrong with a served certificate after the switch, or null when a client would accept it and it is the new one. */
export function servedProblem(
  s: { fingerprint: string; trusted: boolean; hostnameOk: boolean; problem: string | null },
  expectFingerprint: string,
): string | null {
  const problems = [
    s.fingerprint === expectFingerprint ? null : `serves ${s.fingerprint}, not the new ${expectFingerprint}`,
    s.trusted && s.hostnameOk ? null : (s.problem ?? 'not accepted by a client'),
  ].filter((p): p is string => p !== null);
  return problems.length ? problems.join('; ') : null;
}
