import { ApplicationFailure, heartbeat, sleep } from '@temporalio/activity';
import type { TlsService } from '../../workflows/certificates/input.js';
import { createConnections, type PostgresDeps } from '../postgres/connection.js';
import { siblings, type SecretStore, type StoredSecret } from '../secrets/store.js';
import { bundleHas, parseBundle } from './bundle.js';
import { handshake, type ServedCertificate, type TlsProtocol } from './handshake.js';
import { caRefusal, type CertificateInfo, describeCertificate, issueCertificate, IssuanceRefused } from './pki.js';

export { handshake, type ServedCertificate, type TlsProtocol } from './handshake.js';
export { type CertificateInfo, createCertificateAuthority, type KeyPairPem, describeCertificate, issueCertificate, IssuanceRefused, signedBy } from './pki.js';
export { hostMatchesSans, normalizeSan, sameSans } from '../../workflows/certificates/sans.js';

/** Keys of a service certificate's secret (kubernetes.io/tls, plus the CA that signed it) and of the CA's secret. */
export const CERT_KEYS = { cert: 'tls.crt', key: 'tls.key', ca: 'ca.crt' } as const;
export const CA_KEYS = { cert: 'ca.crt', key: 'ca.key' } as const;

/**
 * Puts the certificate of a secret where the service reads it; it does not reload the service.
 * On Kubernetes the secret is a Secret volume the kubelet re-projects by itself (within its sync
 * period, 1-2 min): nothing to do. The embedded stack's stand-in writes the files.
 */
export interface TlsInstaller {
  install(input: { secret: string }, onProgress: (detail: string) => void): Promise<void>;
}

/** The production installer: the certificate reaches the pod as a projected Secret volume. */
export const projectedSecretVolume: TlsInstaller = {
  async install(_input, onProgress) {
    onProgress('the kubelet projects the Secret volume (within its sync period)');
  },
};

export interface TlsDeps {
  store: SecretStore;
  postgres: PostgresDeps;
  /** How each service's certificate files are installed (absent: installation is refused with a reason). */
  installers?: Partial<Record<TlsService, TlsInstaller>>;
}

/** Waiting for a projected Secret volume: the kubelet's sync period plus its cache TTL, with room. */
const INSTALL_TIMEOUT_MS = 300_000;
const POLL_MS = 3000;

const refuse = (message: string, type: string) => ApplicationFailure.nonRetryable(message, type);

/**
 * Certificates: issued on the worker from the CA in the secret store, staged and promoted
 * like every other credential (`<secret>-pending`, `<secret>-backup`), installed and proven
 * served by a real handshake. Results carry fingerprints, subjects, SANs and dates, never a key.
 */
