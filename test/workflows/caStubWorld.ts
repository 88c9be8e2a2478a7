import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Activities } from '../../activities/index.js';
import type { AuditEvent } from '../../activities/audit.js';
import { createPlanActivities } from '../../activities/plans.js';
import { managedCertificates, type ManagedCertificateRef } from '../../contracts/managedCertificates.js';
import { stubbedWith } from './gates.js';

const DAY = 86_400_000;
/** The test server's clock (time skipping moves it far from the machine's), as the activity was scheduled. */
const serverNow = () => Context.current().info.currentAttemptScheduledTimestampMs;

interface Ca {
  fingerprint: string;
  subject: string;
  notBefore: string;
  notAfter: string;
  /** Stands in for the CA's private key: must never reach a history. */
  key: string;
}
interface Cert {
  fingerprint: string;
  /** The fingerprint of the CA that signed it. */
  issuer: string;
  sans: string[];
  notBefore: string;
  notAfter: string;
  key: string;
}
type Secret =
  { kind: 'ca'; ca: Ca; rotationId?: string } | { kind: 'cert'; cert: Cert; bundle: string[]; rotationId?: string };

/**
 * A CA secret and every managed certificate's secret (with their -pending/-backup versions),
 * and each service serving what was last installed, in memory: the renewal scan, the CA
 * rotation and the certificate rotations it starts as children all run against it.
 */
export class CaStubWorld {
  readonly secrets = new Map<string, Secret>();
  /** What each service serves (its certificate) and the bundle it was installed with. */
  readonly served = new Map<string, { cert: Cert; bundle: string[] }>();
  readonly refs: ManagedCertificateRef[] = managedCertificates();
  readonly keys: string[] = [];
  /** Activities that fail (non-retryable) while listed, e.g. `installServiceCertificate`. */
  readonly failing = new Set<string>();
  /** `installServiceCertificate` fails for a certificate from any CA but the first (a service that refuses the new CA's certificates). */
  refuseNewCa = false;
  readonly firstCa: string;
  calls: string[] = [];
  audit: AuditEvent[] = [];
  /** The CDC task, FAILED by each Connect or registry restart (its converter meets the outage) until restartFailedTasks. */
  failedTasks: number[] = [];
  private seq = 0;

  constructor(
    readonly caSecret: string,
    now = Date.now(),
    lifetimeDays = 90,
    ageDays = 0,
  ) {
    const ca = this.mintCa('rekey CA', now - ageDays * DAY);
    this.secrets.set(caSecret, { kind: 'ca', ca });
    this.firstCa = ca.fingerprint;
    for (const r of this.refs) {
      const cert = this.mint(ca.fingerprint, now - ageDays * DAY, lifetimeDays);
      this.secrets.set(r.secret, { kind: 'cert', cert, bundle: [ca.fingerprint] });
      this.served.set(r.service, { cert, bundle: [ca.fingerprint] });
    }
  }

  private key(): string {
    const k = `-----BEGIN PRIVATE KEY----- stub-${++this.seq}-${Math.random().toString(36).slice(2)}`;
    this.keys.push(k);
    return k;
  }

  private mintCa(cn: string, now: number): Ca {
    return {
      fingerprint: `CA:${String(++this.seq).padStart(2, '0')}`,
      subject: `CN=${cn}`,
      notBefore: new Date(now).toISOString(),
      notAfter: new Date(now + 3650 * DAY).toISOString(),
      key: this.key(),
    };
  }

  private mint(issuer: string, now: number, days: number): Cert {
    return {
      fingerprint: `AB:${String(++this.seq).padStart(2, '0')}`,
      issuer,
      sans: ['DNS:localhost', 'IP:127.0.0.1'],
      notBefore: new Date(now).toISOString(),
      notAfter: new Date(now + days * DAY).toISOString(),
      key: this.key(),
    };
  }

  ca(name: string): Ca | undefined {
    const s = this.secrets.get(name);
    return s?.kind === 'ca' ? s.ca : undefined;
  }

  cert(name: string): Extract<Secret, { kind: 'cert' }> {
    const s = this.secrets.get(name);
    if (s?.kind !== 'cert') throw ApplicationFailure.nonRetryable(`secret ${name} not found`, 'SecretMissing');
    return s;
  }

  /** Per service: who signed what it serves, and whether its secret's bundle holds the given CAs. */
  state() {
    return this.refs.map((r) => ({
      service: r.service,
      servedIssuer: this.served.get(r.service)!.cert.issuer,
      secretIssuer: this.cert(r.secret).cert.issuer,
      bundle: this.cert(r.secret).bundle,
    }));
  }

  names(): string[] {
    return [...this.secrets.keys()].sort();
  }

