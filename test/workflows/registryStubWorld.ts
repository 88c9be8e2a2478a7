import { ApplicationFailure } from '@temporalio/activity';
import type { Activities } from '../../activities/index.js';
import { createPlanActivities } from '../../activities/plans.js';
import type { AuditEvent } from '../../activities/audit.js';
import { Gates, stubbedWith } from './gates.js';

interface Cred {
  user: string;
  password: string;
}
type Slot = 'current' | 'next' | 'previous';
type Account = Partial<Record<Slot, Cred>>;

const key = (c: Cred) => `${c.user}:${c.password}`;

/**
 * A Schema Registry, its secret and its one client (Kafka Connect's converter) in memory,
 * for workflow tests with stub activities. The registry accepts the users it read at its
 * last restart; the client uses the credential it read at its last task restart. Every time
 * the client's credential is not among the accepted ones it would get a 401, and that is
 * recorded: a rotation done right never records one.
 */
export class RegistryStubWorld {
  live: Account;
  pending: (Cred & { rotationId: string }) | undefined;
  backup: (Account & { rotationId: string }) | undefined;
  /** What the registry accepts now (read at its last restart). */
  accepted: Cred[];
  /** What the converter authenticates with (read at its last task restart). */
  client: Cred;
  subjects = [
    { subject: 'ecommerce.public.orders-value', level: 'BACKWARD' },
    { subject: 'ecommerce.public.users-value', level: 'BACKWARD' },
  ];
  canaries = new Set<string>();
  /** Every moment the client's credential was refused (would be an HTTP 401). */
  unauthorized: string[] = [];
  calls: string[] = [];
  /** Other connectors that authenticate as the account (the S3 sink reads probe's), with the credential each uses. */
  readonly otherClients = new Map<string, Cred>();
  /** Connectors with the account's user written into their config (not through a config provider). */
  literalClients: string[] = [];
  /** The registry's access log: the user of every request it authenticated (null: no access log configured). */
  accessLog: string[] | null = [];
  /** A client rekey does not know of (not a connector), still on the credential it read at the start. */
  stray?: Cred;
  /** The watch (settleMs) each restartFailedTasks call was given. */
  readonly clientWatches: Array<number | undefined> = [];
  audit: AuditEvent[] = [];
  /** Every password the world generated or holds: none may appear in a workflow history. */
  readonly passwords: string[] = [];
  failures = new Map<string, number>();
  readonly gates = new Gates();
  private seq = 0;

