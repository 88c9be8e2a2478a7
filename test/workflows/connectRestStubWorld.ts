import { ApplicationFailure } from '@temporalio/activity';
import type { Activities } from '../../activities/index.js';
import { createPlanActivities } from '../../activities/plans.js';
import type { AuditEvent } from '../../activities/audit.js';
import { getProperties } from 'properties-file';
import { acceptedUsers, passwordOf, removeUser, upsertUser } from '../../activities/connectRestUsersFile.js';
import { recordedWithFailures, stubbedWith } from './gates.js';

interface Credential {
  username: string;
  password: string;
}
type Versioned = Credential & { rotationId: string; users?: string };

/**
 * Kafka Connect's REST API behind basic authentication, in memory: the secret (what clients
 * send, and the users file Connect mounts), its -pending/-backup, and the worker, which accepts
 * the users its file listed at its last restart (the login module caches the file per JVM).
 */
export class ConnectRestStubWorld {
  readonly secret: string;
  live: Credential;
  usersFile: string;
  pending: Versioned | undefined;
  backup: Versioned | undefined;
  /** user → password, as the worker loaded them at its last restart. */
  loaded = new Map<string, string>();
  restarts = 0;
  /** The basic-auth extension is installed (an unknown user gets 401). */
  checksPasswords = true;
  /** rekey's own client reads this secret (null: rekey sends no credential; another name: a separate user). */
  rekeySecret: string | null;
  calls: string[] = [];
  audit: AuditEvent[] = [];
  readonly passwords: string[] = [];
  failures = new Map<string, number>();

  constructor(secret: string) {
    this.secret = secret;
    this.rekeySecret = secret;
    this.live = { username: 'connect-admin', password: this.newPassword() };
    this.usersFile = `# users of Connect's REST API\n${this.live.username}=${this.live.password}\nmonitoring=keep-me\n`;
    this.restart();
  }

  private newPassword(): string {
    const p = `pw-${Math.random().toString(36).slice(2)}-${Date.now()}`;
    this.passwords.push(p);
    return p;
  }

  restart(): void {
    // what the worker's PropertyFileLoginModule loads: java.util.Properties
    this.loaded = new Map(Object.entries(getProperties(this.usersFile)));
  }

  accepts(c: Credential | undefined): boolean {
    return c !== undefined && this.loaded.get(c.username) === c.password;
  }

  state() {
    return {
      secret: this.live.username,
      file: acceptedUsers(this.usersFile).sort(),
      accepted: [...this.loaded.keys()].sort(),
      pending: Boolean(this.pending),
      backup: Boolean(this.backup),
    };
  }

  activities(testHooks = true): Activities {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the stubs below read as "the world"
    const w = this;
    const on = stubbedWith(recordedWithFailures(w));
    const inSecret = (secret: string): Credential | undefined =>
      secret.endsWith('-pending') ? w.pending : secret.endsWith('-backup') ? w.backup : w.live;
    const ref = (secret: string, c: Credential) => ({ secret, user: c.username, fingerprint: `fp-${c.username}` });
    const running = () => ({ connectors: 2, tasks: 2, notRunning: [] as string[] });
    const status = (secret: string) => {
      const c = inSecret(secret)!;
      return { user: c.username, status: w.accepts(c) ? 200 : 401 };
    };
    const stubs = {
      ...createPlanActivities({ testHooks }),
      describeConnectRestUsers: on('describeConnectRestUsers', () => ({
        user: w.live.username,
        users: acceptedUsers(w.usersFile),
        fileMatchesSecret: passwordOf(w.usersFile, w.live.username) === w.live.password,
        strangerStatus: w.checksPasswords ? 401 : 200,
        rekey: w.rekeySecret
          ? { secret: w.rekeySecret, user: w.rekeySecret === w.secret ? w.live.username : 'rekey' }
          : null,
      })),
      describeCredential: on('describeCredential', ({ secret }: { secret: string }) => {
        const c = inSecret(secret);
        if (!c) throw ApplicationFailure.nonRetryable(`secret ${secret} not found`, 'SecretMissing');
        return ref(secret, c);
      }),
      connectRestAuth: on('connectRestAuth', ({ secret }: { secret: string }) => status(secret)),
      connectorsRunning: on('connectorsRunning', running),
      waitAllConnectorsRunning: on('waitAllConnectorsRunning', () => {
        if (w.rekeySecret === w.secret && !w.accepts(w.live))
          throw ApplicationFailure.nonRetryable("Kafka Connect refused rekey's own credential", 'ConnectUnauthorized');
        return { connectors: 2, tasks: 2 };
      }),
      waitConnectRestAuth: on(
        'waitConnectRestAuth',
        ({ secret, expect }: { secret: string; expect: 'accepted' | 'refused' }) => {
          const s = status(secret);
          if ((s.status === 200) !== (expect === 'accepted'))
            throw ApplicationFailure.nonRetryable(
              `${s.user}: HTTP ${s.status}, not ${expect}`,
              'ConnectRestAuthUnexpected',
            );
          return { ...s, waitedMs: 0 };
        },
      ),
      stagePendingCredential: on(
        'stagePendingCredential',
        ({ newUser, rotationId }: { newUser: string; rotationId: string }) => {
          if (w.pending?.rotationId !== rotationId)
            w.pending = { username: newUser, password: w.newPassword(), rotationId };
          return ref(`${w.secret}-pending`, w.pending);
        },
      ),
      backupCurrentCredential: on('backupCurrentCredential', ({ rotationId }: { rotationId: string }) => {
        if (w.backup?.rotationId !== rotationId) w.backup = { ...w.live, rotationId, users: w.usersFile };
        return ref(`${w.secret}-backup`, w.backup);
      }),
      acceptConnectRestUser: on('acceptConnectRestUser', () => {
        w.usersFile = upsertUser(w.usersFile, w.pending!.username, w.pending!.password);
        return { users: acceptedUsers(w.usersFile), changed: true };
      }),
      dropConnectRestUser: on('dropConnectRestUser', ({ user }: { user: string }) => {
        w.usersFile = removeUser(w.usersFile, user);
        return { users: acceptedUsers(w.usersFile), changed: true };
      }),
      promotePendingCredential: on('promotePendingCredential', () => {
        w.live = { username: w.pending!.username, password: w.pending!.password };
        return ref(w.secret, w.live);
      }),
      restoreBackupCredential: on('restoreBackupCredential', () => {
        if (w.backup)
          [w.live, w.usersFile] = [{ username: w.backup.username, password: w.backup.password }, w.backup.users!];
        return ref(w.secret, w.live);
      }),
      removeCredentialVersions: on(
        'removeCredentialVersions',
        ({ versions }: { versions: Array<'pending' | 'backup'> }) => {
          for (const v of versions) w[v] = undefined;
        },
      ),
      restartConnectWorker: on('restartConnectWorker', () => {
        w.restarts++;
        w.restart();
      }),
      appendAudit: async (event: AuditEvent) => {
        w.audit.push(event);
        return { hash: 'h', duplicate: false };
      },
    };
    return stubs as unknown as Activities;
  }
}