  activities(testHooks = true): Activities {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the stubs below read as "the world"
    const w = this;
    const on = stubbedWith((name) => {
      w.calls.push(name);
      if (w.failing.has(name)) throw ApplicationFailure.nonRetryable(`${name} failed (stub)`, 'StubFailure');
    });
    const caView = (c: Ca) => ({
      subject: c.subject,
      issuer: c.subject,
      sans: [],
      notBefore: c.notBefore,
      notAfter: c.notAfter,
      fingerprint: c.fingerprint,
      serialNumber: '01',
      isCa: true,
    });
    const view = (c: Cert) => ({
      subject: 'CN=service',
      issuer: `CN=${c.issuer}`,
      sans: c.sans,
      notBefore: c.notBefore,
      notAfter: c.notAfter,
      fingerprint: c.fingerprint,
      serialNumber: '01',
      isCa: false,
    });
    const serviceOf = (port: number) => w.refs[port - 5000]!.service;
    const copy = (from: string, to: string, rotationId: string) => {
      const s = w.secrets.get(from);
      if (!s || s.rotationId !== rotationId)
        throw ApplicationFailure.nonRetryable(`secret ${from} belongs to another rotation`, 'ForeignSecretVersion');
      w.secrets.set(to, { ...s, rotationId });
      return s;
    };
    const stubs = {
      ...createPlanActivities({ testHooks }),
      // Kafka Connect and the registry take a certificate by a restart, then the connector's tasks are checked
      waitConnectorRunning: on('waitConnectorRunning', () => ({ state: 'RUNNING' })),
      restartFailedTasks: on('restartFailedTasks', () => ({ restarted: w.failedTasks.splice(0) })),
      serviceEndpoint: on('serviceEndpoint', ({ service }: { service: string }) => ({
        host: '127.0.0.1',
        port: 5000 + w.refs.findIndex((r) => r.service === service),
        protocol: 'tls' as const,
      })),
      describeCertificateAuthority: on('describeCertificateAuthority', ({ caSecret }: { caSecret: string }) => {
        const ca = w.ca(caSecret);
        if (!ca) throw ApplicationFailure.nonRetryable(`secret ${caSecret} not found`, 'SecretMissing');
        return { ...caView(ca), refusal: null };
      }),
      describeServiceCertificate: on('describeServiceCertificate', ({ secret }: { secret: string }) => ({
        ...view(w.cert(secret).cert),
        caFingerprint: w.cert(secret).bundle[0] ?? null,
      })),
      verifyServedCertificate: on(
        'verifyServedCertificate',
        ({ port, caSecret, expectFingerprint }: { port: number; caSecret?: string; expectFingerprint?: string }) => {
          const s = w.served.get(serviceOf(port))!.cert;
          const trusted = Boolean(caSecret && w.ca(caSecret)?.fingerprint === s.issuer);
          return {
            fingerprint: s.fingerprint,
            subject: 'CN=service',
            issuer: `CN=${s.issuer}`,
            notAfter: s.notAfter,
            trusted,
            hostnameOk: true,
            problem: trusted ? null : 'not trusted by the CA',
            tlsVersion: 'TLSv1.3',
            matches: expectFingerprint ? s.fingerprint === expectFingerprint : null,
          };
        },
      ),
      scanManagedCertificates: on(
        'scanManagedCertificates',
        ({ certificates, caSecret }: { certificates: ManagedCertificateRef[]; caSecret: string }) => ({
          certificates: certificates.map((r) => {
            const s = w.secrets.get(r.secret);
            if (s?.kind !== 'cert') return { ...r, error: `secret ${r.secret} not found` };
            return {
              ...r,
              subject: 'CN=service',
              issuer: `CN=${s.cert.issuer}`,
              notBefore: s.cert.notBefore,
              notAfter: s.cert.notAfter,
              fingerprint: s.cert.fingerprint,
              caFingerprints: s.bundle,
              signedByCa: w.ca(caSecret)?.fingerprint === s.cert.issuer,
            };
          }),
          caRotationInProgress:
            w.secrets.has(`${caSecret}-pending`) || w.secrets.has(`${caSecret}-backup`)
              ? `${caSecret}-pending exists`
              : null,
        }),
      ),
      stagePendingCertificate: on(
        'stagePendingCertificate',
        ({
          secret,
          caSecret,
          validityDays,
          rotationId,
        }: {
          secret: string;
          caSecret: string;
          validityDays: number;
          rotationId: string;
        }) => {
          const existing = w.secrets.get(`${secret}-pending`);
          if (existing?.kind === 'cert' && existing.rotationId === rotationId)
            return { ...view(existing.cert), secret: `${secret}-pending` };
          const ca = w.ca(caSecret)!;
          const current = w.cert(secret);
          const cert = w.mint(ca.fingerprint, serverNow(), validityDays);
          w.secrets.set(`${secret}-pending`, {
            kind: 'cert',
            cert,
            bundle: current.bundle.includes(ca.fingerprint) ? current.bundle : [ca.fingerprint],
            rotationId,
          });
          return { ...view(cert), secret: `${secret}-pending` };
        },
      ),
      backupCurrentCertificate: on(
        'backupCurrentCertificate',
        ({ secret, rotationId }: { secret: string; rotationId: string }) => {
          const b = w.secrets.get(`${secret}-backup`);
          if (b?.kind !== 'cert' || b.rotationId !== rotationId)
            w.secrets.set(`${secret}-backup`, { ...w.cert(secret), rotationId });
          return { ...view(w.cert(`${secret}-backup`).cert), secret: `${secret}-backup` };
        },
      ),
      promotePendingCertificate: on(
        'promotePendingCertificate',
        ({ secret, rotationId }: { secret: string; rotationId: string }) =>
          view((copy(`${secret}-pending`, secret, rotationId) as { cert: Cert }).cert),
      ),
      restoreBackupCertificate: on(
        'restoreBackupCertificate',
        ({ secret, rotationId }: { secret: string; rotationId: string }) =>
          view(
            w.secrets.has(`${secret}-backup`)
              ? (copy(`${secret}-backup`, secret, rotationId) as { cert: Cert }).cert
              : w.cert(secret).cert,
          ),
      ),
      installServiceCertificate: on(
        'installServiceCertificate',
        ({ service, secret, expectFingerprint }: { service: string; secret: string; expectFingerprint: string }) => {
          const s = w.cert(secret);
          if (s.cert.fingerprint !== expectFingerprint)
            throw ApplicationFailure.nonRetryable(
              `secret holds ${s.cert.fingerprint}, not ${expectFingerprint}`,
              'UnexpectedCertificate',
            );
          if (w.refuseNewCa && s.cert.issuer !== w.firstCa)
            throw ApplicationFailure.nonRetryable(
              `${service} refuses a certificate from ${s.cert.issuer} (stub)`,
              'CertificateNotServed',
            );
          w.served.set(service, { cert: s.cert, bundle: [...s.bundle] });
          if (['kafka-connect', 'schema-registry'].includes(service) && !w.failedTasks.includes(0))
            w.failedTasks.push(0);
          return { servedFingerprint: s.cert.fingerprint, reloads: 1, waitedMs: 5 };
        },
      ),
      removeCredentialVersions: on(
        'removeCredentialVersions',
        ({ secret, versions }: { secret: string; versions: Array<'pending' | 'backup'> }) => {
          for (const v of versions) w.secrets.delete(`${secret}-${v}`);
        },
      ),
      stagePendingAuthority: on(
        'stagePendingAuthority',
        ({ caSecret, commonName, rotationId }: { caSecret: string; commonName: string; rotationId: string }) => {
          const existing = w.secrets.get(`${caSecret}-pending`);
          if (existing?.kind === 'ca' && existing.rotationId === rotationId)
            return { ...caView(existing.ca), secret: `${caSecret}-pending` };
          const ca = w.mintCa(commonName, serverNow());
          w.secrets.set(`${caSecret}-pending`, { kind: 'ca', ca, rotationId });
          return { ...caView(ca), secret: `${caSecret}-pending` };
        },
      ),
      backupAuthority: on('backupAuthority', ({ caSecret, rotationId }: { caSecret: string; rotationId: string }) => {
        const b = w.secrets.get(`${caSecret}-backup`);
        if (b?.rotationId !== rotationId)
          w.secrets.set(`${caSecret}-backup`, { ...w.secrets.get(caSecret)!, rotationId });
        return { ...caView(w.ca(`${caSecret}-backup`)!), secret: `${caSecret}-backup` };
      }),
      promotePendingAuthority: on(
        'promotePendingAuthority',
        ({ caSecret, rotationId }: { caSecret: string; rotationId: string }) =>
          caView((copy(`${caSecret}-pending`, caSecret, rotationId) as { ca: Ca }).ca),
      ),
      restoreAuthorityBackup: on(
        'restoreAuthorityBackup',
        ({ caSecret, rotationId }: { caSecret: string; rotationId: string }) =>
          caView(
            w.secrets.has(`${caSecret}-backup`)
              ? (copy(`${caSecret}-backup`, caSecret, rotationId) as { ca: Ca }).ca
              : w.ca(caSecret)!,
          ),
      ),
      trustAuthority: on('trustAuthority', ({ secret, caSecret }: { secret: string; caSecret: string }) => {
        const s = w.cert(secret);
        const fp = w.ca(caSecret)!.fingerprint;
        if (!s.bundle.includes(fp)) s.bundle = [...s.bundle, fp];
        return { secret, bundle: s.bundle, certificate: s.cert.fingerprint };
      }),
      distrustAuthority: on(
        'distrustAuthority',
        ({ secret, caFingerprint }: { secret: string; caFingerprint: string }) => {
          const s = w.cert(secret);
          if (s.cert.issuer === caFingerprint)
            throw ApplicationFailure.nonRetryable(
              `${secret}'s certificate is signed by ${caFingerprint}`,
              'CertificateStillFromCa',
            );
          s.bundle = s.bundle.filter((f) => f !== caFingerprint);
          return { secret, bundle: s.bundle, certificate: s.cert.fingerprint };
        },
      ),
      appendAudit: async (event: AuditEvent) => {
        w.audit.push(event);
        return { hash: 'h', duplicate: false };
      },
    };
    return stubs as unknown as Activities;
  }
}
