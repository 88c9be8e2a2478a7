import { ApplicationFailure } from '@temporalio/activity';
import type { Activities } from '../../activities/index.js';
import { createPlanActivities } from '../../activities/plans.js';
import type { AuditEvent } from '../../activities/audit.js';
import { recordedWithFailures, stubbedWith } from './gates.js';

type Versioned = { password: string; rotationId: string; verifier?: string };

/**
 * One PostgreSQL role whose password is changed in place, in memory: the role's verifier (here:
 * the password it accepts), the secret (and its -pending/-backup), and the sessions open as the
 * role. A session outlives a password change; a new login needs the current password.
 */
export class PostgresAdminStubWorld {
  readonly secret: string;
  readonly role = 'postgres';
  /** The password the role's verifier accepts. */
  accepted: string;
  live: string;
  pending: Versioned | undefined;
  backup: Versioned | undefined;
  /** Sessions open as the role (ids); terminated ones are removed. */
  sessions = new Set(['psql-of-the-dba', 'rekey-pool-1']);
  superuser = true;
  calls: string[] = [];
  audit: AuditEvent[] = [];
  readonly passwords: string[] = [];
  failures = new Map<string, number>();

  constructor(secret: string) {
    this.secret = secret;
    this.live = this.newPassword();
    this.accepted = this.live;
  }

  private newPassword(): string {
    const p = `pw-${Math.random().toString(36).slice(2)}-${Date.now()}`;
    this.passwords.push(p);
    return p;
  }

  state() {
    return {
      secretLogsIn: this.live === this.accepted,
      pending: Boolean(this.pending),
      backup: Boolean(this.backup),
      sessions: [...this.sessions].sort(),
    };
  }

  activities(testHooks = true): Activities {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the stubs below read as "the world"
    const w = this;
    const on = stubbedWith(recordedWithFailures(w));
    const passwordIn = (secret: string) =>
      secret.endsWith('-pending') ? w.pending?.password : secret.endsWith('-backup') ? w.backup?.password : w.live;
    const ref = (secret: string) => ({ secret, user: w.role, fingerprint: `fp-${passwordIn(secret)?.slice(-4)}` });
    const stubs = {
      ...createPlanActivities({ testHooks }),
      describeAdminRole: on('describeAdminRole', ({ secret }: { secret: string }) => ({
        secret,
        user: w.role,
        sessionUser: w.role,
        superuser: w.superuser,
        verifier: w.superuser ? 'scram-sha-256' : 'unreadable',
        otherSessions: w.sessions.size,
        rekey: { secret: w.secret, user: w.role },
      })),
      describeCredential: on('describeCredential', ({ secret }: { secret: string }) => {
        if (!passwordIn(secret)) throw ApplicationFailure.nonRetryable(`secret ${secret} not found`, 'SecretMissing');
        return ref(secret);
      }),
      stagePendingCredential: on('stagePendingCredential', ({ rotationId }: { rotationId: string }) => {
        if (w.pending?.rotationId !== rotationId) w.pending = { password: w.newPassword(), rotationId };
        return ref(`${w.secret}-pending`);
      }),
      backupCurrentCredential: on('backupCurrentCredential', ({ rotationId }: { rotationId: string }) => {
        if (w.backup?.rotationId !== rotationId) w.backup = { password: w.live, rotationId };
        return ref(`${w.secret}-backup`);
      }),
      backupRoleVerifier: on('backupRoleVerifier', () => {
        const saved = !w.backup!.verifier;
        w.backup!.verifier ??= w.accepted;
        return { saved };
      }),
      setRolePassword: on('setRolePassword', () => {
        w.accepted = w.pending!.password;
        return { as: `${w.secret}-backup` };
      }),
      restoreRoleVerifier: on('restoreRoleVerifier', () => {
        if (!w.backup?.verifier) return null;
        w.accepted = w.backup.verifier;
        return { as: `${w.secret}-pending` };
      }),
      promotePendingCredential: on('promotePendingCredential', () => {
        w.live = w.pending!.password;
        return ref(w.secret);
      }),
      restoreBackupCredential: on('restoreBackupCredential', () => {
        if (w.backup) w.live = w.backup.password;
        return ref(w.secret);
      }),
      removeCredentialVersions: on(
        'removeCredentialVersions',
        ({ versions }: { versions: Array<'pending' | 'backup'> }) => {
          for (const v of versions) w[v] = undefined;
        },
      ),
      waitPostgresLogin: on(
        'waitPostgresLogin',
        ({ secret, expect }: { secret: string; expect: 'accepted' | 'refused' }) => {
          const outcome = passwordIn(secret) === w.accepted ? 'accepted' : 'refused';
          if (outcome !== expect)
            throw ApplicationFailure.nonRetryable(`login with ${secret} ${outcome}`, 'PostgresLoginUnexpected');
          return { secret, outcome, waitedMs: 0 };
        },
      ),
      roleSessionsSince: on('roleSessionsSince', () => ({ kept: w.sessions.size, total: w.sessions.size })),
      terminateRoleSessions: on('terminateRoleSessions', () => {
        const terminated = w.sessions.size;
        w.sessions.clear();
        return { terminated };
      }),
      rollWorkload: on('rollWorkload', () => ({ ready: 1 })),
      appendAudit: async (event: AuditEvent) => {
        w.audit.push(event);
        return { hash: 'h', duplicate: false };
      },
    };
    return stubs as unknown as Activities;
  }
}
