import { ApplicationFailure } from '@temporalio/activity';
import type { Activities } from '../../activities/index.js';
import { createPlanActivities } from '../../activities/plans.js';
import type { AuditEvent } from '../../activities/audit.js';
import { Gates, stubbedWith } from './gates.js';

/**
 * A pipeline in memory, for workflow tests with stub activities: secrets, roles, who
 * streams, the canary table. Stubs change it the way the real systems would, so a test
 * can assert the end state an operator would check (store clean, old user streaming…).
 */
export class StubWorld {
  secrets = new Map<string, { user: string; fp: string; rotationId?: string }>();
  roles = new Map<string, { createdBy: string | null; validUntil: string | null }>();
  streaming: string;
  canaries = new Set<string>();
  calls: string[] = [];
  /** Other connectors that read the secret (another slot), with the user each streams as. */
  readonly otherReaders = new Map<string, string>();
  audit: AuditEvent[] = [];
  /** activity name → how many more calls fail (Infinity: always). */
  failures = new Map<string, number>();
  /** activity name → a promise the stub waits on before acting (to hold a rotation in a phase). */
  readonly gates = new Gates();

  private seq = 0;

  constructor(
    readonly secret: string,
    readonly oldUser = 'debezium_20260101_0000',
  ) {
    this.secrets.set(secret, { user: oldUser, fp: 'fp-old' });
    this.roles.set(oldUser, { createdBy: null, validUntil: null });
    this.streaming = oldUser;
  }

  failTimes(activity: string, times = Infinity): void {
    this.failures.set(activity, times);
  }

  /** Holds `activity` until the returned function is called. */
  gate(activity: string): () => void {
    return this.gates.gate(activity);
  }

  /** Resolves once a call of `activity` waits at its gate. */
  reached(activity: string): Promise<void> {
    return this.gates.reached(activity);
  }

  state() {
    return {
      current: this.secrets.get(this.secret)?.user,
      pending: this.secrets.has(`${this.secret}-pending`),
      backup: this.secrets.has(`${this.secret}-backup`),
      roles: [...this.roles.keys()].sort(),
      oldValidUntil: this.roles.get(this.oldUser)?.validUntil ?? null,
      streaming: this.streaming,
      canaries: this.canaries.size,
    };
  }

  private async enter(name: string): Promise<void> {
    this.calls.push(name);
    await this.gates.pass(name);
    const left = this.failures.get(name) ?? 0;
    if (left > 0) {
      this.failures.set(name, left - 1);
      throw ApplicationFailure.nonRetryable(`stub failure in ${name}`, 'StubFailure');
    }
  }

