import { ApplicationFailure } from '@temporalio/activity';
import type { ManagedCertificateRef, ScannedCertificate } from '../../contracts/managedCertificates.js';
import { siblings, type SecretStore, type StoredSecret } from '../secrets/store.js';
import { formatBundle, issuedBy, parseBundle, withAuthority, withoutAuthority } from './bundle.js';
import type { KeyAlgorithm } from '../../contracts/keyAlgorithms.js';
import { type CertificateInfo, createCertificateAuthority, describeCertificate } from './pki.js';

const CERT = 'tls.crt';
const BUNDLE = 'ca.crt';
const CA_KEY = 'ca.key';

const refuse = (message: string, type: string) => ApplicationFailure.nonRetryable(message, type);

/**
 * The life of certificates beyond one renewal: the read-only expiry scan, and the CA
 * rotation's own changes (a new CA staged beside the old one, trust bundles that hold both,
 * the switch of the CA secret). Results carry fingerprints, subjects and dates, never a key.
 */
export function createCertificateLifecycleActivities(deps: { store: SecretStore }) {
  const { store } = deps;

  async function must(name: string): Promise<StoredSecret> {
    const s = await store.read(name);
    if (!s) throw refuse(`secret ${name} not found in the ${store.kind} store`, 'SecretMissing');
    return s;
  }

  /** Read only: each managed certificate's dates, fingerprint and trust bundle; and whether a CA rotation holds staged versions. */
  async function scanManagedCertificates(input: {
    certificates: ManagedCertificateRef[];
    caSecret: string;
  }): Promise<{ certificates: ScannedCertificate[]; caRotationInProgress: string | null }> {
    const ca = await store.read(input.caSecret).catch(() => undefined);
    const certificates = await Promise.all(
      input.certificates.map(async (ref): Promise<ScannedCertificate> => {
        try {
          const s = await store.read(ref.secret);
          const pem = s?.data[CERT];
          if (!pem)
            return {
              ...ref,
              error: s
                ? `secret ${ref.secret} has no ${CERT}`
                : `secret ${ref.secret} not found in the ${store.kind} store`,
            };
          const c = describeCertificate(pem);
          const caFingerprints = parseBundle(s.data[BUNDLE]).map((e) => e.fingerprint);
          return {
            ...ref,
            subject: c.subject,
            issuer: c.issuer,
            notBefore: c.notBefore,
            notAfter: c.notAfter,
            fingerprint: c.fingerprint,
            caFingerprints,
            ...(ca?.data[BUNDLE] ? { signedByCa: issuedBy(pem, ca.data[BUNDLE]) } : {}),
          };
        } catch (err) {
          return { ...ref, error: `secret ${ref.secret}: ${(err as Error).message}` };
        }
      }),
    );
    const { pending, backup } = siblings(input.caSecret);
    const staged = (await store.read(pending)) ?? (await store.read(backup));
    return {
      certificates,
      caRotationInProgress: staged
        ? `${staged.info.name} exists (rotation ${staged.info.annotations.rotationId ?? '?'})`
        : null,
    };
  }

  /**
   * `rekey cert init-ca`: a first CA, made on the worker straight into `caSecret` (its key never
   * leaves the worker but into the store). Refused when the secret exists, unless this same
   * init (`initId`) wrote it and only its answer was lost.
   */
  async function createAuthorityIfAbsent(input: {
    caSecret: string;
    commonName: string;
    validityDays: number;
    keyAlgorithm: KeyAlgorithm;
    initId: string;
  }): Promise<CertificateInfo & { secret: string }> {
    const existing = await store.read(input.caSecret);
    if (existing?.info.annotations.initId === input.initId && existing.data[BUNDLE])
      return { ...describeCertificate(existing.data[BUNDLE]), secret: input.caSecret };
    if (existing) {
      const held = existing.data[BUNDLE] ? `: ${describeCertificate(existing.data[BUNDLE]).subject}` : '';
      throw refuse(
        `secret ${input.caSecret} already exists${held}; rekey never overwrites a CA: replace it with rekey cert rotate-ca`,
        'CaExists',
      );
    }
    const made = await createCertificateAuthority({
      commonName: input.commonName,
      validityDays: input.validityDays,
      keyAlgorithm: input.keyAlgorithm,
    });
    await store.write(
      input.caSecret,
      { [BUNDLE]: made.certPem, [CA_KEY]: made.keyPem },
      { expectedVersion: null, annotations: { initId: input.initId, stage: 'init-ca' } },
    );
    return { ...describeCertificate(made.certPem), secret: input.caSecret };
  }

  /** The new CA, made on the worker into `<caSecret>-pending`; repeating it for the same rotation returns the same CA. */
  async function stagePendingAuthority(input: {
    caSecret: string;
    commonName: string;
    validityDays: number;
    rotationId: string;
  }): Promise<CertificateInfo & { secret: string }> {
    const { pending } = siblings(input.caSecret);
    const existing = await store.read(pending);
    if (existing?.info.annotations.rotationId === input.rotationId)
      return { ...describeCertificate(existing.data[BUNDLE]!), secret: pending };
    if (existing)
      throw refuse(
        `secret ${pending} belongs to rotation ${existing.info.annotations.rotationId ?? '(none)'}: finish or clean up that CA rotation first`,
        'ForeignSecretVersion',
      );
    const made = await createCertificateAuthority({ commonName: input.commonName, validityDays: input.validityDays });
    await store.write(
      pending,
      { [BUNDLE]: made.certPem, [CA_KEY]: made.keyPem },
      { expectedVersion: null, annotations: { rotationId: input.rotationId, stage: 'pending' } },
    );
    return { ...describeCertificate(made.certPem), secret: pending };
  }

  /** Copies `from` over `to` byte for byte unless `to` already holds it; `from` must belong to this rotation. */
  async function copyAuthority(from: string, to: string, rotationId: string, stage: string): Promise<CertificateInfo> {
    const source = await must(from);
    if (source.info.annotations.rotationId !== rotationId)
      throw refuse(
        `secret ${from} belongs to rotation ${source.info.annotations.rotationId ?? '(none)'}, not ${rotationId}`,
        'ForeignSecretVersion',
      );
    const current = await store.read(to);
    if (current?.info.fingerprint !== source.info.fingerprint)
      await store.write(to, source.bytes, {
        expectedVersion: current?.info.version ?? null,
        annotations: { rotationId, stage },
      });
    return describeCertificate(source.data[BUNDLE]!);
  }

  async function backupAuthority(input: {
    caSecret: string;
    rotationId: string;
  }): Promise<CertificateInfo & { secret: string }> {
    const { backup } = siblings(input.caSecret);
    const existing = await store.read(backup);
    if (existing?.info.annotations.rotationId === input.rotationId)
      return { ...describeCertificate(existing.data[BUNDLE]!), secret: backup };
    const current = await must(input.caSecret);
    await store.write(backup, current.bytes, { annotations: { rotationId: input.rotationId, stage: 'backup' } });
    return { ...describeCertificate(current.data[BUNDLE]!), secret: backup };
  }

  /** The new CA becomes the one that signs (`<caSecret>` ← `<caSecret>-pending`). */
  async function promotePendingAuthority(input: { caSecret: string; rotationId: string }): Promise<CertificateInfo> {
    return copyAuthority(siblings(input.caSecret).pending, input.caSecret, input.rotationId, 'current');
  }

  /** The old CA back (without a backup the CA secret was never replaced). */
  async function restoreAuthorityBackup(input: { caSecret: string; rotationId: string }): Promise<CertificateInfo> {
    const { backup } = siblings(input.caSecret);
    if (!(await store.read(backup))) return describeCertificate((await must(input.caSecret)).data[BUNDLE]!);
    return copyAuthority(backup, input.caSecret, input.rotationId, 'restored');
  }

  /** Adds the CA in `caSecret` to the trust bundle (`ca.crt`) of a service's secret; the certificate and key stay byte for byte. */
  async function trustAuthority(input: {
    secret: string;
    caSecret: string;
  }): Promise<{ secret: string; bundle: string[]; certificate: string }> {
    const [s, ca] = await Promise.all([must(input.secret), must(input.caSecret)]);
    const caPem = ca.data[BUNDLE];
    if (!caPem) throw refuse(`secret ${input.caSecret} has no ${BUNDLE}`, 'CertificateMissing');
    const bundle = withAuthority(parseBundle(s.data[BUNDLE]), caPem);
    if (formatBundle(bundle) !== s.data[BUNDLE])
      await store.write(
        input.secret,
        { [BUNDLE]: formatBundle(bundle) },
        { mergeKeys: true, expectedVersion: s.info.version },
      );
    return {
      secret: input.secret,
      bundle: bundle.map((e) => e.fingerprint),
      certificate: describeCertificate(s.data[CERT]!).fingerprint,
    };
  }

  /**
   * Removes a CA from a secret's trust bundle; refused while the secret's own certificate is
   * signed by that CA (clients holding only this bundle would refuse what the service serves).
   */
  async function distrustAuthority(input: {
    secret: string;
    caFingerprint: string;
  }): Promise<{ secret: string; bundle: string[]; certificate: string }> {
    const s = await must(input.secret);
    const before = parseBundle(s.data[BUNDLE]);
    const removed = before.find((e) => e.fingerprint === input.caFingerprint);
    const certificate = describeCertificate(s.data[CERT]!).fingerprint;
    if (removed && issuedBy(s.data[CERT]!, removed.pem)) {
      throw refuse(
        `${input.secret}'s certificate ${certificate} is signed by ${removed.subject}: reissue it from the new CA before the old one leaves its bundle`,
        'CertificateStillFromCa',
      );
    }
    const bundle = withoutAuthority(before, input.caFingerprint);
    if (bundle.length === 0)
      throw refuse(
        `removing ${input.caFingerprint} would leave ${input.secret} with an empty trust bundle`,
        'EmptyTrustBundle',
      );
    if (removed)
      await store.write(
        input.secret,
        { [BUNDLE]: formatBundle(bundle) },
        { mergeKeys: true, expectedVersion: s.info.version },
      );
    return { secret: input.secret, bundle: bundle.map((e) => e.fingerprint), certificate };
  }

  /** Undoes a first issuance: deletes the secret only if this rotation wrote it (anything else is left alone). */
  async function removeIssuedCertificate(input: { secret: string; rotationId: string }): Promise<void> {
    const s = await store.read(input.secret);
    if (s && s.info.annotations.rotationId === input.rotationId) await store.remove(input.secret);
  }

  return {
    createAuthorityIfAbsent,
    removeIssuedCertificate,
    scanManagedCertificates,
    stagePendingAuthority,
    backupAuthority,
    promotePendingAuthority,
    restoreAuthorityBackup,
    trustAuthority,
    distrustAuthority,
  };
}
