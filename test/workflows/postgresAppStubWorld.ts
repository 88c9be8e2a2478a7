import { ApplicationFailure } from '@temporalio/activity';
import type { Activities } from '../../activities/index.js';
import { createPlanActivities } from '../../activities/plans.js';
import type { AuditEvent } from '../../activities/audit.js';
import { recordedWithFailures, stubbedWith } from './gates.js';

type Login = { user: string; password: string };
type Versioned = Login & { rotationId: string };

/**
 * An application's PostgreSQL logins in memory: the login roles (members of the owner role),
 * the application's secret (and its -pending/-backup), and the application's pods, which log in
 * with what the secret held when they last started.
 */
export class PostgresAppStubWorld {
  readonly secret: string;
  readonly owner = 'orders_owner';
  /** role → password; every one a member of the owner role that sets it on login, unless listed in `bare`. */
  roles = new Map<string, string>();
  bare = new Set<string>();
  live: Login;
  pending: Versioned | undefined;
  backup: Versioned | undefined;
  /** Whom the application's pods logged in as at their last start. */
  app: Login;
  /** Another client of the old login the roll does not move (its sessions keep the old role busy). */
  straggler = false;
  rolls = 0;
  calls: string[] = [];
  audit: AuditEvent[] = [];
  readonly passwords: string[] = [];
  failures = new Map<string, number>();

  constructor(secret: string) {
    this.secret = secret;
    this.live = { user: 'orders_app', password: this.newPassword() };
    this.roles.set(this.live.user, this.live.password);
    this.app = { ...this.live };
  }

  private newPassword(): string {
    const p = `pw-${Math.random().toString(36).slice(2)}-${Date.now()}`;
    this.passwords.push(p);
    return p;
  }

  sessions(): Record<string, number> {
    const s: Record<string, number> = {};
    if (this.roles.get(this.app.user) === this.app.password) s[this.app.user] = 2;
    if (this.straggler && this.backup) s[this.backup.user] = (s[this.backup.user] ?? 0) + 1;
    return s;
  }

  state() {
    return {
      secret: this.live.user,
      roles: [...this.roles.keys()].sort(),
      app: this.app.user,
      pending: Boolean(this.pending),
      backup: Boolean(this.backup),
    };
  }

  activities(testHooks = true): Activities {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the stubs below read as "the world"
    const w = this;
    const on = stubbedWith(recordedWithFailures(w));
    const inSecret = (secret: string): Login | undefined =>
      secret.endsWith('-pending') ? w.pending : secret.endsWith('-backup') ? w.backup : w.live;
    const ref = (secret: string) => ({
      secret,
      user: inSecret(secret)!.user,
      fingerprint: `fp-${inSecret(secret)!.user}`,
    });
    const stubs = {
      ...createPlanActivities({ testHooks }),
      describeAppLogin: on('describeAppLogin', () => ({
        user: w.live.user,
        exists: w.roles.has(w.live.user),
        superuser: false,
        ownerExists: true,
        ownerCanLogin: false,
        memberOfOwner: !w.bare.has(w.live.user),
        setsOwnerRole: !w.bare.has(w.live.user),
        sessions: w.sessions(),
      })),
      describeCredential: on('describeCredential', ({ secret }: { secret: string }) => {
        if (!inSecret(secret)) throw ApplicationFailure.nonRetryable(`secret ${secret} not found`, 'SecretMissing');
        return ref(secret);
      }),
      stagePendingCredential: on(
        'stagePendingCredential',
        ({ newUser, rotationId }: { newUser: string; rotationId: string }) => {
          if (w.pending?.rotationId !== rotationId)
            w.pending = { user: newUser, password: w.newPassword(), rotationId };
          return ref(`${w.secret}-pending`);
        },
      ),
      createAppRole: on('createAppRole', () => {
        const created = !w.roles.has(w.pending!.user);
        w.roles.set(w.pending!.user, w.pending!.password);
        return { role: w.pending!.user, created };
      }),
      dropRoleCreatedBy: on('dropRoleCreatedBy', ({ role }: { role: string }) => ({ dropped: w.roles.delete(role) })),
      waitPostgresLogin: on(
        'waitPostgresLogin',
        ({ secret, expect }: { secret: string; expect: 'accepted' | 'refused' }) => {
          const l = inSecret(secret)!;
          const outcome = w.roles.get(l.user) === l.password ? 'accepted' : 'refused';
          if (outcome !== expect)
            throw ApplicationFailure.nonRetryable(`login with ${secret}: ${outcome}`, 'PostgresLoginUnexpected');
          return { secret, outcome, waitedMs: 0 };
        },
      ),
      backupCurrentCredential: on('backupCurrentCredential', ({ rotationId }: { rotationId: string }) => {
        if (w.backup?.rotationId !== rotationId) w.backup = { ...w.live, rotationId };
        return ref(`${w.secret}-backup`);
      }),
      promotePendingCredential: on('promotePendingCredential', () => {
        w.live = { user: w.pending!.user, password: w.pending!.password };
        return ref(w.secret);
      }),
      restoreBackupCredential: on('restoreBackupCredential', () => {
        if (w.backup) w.live = { user: w.backup.user, password: w.backup.password };
        return ref(w.secret);
      }),
      rollWorkload: on('rollWorkload', () => {
        w.rolls++;
        w.app = { ...w.live };
        return { ready: 1 };
      }),
      waitAppSessionsMoved: on('waitAppSessionsMoved', ({ oldUser, newUser }: { oldUser: string; newUser: string }) => {
        const s = w.sessions();
        if (!s[newUser] || s[oldUser])
          throw ApplicationFailure.nonRetryable(`sessions did not move: ${JSON.stringify(s)}`, 'AppSessionsNotMoved');
        return { sessions: s, waitedMs: 0 };
      }),
      retireRole: on('retireRole', ({ role, sessions }: { role: string; sessions: 'refuse' | 'terminate' }) => {
        if (sessions === 'refuse' && w.sessions()[role])
          throw ApplicationFailure.retryable(`role ${role} still has sessions`, 'RoleInUse');
        return { dropped: w.roles.delete(role), terminated: 0 };
      }),
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