  constructor(
    readonly secret: string,
    readonly oldUser = 'developer',
  ) {
    this.live = { current: { user: oldUser, password: this.newPassword() } };
    this.accepted = [this.live.current!];
    this.client = this.live.current!;
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
      current: this.live.current?.user,
      next: this.live.next?.user ?? null,
      previous: this.live.previous?.user ?? null,
      pending: this.pending !== undefined,
      backup: this.backup !== undefined,
      accepted: this.accepted.map((c) => c.user).sort(),
      client: this.client.user,
      canaries: this.canaries.size,
      unauthorized: this.unauthorized,
    };
  }

  private newPassword(): string {
    const p = `sEcReT-${++this.seq}-${Math.random().toString(36).slice(2)}`;
    this.passwords.push(p);
    return p;
  }

  accepts(c: Cred | undefined): boolean {
    return c !== undefined && this.accepted.some((a) => key(a) === key(c));
  }

  /** The client talks to the registry (after either side restarted): a refusal is a 401. */
  private clientCalls(when: string): void {
    if (!this.accepts(this.client)) this.unauthorized.push(`${when}: ${this.client.user}`);
    for (const c of [this.client, ...this.otherClients.values(), ...(this.stray ? [this.stray] : [])])
      if (this.accepts(c)) this.accessLog?.push(c.user);
  }

  private credOf(slot: Slot | 'backup'): Cred {
    const c = slot === 'backup' ? this.backup?.current : this.live[slot];
    if (!c) throw ApplicationFailure.nonRetryable(`no ${slot} credentials`, 'NoSuchCredential');
    return c;
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
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the stubs below read as "the world"
    const w = this;
    const on = stubbedWith((name) => w.enter(name));
    const status = (slot: Slot | 'backup') => ({
      user: w.credOf(slot).user,
      status: w.accepts(w.credOf(slot)) ? 200 : 401,
    });
    const connector = () => ({
      connector: 'c',
      state: 'RUNNING',
      tasks: [{ id: 0, state: w.accepts(w.client) ? 'RUNNING' : 'FAILED' }],
    });
    const stubs = {
      ...createPlanActivities({ testHooks }),
      describeRegistryAccount: on(
        'describeRegistryAccount',
        ({ secret, account }: { secret: string; account: string }) => ({
          secret,
          account,
          user: w.credOf('current').user,
          fingerprint: `fp-${w.seq}`,
          store: 'memory',
          next: w.live.next?.user ?? null,
          previous: w.live.previous?.user ?? null,
        }),
      ),
      registryAuth: on('registryAuth', ({ slot }: { slot: Slot | 'backup' }) => status(slot)),
      waitRegistryAuth: on(
        'waitRegistryAuth',
        ({ slot, expectStatus }: { slot: Slot | 'backup'; expectStatus: number }) => {
          const s = status(slot);
          if (s.status !== expectStatus)
            throw ApplicationFailure.nonRetryable(
              `registry answered ${slot} user with HTTP ${s.status}, not ${expectStatus}`,
              'RegistryAuthWait',
            );
          return { ...s, waitedMs: 0 };
        },
      ),
      registryCompatibility: on('registryCompatibility', ({ subjectPrefix }: { subjectPrefix: string }) => {
        if (!w.accepts(w.live.current))
          throw ApplicationFailure.nonRetryable('listing subjects answered HTTP 401', 'RegistryRequestFailed');
        return { subjects: w.subjects.filter((s) => s.subject.startsWith(subjectPrefix)) };
      }),
      registryLookup: on('registryLookup', ({ subject }: { subject: string }) => {
        const c = w.credOf('current');
        if (!w.accepts(c) || !w.subjects.some((s) => s.subject === subject))
          throw ApplicationFailure.nonRetryable(`lookup of ${subject} as ${c.user} failed`, 'RegistryLookupFailed');
        return { user: c.user, subject, version: 3, id: 7 };
      }),
      stageRegistryUser: on(
        'stageRegistryUser',
        ({
          secret,
          account,
          newUser,
          rotationId,
        }: {
          secret: string;
          account: string;
          newUser: string;
          rotationId: string;
        }) => {
          if (w.pending?.rotationId !== rotationId)
            w.pending = { user: newUser, password: w.newPassword(), rotationId };
          return { secret: `${secret}-pending`, account, user: w.pending.user, fingerprint: `fp-${w.seq}` };
        },
      ),
      acceptRegistryUser: on('acceptRegistryUser', ({ secret, account }: { secret: string; account: string }) => {
        w.live.next = { user: w.pending!.user, password: w.pending!.password };
        return { secret, account, user: w.live.next.user, fingerprint: `fp-${++w.seq}` };
      }),
      forgetRegistryUser: on(
        'forgetRegistryUser',
        ({ slot }: { slot: 'next' | 'previous' }) => void delete w.live[slot],
      ),
      promoteRegistryUser: on('promoteRegistryUser', ({ rotationId }: { rotationId: string }) => {
        if (!w.live.next) throw ApplicationFailure.nonRetryable('no staged user to promote', 'NothingToPromote');
        w.backup = { ...w.live, rotationId };
        w.live = { current: w.live.next, previous: w.live.current };
        return { user: w.live.current!.user, previousUser: w.live.previous!.user };
      }),
      restoreRegistryBackup: on('restoreRegistryBackup', () => {
        if (w.backup) w.live = { current: w.backup.current, next: w.backup.next, previous: w.backup.previous };
      }),
      restartRegistry: on('restartRegistry', () => {
        w.accepted = (['current', 'next', 'previous'] as const)
          .map((s) => w.live[s])
          .filter((c): c is Cred => c !== undefined);
        w.clientCalls('after a registry restart');
      }),
      connectorStatus: on('connectorStatus', connector),
      restartConnector: on('restartConnector', ({ connector: name }: { connector: string }) => {
        if (w.otherClients.has(name)) return void w.otherClients.set(name, w.live.current!);
        w.client = w.live.current!;
        w.clientCalls('after a task restart');
      }),
      registryAccessLogMark: on('registryAccessLogMark', () =>
        w.accessLog ? { source: 'stub', offset: w.accessLog.length } : null,
      ),
      registryRequestsBy: on(
        'registryRequestsBy',
        ({ users, from }: { users: string[]; from: { offset: number } }) => ({
          source: 'stub',
          lines: (w.accessLog ?? []).length - from.offset,
          requests: Object.fromEntries(
            users.map((u) => [u, (w.accessLog ?? []).slice(from.offset).filter((x) => x === u).length]),
          ),
        }),
      ),
      registryAccountClients: on('registryAccountClients', () => ({
        clients: ['postgres-cdc-users-connector', ...w.otherClients.keys()].sort(),
        literal: w.literalClients,
      })),
      restartFailedTasks: on(
        'restartFailedTasks',
        ({ settleMs }: { settleMs?: number }) => (w.clientWatches.push(settleMs), { restarted: [] as number[] }),
      ),
      waitConnectorRunning: on('waitConnectorRunning', () => {
        if (!w.accepts(w.client))
          throw ApplicationFailure.nonRetryable(
            'task 0 FAILED: 401 Unauthorized from the registry',
            'ConnectorTaskFailed',
          );
        return connector();
      }),
      writeCanary: on(
        'writeCanary',
        ({ marker }: { marker: string }) => (w.canaries.add(marker), { marker, lsn: '0/3' }),
      ),
      removeCanary: on('removeCanary', ({ marker }: { marker: string }) => void w.canaries.delete(marker)),
      waitSlotPast: on('waitSlotPast', () => ({ confirmedFlushLsn: '0/4' })),
      awaitCanaryEvent: on('awaitCanaryEvent', () => {
        if (!w.accepts(w.client))
          throw ApplicationFailure.nonRetryable(
            'no canary: the converter is refused by the registry',
            'CanaryEventNotSeen',
          );
        w.clientCalls('serializing the canary');
        return { partition: 0, offset: '7' };
      }),
      removeCredentialVersions: on(
        'removeCredentialVersions',
        ({ versions }: { versions: Array<'pending' | 'backup'> }) => {
          for (const v of versions) w[v] = undefined;
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
