import { ApplicationFailure } from '@temporalio/activity';
import type { Activities } from '../../activities/index.js';
import { createPlanActivities } from '../../activities/plans.js';
import type { AuditEvent } from '../../activities/audit.js';
import { stubbedWith } from './gates.js';

interface Cert {
  fingerprint: string;
  subject: string;
  sans: string[];
  notBefore: string;
  notAfter: string;
  /** Which CA signed it (a client trusts `ca` only). */
  issuer: string;
  /** Stands in for the private key: must never reach a history. */
  key: string;
}
type Versioned = Cert & { rotationId: string };

const DAY = 86_400_000;

/**
 * The CA secret, a service certificate's secret with its pending and backup versions, and the
 * service (PostgreSQL) that serves whatever was last installed and reloaded, in memory, for
 * workflow tests with stub activities.
 */
export class CertStubWorld {
  ca = {
    subject: 'CN=rekey CA',
    fingerprint: 'CA:00',
    notBefore: '2020-01-01T00:00:00.000Z',
    notAfter: '9999-01-01T00:00:00.000Z',
    hasKey: true,
  };
  current: Cert;
  pending: Versioned | undefined;
  backup: Versioned | undefined;
  /** What was installed (files on disk) and what the service serves (after its last reload). */
  installed: Cert;
  served: Cert;
  /** The next issued certificate is signed by another CA (a client will refuse it). */
  issueUntrusted = false;
  /** The service ignores reloads (a volume that is never projected). */
  reloadIgnored = false;
  calls: string[] = [];
  audit: AuditEvent[] = [];
  readonly keys: string[] = [];
  private seq = 0;

  constructor(readonly secret: string) {
    this.current = this.mint('rekey CA', ['DNS:localhost', 'IP:127.0.0.1'], 0);
    this.installed = this.current;
    this.served = this.current;
  }

  private mint(issuer: string, sans: string[], now: number, days = 90): Cert {
    const n = ++this.seq;
    const key = `-----BEGIN PRIVATE KEY----- stub-key-${n}-${Math.random().toString(36).slice(2)}`;
    this.keys.push(key);
    return {
      fingerprint: `AB:${String(n).padStart(2, '0')}`,
      subject: 'CN=postgres',
      sans,
      notBefore: new Date(now).toISOString(),
      notAfter: new Date(now + days * DAY).toISOString(),
      issuer,
      key,
    };
  }

  /** Task ids that failed while the registry restarted (healed by restartFailedTasks). */
  failedTasks: number[] = [];

  state() {
    return {
      current: this.current.fingerprint,
      installed: this.installed.fingerprint,
      served: this.served.fingerprint,
      pending: Boolean(this.pending),
      backup: Boolean(this.backup),
    };
  }