export function createTlsActivities(deps: TlsDeps) {
  const { store } = deps;
  const pg = createConnections(deps.postgres);

  async function must(name: string): Promise<StoredSecret> {
    const s = await store.read(name);
    if (!s) throw refuse(`secret ${name} not found in the ${store.kind} store`, 'SecretMissing');
    return s;
  }

  function certOf(s: StoredSecret, name: string, key: string = CERT_KEYS.cert): CertificateInfo {
    const pem = s.data[key];
    if (!pem) throw refuse(`secret ${name} has no ${key}`, 'CertificateMissing');
    try {
      return describeCertificate(pem);
    } catch {
      throw refuse(`secret ${name}: ${key} is not a PEM certificate`, 'CertificateUnreadable');
    }
  }

  async function describeCertificateAuthority(input: { caSecret: string }): Promise<CertificateInfo & { refusal: string | null }> {
    const s = await must(input.caSecret);
    const info = certOf(s, input.caSecret, CA_KEYS.cert);
    const refusal = s.data[CA_KEYS.key] ? caRefusal(info, new Date()) : `secret ${input.caSecret} has no ${CA_KEYS.key}: rekey cannot sign with this CA`;
    return { ...info, refusal };
  }

  async function describeServiceCertificate(input: { secret: string }): Promise<CertificateInfo & { caFingerprint: string | null }> {
    const s = await must(input.secret);
    const ca = s.data[CERT_KEYS.ca] ? certOf(s, input.secret, CERT_KEYS.ca).fingerprint : null;
    return { ...certOf(s, input.secret), caFingerprint: ca };
  }

  /** Where clients reach the service, as this worker is configured. */
  async function serviceEndpoint(input: { service: TlsService }): Promise<{ host: string; port: number; protocol: TlsProtocol }> {
    if (input.service !== 'postgresql') throw refuse(`no TLS endpoint known for service ${String(input.service)}`, 'UnknownService');
    return { host: deps.postgres.host, port: deps.postgres.port, protocol: 'postgres' };
  }

  /** The handshake a client makes; `matches` says whether the served certificate is the expected one (null: nothing expected). */
  async function verifyServedCertificate(input: { host: string; port: number; protocol: TlsProtocol; servername: string; expectFingerprint?: string; caSecret?: string }): Promise<ServedCertificate & { matches: boolean | null }> {
    const caPem = input.caSecret ? (await must(input.caSecret)).data[CA_KEYS.cert] : undefined;
    const served = await handshake({ host: input.host, port: input.port, protocol: input.protocol, servername: input.servername, caPem });
    return { ...served, matches: input.expectFingerprint ? served.fingerprint === input.expectFingerprint : null };
  }

  /** Issues the new certificate into `<secret>-pending` (key, certificate, CA); repeating it for the same rotation returns the same one. */
  async function stagePendingCertificate(input: { secret: string; caSecret: string; commonName: string; sans: string[]; validityDays: number; rotationId: string }): Promise<CertificateInfo & { secret: string }> {
    const { pending } = siblings(input.secret);
    const existing = await store.read(pending);
    if (existing && existing.info.annotations.rotationId === input.rotationId) return { ...certOf(existing, pending), secret: pending };
    const ca = await must(input.caSecret);
    const caPem = { certPem: ca.data[CA_KEYS.cert] ?? '', keyPem: ca.data[CA_KEYS.key] ?? '' };
    if (!caPem.keyPem) throw refuse(`secret ${input.caSecret} has no ${CA_KEYS.key}: rekey cannot sign with this CA`, 'CaUnusable');
    let issued;
    try {
      issued = await issueCertificate({ ca: caPem, commonName: input.commonName, sans: input.sans, validityDays: input.validityDays });
    } catch (err) {
      if (err instanceof IssuanceRefused) throw refuse(`not issued: ${err.message}`, 'IssuanceRefused');
      throw err;
    }
    // a bundle that already trusts the signer is kept (both CAs while a CA rotation's clients move over)
    const current = await store.read(input.secret);
    const trust = bundleHas(parseBundle(current?.data[CERT_KEYS.ca]), caPem.certPem) ? current!.data[CERT_KEYS.ca]! : caPem.certPem;
    await store.write(pending, { [CERT_KEYS.cert]: issued.certPem, [CERT_KEYS.key]: issued.keyPem, [CERT_KEYS.ca]: trust }, { annotations: { rotationId: input.rotationId, stage: 'pending' } });
    return { ...issued.info, secret: pending };
  }

  /** Copies `from` over `to` (every key, byte for byte) unless `to` already holds it; `from` must belong to this rotation. */
  async function copyVersion(from: string, to: string, rotationId: string, stage: string): Promise<CertificateInfo> {
    const source = await must(from);
    if (source.info.annotations.rotationId !== rotationId) {
      throw refuse(`secret ${from} belongs to rotation ${source.info.annotations.rotationId ?? '(none)'}, not ${rotationId}`, 'ForeignSecretVersion');
    }
    const current = await store.read(to);
    if (current?.info.fingerprint !== source.info.fingerprint) {
      await store.write(to, source.bytes, { expectedVersion: current?.info.version ?? null, annotations: { rotationId, stage } });
    }
    return certOf(source, from);
  }

  async function backupCurrentCertificate(input: { secret: string; rotationId: string }): Promise<CertificateInfo & { secret: string }> {
    const { backup } = siblings(input.secret);
    const existing = await store.read(backup);
    if (existing && existing.info.annotations.rotationId === input.rotationId) return { ...certOf(existing, backup), secret: backup };
    const current = await must(input.secret);
    await store.write(backup, current.bytes, { annotations: { rotationId: input.rotationId, stage: 'backup' } });
    return { ...certOf(current, input.secret), secret: backup };
  }

  async function promotePendingCertificate(input: { secret: string; rotationId: string }): Promise<CertificateInfo> {
    return copyVersion(siblings(input.secret).pending, input.secret, input.rotationId, 'current');
  }

  /** Puts the backup back (without a backup, current was never replaced: nothing to restore). */
  async function restoreBackupCertificate(input: { secret: string; rotationId: string }): Promise<CertificateInfo> {
    const { backup } = siblings(input.secret);
    if (!(await store.read(backup))) return certOf(await must(input.secret), input.secret);
    return copyVersion(backup, input.secret, input.rotationId, 'restored');
  }

  async function reload(service: TlsService): Promise<void> {
    if (service !== 'postgresql') throw refuse(`no reload known for service ${String(service)}`, 'UnknownService');
    // re-reads ssl_cert_file/ssl_key_file; open sessions keep their TLS state, new ones get the new certificate
    await pg.withAdmin((c) => c.query('SELECT pg_reload_conf()'));
  }

  /**
   * Installs `secret`'s certificate for the service and reloads it until the service serves
   * that certificate (a projected volume may lag): proven by handshake fingerprints, heartbeating.
   */
  async function installServiceCertificate(input: { service: TlsService; secret: string; expectFingerprint: string; timeoutMs?: number }): Promise<{ servedFingerprint: string; reloads: number; waitedMs: number }> {
    const installer = deps.installers?.[input.service];
    if (!installer) throw refuse(`this worker has no certificate installer for ${input.service} (on Kubernetes: a Secret volume; set one up before rotating its certificate)`, 'NoTlsInstaller');
    const holds = certOf(await must(input.secret), input.secret).fingerprint;
    if (holds !== input.expectFingerprint) throw refuse(`secret ${input.secret} holds ${holds}, not the expected ${input.expectFingerprint}`, 'UnexpectedCertificate');
    await installer.install({ secret: input.secret }, (detail) => heartbeat(detail));
    const endpoint = await serviceEndpoint({ service: input.service });
    const t0 = Date.now();
    const timeoutMs = Math.min(input.timeoutMs ?? INSTALL_TIMEOUT_MS, 600_000);
    for (let reloads = 1; ; reloads++) {
      await reload(input.service);
      const served = await handshake({ ...endpoint, servername: endpoint.host }).catch((err: Error) => ({ fingerprint: `(${err.message})` }));
      if (served.fingerprint === input.expectFingerprint) return { servedFingerprint: served.fingerprint, reloads, waitedMs: Date.now() - t0 };
      if (Date.now() - t0 > timeoutMs) {
        throw refuse(`${input.service} still serves ${served.fingerprint} after ${reloads} reload(s) in ${Math.round((Date.now() - t0) / 1000)} s, not ${input.expectFingerprint}: is ${input.secret} what its ssl_cert_file/ssl_key_file point at?`, 'CertificateNotServed');
      }
      heartbeat(`reloaded ${reloads}×; served ${served.fingerprint}`);
      await sleep(POLL_MS);
    }
  }

  return {
    describeCertificateAuthority,
    describeServiceCertificate,
    serviceEndpoint,
    verifyServedCertificate,
    stagePendingCertificate,
    backupCurrentCertificate,
    promotePendingCertificate,
    restoreBackupCertificate,
    installServiceCertificate,
  };
}
