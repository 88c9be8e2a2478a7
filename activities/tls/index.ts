import { ApplicationFailure, heartbeat, sleep } from '@temporalio/activity';
import { RESTARTED_TLS_SERVICES, type TlsService } from '../../contracts/input/certificate.js';
import { createConnections, type PostgresDeps } from '../postgres/connection.js';
import { siblings, type SecretStore, type StoredSecret } from '../secrets/store.js';
import { bundleHas, parseBundle } from './bundle.js';
import { handshake, type ServedCertificate, type TlsProtocol } from './handshake.js';
import type { KeyAlgorithm } from '../../contracts/keyAlgorithms.js';
import {
  caRefusal,
  type CertificateInfo,
  describeCertificate,
  issueCertificate,
  IssuanceRefused,
  pemKeystore,
} from './pki.js';

export { handshake, type ServedCertificate, type TlsProtocol } from './handshake.js';
export {
  type CertificateInfo,
  createCertificateAuthority,
  type KeyPairPem,
  describeCertificate,
  issueCertificate,
  IssuanceRefused,
  pemKeystore,
  signedBy,
} from './pki.js';
export { hostMatchesSans, normalizeSan, sameSans } from '../../contracts/sans.js';

/**
 * Keys of a service certificate's secret (kubernetes.io/tls, plus the CA that signed it) and of
 * the CA's secret. `keystore.pem` (key + certificate in one file) is kept only in secrets that
 * already carry it: Kafka's PEM keystore reads one file.
 */
export const CERT_KEYS = { cert: 'tls.crt', key: 'tls.key', ca: 'ca.crt', keystore: 'keystore.pem' } as const;
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

/** Kafka's TLS listener: where clients reach it, and how the brokers are made to reload its keystore (the Admin API, in the Kafka module). */
export interface KafkaTlsDeps {
  brokers: string[];
  listener: string;
  reloadKeystore: () => Promise<unknown>;
}

export interface TlsDeps {
  store: SecretStore;
  postgres: PostgresDeps;
  /** Absent: the worker has no Kafka TLS listener configured (REKEY_KAFKA_TLS_BROKERS), and Kafka certificates are refused. */
  kafka?: KafkaTlsDeps;
  /** How each service's certificate files are installed (absent: installation is refused with a reason). */
  installers?: Partial<Record<TlsService, TlsInstaller>>;
  /** Where clients reach the services other than PostgreSQL over TLS (from rekey's https:// URLs). */
  endpoints?: Partial<Record<TlsService, { host: string; port: number }>>;
  /** How a service that reads its certificate only at start is restarted (a rollout restart on Kubernetes). */
  restarts?: Partial<Record<TlsService, ServiceRestart>>;
}

/** A restart that returns once the service answers again (Kafka Connect worker, Schema Registry). */
export interface ServiceRestart {
  restart(onProgress: (detail: string) => void): Promise<void>;
}

/** Waiting for a projected Secret volume: the kubelet's sync period plus its cache TTL, with room. */
const INSTALL_TIMEOUT_MS = 300_000;
const POLL_MS = 3000;
/**
 * A broker's network threads switch to a reloaded keystore one after another (seen: ~150 ms
 * apart on Kafka 4.3): the new certificate counts as served once every handshake for this
 * long returned it.
 */
const STABLE_MS = 1000;
const HANDSHAKE_EVERY_MS = 200;

/** What to check when reloads never serve the new certificate. */
const notServedHint: Record<TlsService, (secret: string) => string> = {
  postgresql: (secret) => `is ${secret} what its ssl_cert_file/ssl_key_file point at?`,
  kafka: (secret) =>
    `is ${secret}'s keystore.pem what the listener's ssl.keystore.location points at, with the subject and SANs the broker serves now (else it needs ssl.allow.dn.changes / ssl.allow.san.changes)? The broker log names the reason.`,
  'kafka-connect': (secret) =>
    `is ${secret} what the Connect worker's listeners.https.ssl.keystore points at (mounted as a Secret volume), and did the restarted worker start?`,
  'schema-registry': (secret) =>
    `is ${secret} what the registry's quarkus.http.ssl.certificate files point at, and did the restarted registry start?`,
};