  activities(testHooks = true): Activities {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the stubs below read as "the world"
    const w = this;
    const on = stubbedWith((name) => void w.calls.push(name));
    const view = (c: Cert) => ({
      subject: c.subject,
      issuer: `CN=${c.issuer}`,
      sans: c.sans,
      notBefore: c.notBefore,
      notAfter: c.notAfter,
      fingerprint: c.fingerprint,
      serialNumber: '01',
      isCa: false,
    });
    const served = (host: string) => ({
      fingerprint: w.served.fingerprint,
      subject: w.served.subject,
      issuer: `CN=${w.served.issuer}`,
      notAfter: w.served.notAfter,
      trusted: w.served.issuer === 'rekey CA',
      hostnameOk: w.served.sans.includes(`IP:${host}`) || w.served.sans.includes(`DNS:${host}`),
      problem: w.served.issuer === 'rekey CA' ? null : 'not trusted by the CA: UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      tlsVersion: 'TLSv1.3',
    });
    const stubs = {
      ...createPlanActivities({ testHooks }),
      serviceEndpoint: on('serviceEndpoint', ({ service }: { service: string }) =>
        service === 'postgresql'
          ? { host: '127.0.0.1', port: 5432, protocol: 'postgres' as const }
          : { host: '127.0.0.1', port: service === 'kafka' ? 9094 : 8443, protocol: 'tls' as const },
      ),
      describeCertificateAuthority: on('describeCertificateAuthority', () => {
        const expired = Date.parse(w.ca.notAfter) <= Date.now();
        const refusal = !w.ca.hasKey
          ? 'secret rekey-ca has no ca.key'
          : expired
            ? `the CA certificate ${w.ca.subject} expired on ${w.ca.notAfter}: rotate the CA first`
            : null;
        return { ...w.ca, issuer: w.ca.subject, sans: [], serialNumber: '01', isCa: true, refusal };
      }),
      describeServiceCertificate: on('describeServiceCertificate', () => ({
        ...view(w.current),
        caFingerprint: w.ca.fingerprint,
      })),
      verifyServedCertificate: on(
        'verifyServedCertificate',
        ({ servername, expectFingerprint }: { servername: string; expectFingerprint?: string }) => ({
          ...served(servername),
          matches: expectFingerprint ? w.served.fingerprint === expectFingerprint : null,
        }),
      ),
      stagePendingCertificate: on(
        'stagePendingCertificate',
        ({ sans, validityDays, rotationId }: { sans: string[]; validityDays: number; rotationId: string }) => {
          if (w.pending?.rotationId !== rotationId)
            w.pending = {
              ...w.mint(w.issueUntrusted ? 'someone else' : 'rekey CA', sans, Date.now(), validityDays),
              rotationId,
            };
          return { ...view(w.pending), secret: `${w.secret}-pending` };
        },
      ),
      backupCurrentCertificate: on('backupCurrentCertificate', ({ rotationId }: { rotationId: string }) => {
        if (w.backup?.rotationId !== rotationId) w.backup = { ...w.current, rotationId };
        return { ...view(w.backup), secret: `${w.secret}-backup` };
      }),
      promotePendingCertificate: on('promotePendingCertificate', ({ rotationId }: { rotationId: string }) => {
        if (w.pending?.rotationId !== rotationId)
          throw ApplicationFailure.nonRetryable('no certificate staged by this rotation', 'ForeignSecretVersion');
        w.current = w.pending;
        return view(w.current);
      }),
      restoreBackupCertificate: on('restoreBackupCertificate', () => {
        if (w.backup) w.current = w.backup;
        return view(w.current);
      }),
      installServiceCertificate: on(
        'installServiceCertificate',
        ({ expectFingerprint }: { expectFingerprint: string }) => {
          if (w.current.fingerprint !== expectFingerprint)
            throw ApplicationFailure.nonRetryable(
              `secret holds ${w.current.fingerprint}, not ${expectFingerprint}`,
              'UnexpectedCertificate',
            );
          w.installed = w.current;
          if (!w.reloadIgnored) w.served = w.installed;
          if (w.served.fingerprint !== expectFingerprint)
            throw ApplicationFailure.nonRetryable(
              `postgresql still serves ${w.served.fingerprint}`,
              'CertificateNotServed',
            );
          return { servedFingerprint: w.served.fingerprint, reloads: 1, waitedMs: 12 };
        },
      ),
      // after a restart of Connect or the registry (kafka-connect / schema-registry rotations)
      restartFailedTasks: on('restartFailedTasks', () => ({ restarted: w.failedTasks.splice(0) })),
      waitConnectorRunning: on('waitConnectorRunning', ({ connector }: { connector: string }) => ({
        connector,
        state: 'RUNNING',
        tasks: [{ id: 0, state: 'RUNNING' }],
      })),
      removeCredentialVersions: on(
        'removeCredentialVersions',
        ({ versions }: { versions: Array<'pending' | 'backup'> }) => {
          for (const v of versions) w[v] = undefined;
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