  activities(testHooks = true): Activities {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the stubs below read as "the world" (w.secrets, w.roles)
    const w = this;
    const s = (name: string) => w.secrets.get(name);
    const on = stubbedWith((name) => w.enter(name));
    const ok = { state: 'RUNNING', connector: 'c', tasks: [{ id: 0, state: 'RUNNING' }] };
    const applyCurrent = () => void (w.streaming = s(w.secret)!.user);
    const stubs = {
      ...createPlanActivities({ testHooks }),

      inspectReplication: on('inspectReplication', () => ({
        walLevel: 'logical',
        maxReplicationSlots: 10,
        slot: {
          name: 'debezium_slot',
          exists: true,
          active: true,
          activePid: 1,
          confirmedFlushLsn: '0/1',
          lagBytes: 0,
        },
        streamingUser: w.streaming,
        lagSeconds: { write: null, flush: null, replay: null },
      })),
      connectorStatus: on('connectorStatus', () => ok),
      connectorBinding: on('connectorBinding', () => ({
        slot: 'debezium_slot',
        credentialRefs: [
          `\${dir:/run/secrets/${w.secret}:db-username}`,
          `\${dir:/run/secrets/${w.secret}:db-password}`,
        ],
      })),
      describeCredential: on('describeCredential', ({ secret }: { secret: string }) => ({
        secret,
        user: s(secret)!.user,
        fingerprint: s(secret)!.fp,
      })),
      memoryHeadroom: on('memoryHeadroom', () => ({
        availablePercent: 80,
        availableBytes: 8,
        totalBytes: 10,
        nodesUnderPressure: [],
      })),
      stagePendingCredential: on(
        'stagePendingCredential',
        ({ secret, newUser, rotationId }: { secret: string; newUser: string; rotationId: string }) => {
          w.secrets.set(`${secret}-pending`, { user: newUser, fp: `fp-${++w.seq}`, rotationId });
          return { secret: `${secret}-pending`, user: newUser, fingerprint: s(`${secret}-pending`)!.fp };
        },
      ),
      createRoleFromSecret: on(
        'createRoleFromSecret',
        ({ secret, rotationId }: { secret: string; rotationId: string }) => {
          const role = s(secret)!.user;
          const created = !w.roles.has(role);
          w.roles.set(role, { createdBy: rotationId, validUntil: null });
          return { role, created };
        },
      ),
      describeRole: on('describeRole', ({ role }: { role: string }) => ({
        name: role,
        exists: w.roles.has(role),
        canLogin: true,
        replication: true,
        memberOf: ['debezium_parent'],
        validUntil: w.roles.get(role)?.validUntil ?? null,
        directGrants: [],
        createdByRotation: w.roles.get(role)?.createdBy ?? null,
      })),
      testTableAccess: on('testTableAccess', () => ({ tables: ['public.users', 'public.orders'] })),
      testReplicationLogin: on('testReplicationLogin', () => ({ systemId: '1', user: 'x' })),
      backupCurrentCredential: on('backupCurrentCredential', ({ secret }: { secret: string }) => {
        w.secrets.set(`${secret}-backup`, { ...s(secret)! });
        return { secret: `${secret}-backup`, user: s(secret)!.user, fingerprint: s(secret)!.fp };
      }),
      limitRoleValidity: on('limitRoleValidity', ({ role, until }: { role: string; until: string | null }) => {
        const r = w.roles.get(role)!;
        const previous = r.validUntil;
        r.validUntil = until;
        return { previous };
      }),
      pauseConnector: on('pauseConnector', () => ok),
      resumeConnector: on('resumeConnector', () => ok),
      waitConnectorRunning: on('waitConnectorRunning', () => ok),
      restartConnector: on('restartConnector', ({ connector }: { connector: string }) =>
        w.otherReaders.has(connector) ? void w.otherReaders.set(connector, s(w.secret)!.user) : applyCurrent(),
      ),
      secretReaders: on('secretReaders', () => ({
        readers: ['postgres-cdc-users-connector', ...w.otherReaders.keys()].sort(),
      })),
      restartConnectWorker: on('restartConnectWorker', applyCurrent),
      promotePendingCredential: on('promotePendingCredential', ({ secret }: { secret: string }) => {
        w.secrets.set(secret, { ...s(`${secret}-pending`)! });
        return { secret, user: s(secret)!.user, fingerprint: s(secret)!.fp };
      }),
      restoreBackupCredential: on('restoreBackupCredential', ({ secret }: { secret: string }) => {
        const backup = s(`${secret}-backup`);
        if (backup) w.secrets.set(secret, { ...backup });
        return { secret, user: s(secret)!.user, fingerprint: s(secret)!.fp };
      }),
      waitStreamingUser: on('waitStreamingUser', ({ user }: { user: string }) => {
        if (w.streaming !== user)
          throw ApplicationFailure.nonRetryable(
            `streamed by ${w.streaming}, expected ${user}`,
            'UnexpectedStreamingUser',
          );
        return {
          walLevel: 'logical',
          maxReplicationSlots: 10,
          slot: {
            name: 'debezium_slot',
            exists: true,
            active: true,
            activePid: 2,
            confirmedFlushLsn: '0/2',
            lagBytes: 0,
          },
          streamingUser: user,
          lagSeconds: { write: null, flush: null, replay: null },
        };
      }),
      writeCanary: on(
        'writeCanary',
        ({ marker }: { marker: string }) => (w.canaries.add(marker), { marker, lsn: '0/3' }),
      ),
      removeCanary: on('removeCanary', ({ marker }: { marker: string }) => void w.canaries.delete(marker)),
      waitSlotPast: on('waitSlotPast', () => ({ confirmedFlushLsn: '0/4' })),
      awaitCanaryEvent: on('awaitCanaryEvent', () => ({ partition: 0, offset: '7' })),
      retireRole: on('retireRole', ({ role }: { role: string }) => {
        if (w.streaming === role) throw ApplicationFailure.retryable(`${role} still streams`, 'RoleStillStreaming');
        return { dropped: w.roles.delete(role), terminated: 0 };
      }),
      dropRoleCreatedBy: on('dropRoleCreatedBy', ({ role, rotationId }: { role: string; rotationId: string }) => {
        if (w.roles.get(role)?.createdBy !== rotationId)
          return { dropped: false, reason: 'not created by this rotation' };
        return { dropped: w.roles.delete(role) };
      }),
      removeCredentialVersions: on(
        'removeCredentialVersions',
        ({ secret, versions }: { secret: string; versions: string[] }) => {
          for (const v of versions) w.secrets.delete(`${secret}-${v}`);
        },
      ),
      appendAudit: async (event: AuditEvent) => {
        if (w.failures.get('appendAudit'))
          throw ApplicationFailure.nonRetryable('audit volume full', 'AuditUnavailable');
        w.audit.push(event);
        return { hash: 'h', duplicate: false };
      },
    };
    return stubs as unknown as Activities;
  }
}
