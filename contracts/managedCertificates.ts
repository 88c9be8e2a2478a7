import { DEFAULT_CERT_SECRETS, MAX_VALIDITY_DAYS, TLS_SERVICES, type TlsService } from './input/certificate.js';

/** One certificate rekey manages: the service that serves it and the secret it lives in. */
export interface ManagedCertificateRef {
  service: TlsService;
  secret: string;
}

/**
 * Every service certificate rekey manages, from the list of TLS services: a service added to
 * `TLS_SERVICES` (with its secret in `DEFAULT_CERT_SECRETS`) is scanned, renewed and moved to a
 * new CA without any change here.
 */
export const managedCertificates = (): ManagedCertificateRef[] =>
  TLS_SERVICES.map((service) => ({ service, secret: DEFAULT_CERT_SECRETS[service] }));

/** What the read-only scan reports for one secret: dates and fingerprints, never a key. */
export type ScannedCertificate = ManagedCertificateRef &
  (
    | {
        subject: string;
        issuer: string;
        notBefore: string;
        notAfter: string;
        fingerprint: string;
        caFingerprints: string[];
        signedByCa?: boolean;
      }
    | { error: string }
  );

export interface RenewalPolicy {
  /** Renew when less than this share of the lifetime is left (cert-manager's default is 1/3). */
  renewBeforeRatio: number;
  /** Or: renew when fewer than this many days are left (wins over the ratio when set). */
  renewBeforeDays?: number;
}

export interface RenewalDecision {
  secret: string;
  service: TlsService;
  due: boolean;
  /** Days left until notAfter (fractional), null when the certificate could not be read. */
  daysLeft: number | null;
  lifetimeDays: number | null;
  /** The validity a renewal keeps: the current lifetime in whole days (at least 1). */
  validityDays: number | null;
  why: string;
}

const DAY_MS = 86_400_000;
const round1 = (n: number) => Math.round(n * 10) / 10;

/** Whether each certificate is due for renewal at `now` (workflow time); an unreadable one is reported, never renewed blindly. */
export function renewalDecisions(certs: ScannedCertificate[], policy: RenewalPolicy, now: number): RenewalDecision[] {
  return certs.map((c) => {
    if ('error' in c)
      return {
        secret: c.secret,
        service: c.service,
        due: false,
        daysLeft: null,
        lifetimeDays: null,
        validityDays: null,
        why: `not scanned: ${c.error}`,
      };
    const lifetimeMs = Date.parse(c.notAfter) - Date.parse(c.notBefore);
    const leftMs = Date.parse(c.notAfter) - now;
    const thresholdMs =
      policy.renewBeforeDays !== undefined ? policy.renewBeforeDays * DAY_MS : policy.renewBeforeRatio * lifetimeMs;
    const rule =
      policy.renewBeforeDays !== undefined
        ? `${policy.renewBeforeDays} days`
        : `${round1(policy.renewBeforeRatio * 100)}% of ${round1(lifetimeMs / DAY_MS)} days`;
    const due = leftMs < thresholdMs;
    const left = round1(leftMs / DAY_MS);
    return {
      secret: c.secret,
      service: c.service,
      due,
      daysLeft: leftMs / DAY_MS,
      lifetimeDays: lifetimeMs / DAY_MS,
      validityDays: Math.min(MAX_VALIDITY_DAYS, Math.max(1, Math.round(lifetimeMs / DAY_MS))),
      why:
        leftMs <= 0
          ? `expired ${-left} days ago`
          : due
            ? `${left} days left, under ${rule}`
            : `${left} days left, renewal at ${rule} left`,
    };
  });
}
