import { ApplicationFailure } from '@temporalio/activity';
import type { Activities } from '../../activities/index.js';
import { createPlanActivities } from '../../activities/plans.js';
import type { AuditEvent } from '../../activities/audit.js';
import { recordedWithFailures, stubbedWith } from './gates.js';

interface Principal {
  username: string;
  password: string;
}
type Versioned = Principal & { rotationId: string };

/**
 * A Kafka cluster's SCRAM users and ACLs, the principal's secret (and its -pending/-backup)
 * and the Connect worker in memory. The worker logs in with what the secret held at its last
 * restart, and its producer works only while the broker accepts that login.
 */
export class ScramStubWorld {
  readonly secret: string;
  /** user → password (the broker's SCRAM credentials). */
  scram = new Map<string, string>();
  acls = new Map<string, string[]>();
  live: Principal;
  pending: Versioned | undefined;
  backup: Versioned | undefined;
  /** Whom the Connect worker logged in as at its last restart. */
  worker: Principal;
  restarts = 0;
  canaryRows = new Set<string>();
  /** The authorizer log: the user of each request the broker authorized (null: no log configured). */
  authorizerLog: string[] | null = [];
  /** A client rekey does not know of, still using a principal, whenever the pipeline works. */
  otherClient: Principal | null = null;
  calls: string[] = [];
  audit: AuditEvent[] = [];
  readonly passwords: string[] = [];
  failures = new Map<string, number>();

  constructor(secret: string) {
    this.secret = secret;
    this.live = { username: 'kafka-connect', password: this.newPassword() };
    this.scram.set(this.live.username, this.live.password);
    this.acls.set(this.live.username, ['ALLOW ALL TOPIC ecommerce.*', 'ALLOW ALL GROUP rekey-connect*']);
    this.worker = { ...this.live };
  }

  private newPassword(): string {
    const p = `pw-${Math.random().toString(36).slice(2)}-${Date.now()}`;
    this.passwords.push(p);
    return p;
  }

  /** The pipeline works: the worker's clients (and any other client) make requests the broker logs. */
  work(): void {
    for (const p of [this.worker, this.otherClient])
      if (p && this.accepts(p)) this.authorizerLog?.push(p.username, p.username);
  }

  accepts(p: Principal | undefined): boolean {
    return p !== undefined && this.scram.get(p.username) === p.password;
  }

  state() {
    return {
      secret: this.live.username,
      users: [...this.scram.keys()].sort(),
      worker: this.worker.username,
      workerAccepted: this.accepts(this.worker),
      pending: Boolean(this.pending),
      backup: Boolean(this.backup),
    };
  }

  activities(testHooks = true): Activities {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the stubs below read as "the world"
    const w = this;
    const on = stubbedWith(recordedWithFailures(w));
    const inSecret = (secret: string): Principal | undefined =>
      secret.endsWith('-pending') ? w.pending : secret.endsWith('-backup') ? w.backup : w.live;
    const connector = () => ({
      connector: 'postgres-cdc-users-connector',
      state: 'RUNNING',
      tasks: [{ id: 0, state: w.accepts(w.worker) ? 'RUNNING' : 'FAILED' }],
    });
    const ref = (secret: string, p: Principal) => ({ secret, user: p.username, fingerprint: `fp-${p.username}` });
    const stubs = {
      ...createPlanActivities({ testHooks }),
      describeKafkaPrincipal: on('describeKafkaPrincipal', ({ secret }: { secret: string }) => ({
        secret,
        user: w.live.username,
        scram: w.scram.has(w.live.username),
        acls: w.acls.get(w.live.username) ?? [],
      })),
      describeCredential: on('describeCredential', ({ secret }: { secret: string }) => {
        const p = inSecret(secret);
        if (!p) throw ApplicationFailure.nonRetryable(`secret ${secret} not found`, 'SecretMissing');
        return ref(secret, p);
      }),
      connectorStatus: on('connectorStatus', connector),
      stagePendingCredential: on(
        'stagePendingCredential',
        ({ newUser, rotationId }: { newUser: string; rotationId: string }) => {
          if (w.pending?.rotationId !== rotationId)
            w.pending = { username: newUser, password: w.newPassword(), rotationId };
          return ref(`${w.secret}-pending`, w.pending);
        },
      ),
      createKafkaPrincipal: on('createKafkaPrincipal', ({ likeUser }: { likeUser: string }) => {
        const p = w.pending!;
        w.scram.set(p.username, p.password);
        w.acls.set(p.username, [...(w.acls.get(likeUser) ?? [])]);
        return { user: p.username, acls: w.acls.get(likeUser)?.length ?? 0 };
      }),
      deleteKafkaPrincipal: on('deleteKafkaPrincipal', ({ user }: { user: string }) => {
        const acls = w.acls.get(user)?.length ?? 0;
        w.scram.delete(user);
        w.acls.delete(user);
        return { user, acls };
      }),
      waitKafkaLogin: on('waitKafkaLogin', ({ secret, expect }: { secret: string; expect: 'accepted' | 'refused' }) => {
        const p = inSecret(secret)!;
        const accepted = w.accepts(p);
        if (accepted !== (expect === 'accepted'))
          throw ApplicationFailure.nonRetryable(`login as ${p.username} not ${expect}`, 'KafkaLoginUnexpected');
        return { user: p.username, accepted, waitedMs: 0 };
      }),
      backupCurrentCredential: on('backupCurrentCredential', ({ rotationId }: { rotationId: string }) => {
        if (w.backup?.rotationId !== rotationId) w.backup = { ...w.live, rotationId };
        return ref(`${w.secret}-backup`, w.backup);
      }),
      promotePendingCredential: on('promotePendingCredential', () => {
        w.live = { username: w.pending!.username, password: w.pending!.password };
        return ref(w.secret, w.live);
      }),
      restoreBackupCredential: on('restoreBackupCredential', () => {
        if (w.backup) w.live = { username: w.backup.username, password: w.backup.password };
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
        w.worker = { ...w.live };
        if (!w.accepts(w.worker))
          throw ApplicationFailure.retryable(`task 0 FAILED: login as ${w.worker.username} refused`, 'TaskFailed');
      }),
      writeCanary: on('writeCanary', ({ marker }: { marker: string }) => {
        w.canaryRows.add(marker);
        return { marker, lsn: '0/16B3748' };
      }),
      removeCanary: on('removeCanary', ({ marker }: { marker: string }) => void w.canaryRows.delete(marker)),
      waitSlotPast: on('waitSlotPast', () => ({ confirmedFlushLsn: '0/16B3800' })),
      kafkaAuthorizerLogMark: on('kafkaAuthorizerLogMark', () =>
        w.authorizerLog ? { source: 'stub', offset: w.authorizerLog.length } : null,
      ),
      kafkaRequestsBy: on('kafkaRequestsBy', ({ users, from }: { users: string[]; from: { offset: number } }) => {
        w.work();
        const since = (w.authorizerLog ?? []).slice(from.offset);
        return {
          source: 'stub',
          requests: Object.fromEntries(users.map((u) => [u, since.filter((x) => x === u).length])),
          lines: since.length,
        };
      }),
      awaitCanaryEvent: on('awaitCanaryEvent', () => {
        w.work();
        if (!w.accepts(w.worker))
          throw ApplicationFailure.nonRetryable('no canary: the producer is refused', 'NoCanary');
        return { partition: 0, offset: '42' };
      }),
      appendAudit: async (event: AuditEvent) => {
        w.audit.push(event);
        return { hash: 'h', duplicate: false };
      },
    };
    return stubs as unknown as Activities;
  }
}