/** A service that is restarted to take its certificate: restart again only when a projected volume may have lagged this long. */
const RESTART_EVERY_MS = 90_000;

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

  async function describeCertificateAuthority(input: {
    caSecret: string;
  }): Promise<CertificateInfo & { refusal: string | null }> {
    const s = await must(input.caSecret);
    const info = certOf(s, input.caSecret, CA_KEYS.cert);
    const refusal = s.data[CA_KEYS.key]
      ? caRefusal(info, new Date())
      : `secret ${input.caSecret} has no ${CA_KEYS.key}: rekey cannot sign with this CA`;
    return { ...info, refusal };
  }

  async function describeServiceCertificate(input: {
    secret: string;
  }): Promise<CertificateInfo & { caFingerprint: string | null }> {
    const s = await must(input.secret);
    const ca = s.data[CERT_KEYS.ca] ? certOf(s, input.secret, CERT_KEYS.ca).fingerprint : null;
    return { ...certOf(s, input.secret), caFingerprint: ca };
  }

  /** Every address clients reach the service's TLS on (each Kafka broker of the TLS listener), as this worker is configured. */
  function endpointsOf(service: TlsService): Array<{ host: string; port: number; protocol: TlsProtocol }> {
    if (service === 'postgresql') return [{ host: deps.postgres.host, port: deps.postgres.port, protocol: 'postgres' }];
    if (service === 'kafka') {
      if (!deps.kafka)
        throw refuse(
          'this worker has no Kafka TLS listener configured (set REKEY_KAFKA_TLS_BROKERS to its host:port list)',
          'NoKafkaTlsListener',
        );
      return deps.kafka.brokers.map((b) => {
        const at = b.lastIndexOf(':');
        return {
          host: b.slice(0, at).replace(/^\[|\]$/g, ''),
          port: Number(b.slice(at + 1)),
          protocol: 'tls' as const,
        };
      });
    }
    if (RESTARTED_TLS_SERVICES.includes(service)) {
      const endpoint = deps.endpoints?.[service];
      if (!endpoint)
        throw refuse(
          `this worker reaches ${service} over plain HTTP: configure its https:// URL (REKEY_CONNECT_URL / REKEY_REGISTRY_URL, with the CA file) so the served certificate can be checked`,
          'NoTlsEndpoint',
        );
      return [{ ...endpoint, protocol: 'tls' }];
    }
    throw refuse(`no TLS endpoint known for service ${String(service)}`, 'UnknownService');
  }

  /** Where clients reach the service, as this worker is configured (Kafka: the first broker of its TLS listener). */
  async function serviceEndpoint(input: {
    service: TlsService;
  }): Promise<{ host: string; port: number; protocol: TlsProtocol }> {
    return endpointsOf(input.service)[0]!;
  }

  /** The handshake a client makes; `matches` says whether the served certificate is the expected one (null: nothing expected). */
  async function verifyServedCertificate(input: {
    host: string;
    port: number;
    protocol: TlsProtocol;
    servername: string;
    expectFingerprint?: string;
    caSecret?: string;
  }): Promise<ServedCertificate & { matches: boolean | null }> {
    const caPem = input.caSecret ? (await must(input.caSecret)).data[CA_KEYS.cert] : undefined;
    const served = await handshake({
      host: input.host,
      port: input.port,
      protocol: input.protocol,
      servername: input.servername,
      caPem,
    });
    return { ...served, matches: input.expectFingerprint ? served.fingerprint === input.expectFingerprint : null };
  }

  /** Issues the new certificate into `<secret>-pending` (key, certificate, CA); repeating it for the same rotation returns the same one. */
  async function stagePendingCertificate(input: {
    secret: string;
    caSecret: string;
    commonName: string;
    sans: string[];
    validityDays: number;
    keyAlgorithm?: KeyAlgorithm;
    rotationId: string;
  }): Promise<CertificateInfo & { secret: string }> {
    const { pending } = siblings(input.secret);
    const existing = await store.read(pending);
    if (existing && existing.info.annotations.rotationId === input.rotationId)
      return { ...certOf(existing, pending), secret: pending };
    const ca = await must(input.caSecret);
    const caPem = { certPem: ca.data[CA_KEYS.cert] ?? '', keyPem: ca.data[CA_KEYS.key] ?? '' };
    if (!caPem.keyPem)
      throw refuse(`secret ${input.caSecret} has no ${CA_KEYS.key}: rekey cannot sign with this CA`, 'CaUnusable');
    let issued;
    try {
      issued = await issueCertificate({
        ca: caPem,
        commonName: input.commonName,
        sans: input.sans,
        validityDays: input.validityDays,
        keyAlgorithm: input.keyAlgorithm,
      });
    } catch (err) {
      if (err instanceof IssuanceRefused) throw refuse(`not issued: ${err.message}`, 'IssuanceRefused');
      throw err;
    }
    // the new version keeps the layout of the current one (a Kafka secret also carries its PEM keystore),
    // and a bundle that already trusts the signer is kept (both CAs while a CA rotation's clients move over)
    const current = await store.read(input.secret);
    const keystore = current?.data[CERT_KEYS.keystore]
      ? { [CERT_KEYS.keystore]: pemKeystore(issued.keyPem, issued.certPem) }
      : ({} as Record<string, string>);
    const trust = bundleHas(parseBundle(current?.data[CERT_KEYS.ca]), caPem.certPem)
      ? current!.data[CERT_KEYS.ca]!
      : caPem.certPem;
    await store.write(
      pending,
      { [CERT_KEYS.cert]: issued.certPem, [CERT_KEYS.key]: issued.keyPem, [CERT_KEYS.ca]: trust, ...keystore },
      { annotations: { rotationId: input.rotationId, stage: 'pending' } },
    );
    return { ...issued.info, secret: pending };
  }

  /** Copies `from` over `to` (every key, byte for byte) unless `to` already holds it; `from` must belong to this rotation. */
  async function copyVersion(from: string, to: string, rotationId: string, stage: string): Promise<CertificateInfo> {
    const source = await must(from);
    if (source.info.annotations.rotationId !== rotationId) {
      throw refuse(
        `secret ${from} belongs to rotation ${source.info.annotations.rotationId ?? '(none)'}, not ${rotationId}`,
        'ForeignSecretVersion',
      );
    }
    const current = await store.read(to);
    if (current?.info.fingerprint !== source.info.fingerprint) {
      await store.write(to, source.bytes, {
        expectedVersion: current?.info.version ?? null,
        annotations: { rotationId, stage },
      });
    }
    return certOf(source, from);
  }

  async function backupCurrentCertificate(input: {
    secret: string;
    rotationId: string;
  }): Promise<CertificateInfo & { secret: string }> {
    const { backup } = siblings(input.secret);
    const existing = await store.read(backup);
    if (existing && existing.info.annotations.rotationId === input.rotationId)
      return { ...certOf(existing, backup), secret: backup };
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
    if (RESTARTED_TLS_SERVICES.includes(service)) {
      const runtime = deps.restarts?.[service];
      if (!runtime)
        throw refuse(
          `this worker cannot restart ${service} (it reads its certificate only at start): no runtime configured`,
          'NoRestartRuntime',
        );
      await runtime.restart((detail) => heartbeat(detail));
      return;
    }
    if (service === 'postgresql') {
      // re-reads ssl_cert_file/ssl_key_file; open sessions keep their TLS state, new ones get the new certificate
      await pg.withAdmin((c) => c.query('SELECT pg_reload_conf()'));
      return;
    }
    if (service === 'kafka' && deps.kafka) {
      // the keystore location set again through the Admin API: each broker re-reads the changed file; connections stay open
      await deps.kafka.reloadKeystore();
      return;
    }
    throw refuse(`no reload known for service ${String(service)}`, 'UnknownService');
  }

  /** What a client is served on every endpoint now (one fingerprint per endpoint; an error in parentheses). */
  async function servedOn(endpoints: Array<{ host: string; port: number; protocol: TlsProtocol }>): Promise<string[]> {
    return Promise.all(
      endpoints.map((e) =>
        handshake({ ...e, servername: e.host }).then(
          (s) => s.fingerprint,
          (err: Error) => `(${err.message})`,
        ),
      ),
    );
  }

  /** Handshakes until every endpoint has served `expect` for STABLE_MS, or `budgetMs` ran out; the last fingerprints seen. */
  async function waitServed(
    endpoints: Array<{ host: string; port: number; protocol: TlsProtocol }>,
    expect: string,
    budgetMs: number,
  ): Promise<{ ok: boolean; seen: string[] }> {
    const until = Date.now() + budgetMs;
    let since: number | null = null;
    for (;;) {
      const seen = await servedOn(endpoints);
      since = seen.every((f) => f === expect) ? (since ?? Date.now()) : null;
      if (since !== null && Date.now() - since >= STABLE_MS) return { ok: true, seen };
      if (Date.now() > until && since === null) return { ok: false, seen };
      await sleep(HANDSHAKE_EVERY_MS);
    }
  }

  /**
   * Installs `secret`'s certificate for the service and reloads it until the service serves
   * that certificate (a projected volume may lag): proven by handshake fingerprints, heartbeating.
   */
  async function installServiceCertificate(input: {
    service: TlsService;
    secret: string;
    expectFingerprint: string;
    timeoutMs?: number;
  }): Promise<{ servedFingerprint: string; reloads: number; waitedMs: number }> {
    const installer = deps.installers?.[input.service];
    if (!installer)
      throw refuse(
        `this worker has no certificate installer for ${input.service} (on Kubernetes: a Secret volume; set one up before rotating its certificate)`,
        'NoTlsInstaller',
      );
    const holds = certOf(await must(input.secret), input.secret).fingerprint;
    if (holds !== input.expectFingerprint)
      throw refuse(
        `secret ${input.secret} holds ${holds}, not the expected ${input.expectFingerprint}`,
        'UnexpectedCertificate',
      );
    await installer.install({ secret: input.secret }, (detail) => heartbeat(detail));
    const endpoints = endpointsOf(input.service);
    const t0 = Date.now();
    const timeoutMs = Math.min(input.timeoutMs ?? INSTALL_TIMEOUT_MS, 600_000);
    const reloadEveryMs = RESTARTED_TLS_SERVICES.includes(input.service) ? RESTART_EVERY_MS : 0;
    let reloads = 0;
    let lastReload = -Infinity;
    for (;;) {
      if (Date.now() - lastReload >= reloadEveryMs) {
        await reload(input.service);
        reloads++;
        lastReload = Date.now();
      }
      // a reload takes effect asynchronously (Kafka: after the config reaches the broker; a restart: once the service is up): handshakes until it shows
      const served = await waitServed(endpoints, input.expectFingerprint, POLL_MS);
      if (served.ok) return { servedFingerprint: input.expectFingerprint, reloads, waitedMs: Date.now() - t0 };
      if (Date.now() - t0 > timeoutMs) {
        throw refuse(
          `${input.service} still serves ${served.seen.join(', ')} after ${reloads} reload(s) in ${Math.round((Date.now() - t0) / 1000)} s, not ${input.expectFingerprint}: ${notServedHint[input.service](input.secret)}`,
          'CertificateNotServed',
        );
      }
      heartbeat(`reloaded ${reloads}×; served ${served.seen.join(', ')}`);
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
