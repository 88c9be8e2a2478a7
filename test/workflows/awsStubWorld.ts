import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Activities } from '../../activities/index.js';
import { createPlanActivities } from '../../activities/plans.js';
import type { AuditEvent } from '../../activities/audit.js';
import { Gates, stubbedWith } from './gates.js';

interface Cred {
  id: string;
  secret: string;
}
interface Key extends Cred {
  status: 'Active' | 'Inactive';
  createdAt: number;
  lastUsed: number | null;
  /** S3 refuses the key this many more times (IAM's eventual consistency after a create or a reactivation). */
  refusalsLeft: number;
}
type Versioned = Cred & { rotationId: string };

/**
 * IAM, S3, the `aws-credentials` secret and the S3 sink in memory, for workflow tests with stub
 * activities. IAM enforces its two-key limit and records each key's last use; the sink signs
 * with the key it read at its last task restart, and each time it is asked to work (a wait
 * polls, a task runs) it writes an object, or is refused, which is recorded. `mode`: on moto
 * an Inactive key still authenticates; on AWS it is refused at once. Its clock is the test
 * server's (activity scheduled time), so it agrees with the workflow's, which skips time.
 */
export class AwsStubWorld {
  /** Its own IAM user: one rotation per user (the lease), and worlds of one test file run side by side. */
  readonly user: string;
  keys = new Map<string, Key>();
  live: Cred;
  pending: Versioned | undefined;
  backup: Versioned | undefined;
  /** What the sink signs with (read at its last task restart). */
  sink: Cred;
  /** No data flows: the sink runs but writes nothing. */
  sinkIdle = false;
  /** Another client that holds a key and uses it whenever the sink works (someone the runbook forgot). */
  otherClient: Cred | null = null;
  /** Every moment the other client was refused. */
  otherDenied: string[] = [];
  /** How many requests S3 refuses a key IAM just created or reactivated (real AWS: seconds of them; moto: none). */
  propagation = 0;
  /** After S3 accepted a key once, it refuses it this many more times (eventual consistency is not monotonic across endpoints). */
  refusalsAfterAccepted = 0;
  /** The sink's task failed on a refusal: it stays FAILED until its tasks are restarted (the sink does not retry a 403). */
  sinkFailed = false;
  objects: Array<{ key: string; at: number; marker?: string }> = [];
  /** What the sink consumes: by default the users topic and the canary topic (the canary proves the switch). */
  sinkTopics = ['ecommerce.public.users', 'ecommerce.public.rekey_canary'];
  /** Rows of public.rekey_canary (their markers). */
  canaryRows = new Set<string>();
  /** Every moment the sink was refused (would be AccessDenied / InvalidAccessKeyId). */
  denied: string[] = [];
  calls: string[] = [];
  audit: AuditEvent[] = [];
  /** Every secret access key the world holds or generated: none may appear in a history. */
  readonly secrets: string[] = [];
  failures = new Map<string, { skip: number; times: number }>();
  private clock = 0;
  private seq = 0;

  constructor(
    readonly secret: string,
    readonly mode: 'moto' | 'aws' = 'moto',
  ) {
    this.user = `datapipe-s3-user-${secret}`.slice(0, 64);
    this.live = this.createKey();
    this.sink = this.live;
  }

  get oldKey(): string {
    return this.live.id;
  }

  /** The `skip+1`-th … `skip+times`-th calls of `activity` fail. */
  failTimes(activity: string, times = 1, skip = 0): void {
    this.failures.set(activity, { skip, times });
  }

  /** A second key of the user (e.g. left over from an earlier rotation). */
  addKey(status: 'Active' | 'Inactive'): string {
    const k = this.createKey();
    this.keys.get(k.id)!.status = status;
    return k.id;
  }

  state() {
    return {
      secret: this.live.id,
      keys: [...this.keys.values()].map((k) => `${k.id}:${k.status}`),
      pending: this.pending !== undefined,
      backup: this.backup !== undefined,
      sink: this.sink.id,
      denied: this.denied,
    };
  }

  private now(): number {
    let server = Date.now();
    try {
      server = Context.current().info.currentAttemptScheduledTimestampMs;
    } catch {
      // outside an activity (constructor): real time
    }
    this.clock = Math.max(this.clock, server) + 1;
    return this.clock;
  }

  private createKey(): Cred {
    if (this.keys.size >= 2)
      throw ApplicationFailure.nonRetryable(
        'IAM CreateAccessKey: LimitExceeded (HTTP 409): Cannot exceed quota for AccessKeysPerUser: 2',
        'AccessKeyLimitExceeded',
      );
    const id = `AKIASTUB${String(++this.seq).padStart(4, '0')}${Math.random().toString(36).slice(2, 10).toUpperCase()}`;
    const secret = `sEcReT/${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
    this.secrets.push(secret);
    this.keys.set(id, {
      id,
      secret,
      status: 'Active',
      createdAt: this.now(),
      lastUsed: null,
      refusalsLeft: this.propagation,
    });
    return { id, secret };
  }

  /** A request signed with `c`: accepted (and recorded as the key's last use) or refused. */
  private signs(c: Cred, at: number): boolean {
    const k = this.keys.get(c.id);
    if (!k || k.secret !== c.secret || (this.mode === 'aws' && k.status === 'Inactive')) return false;
    if (k.refusalsLeft > 0) {
      k.refusalsLeft--;
      return false;
    }
    k.lastUsed = at;
    return true;
  }

  /** The sink does its work: one object written with its key, or refused. A canary record makes it work on an idle pipeline too. */
  private sinkWorks(when: string, marker?: string): void {
    if (this.sinkIdle && !marker) return;
    const at = this.now();
    if (this.otherClient && !this.signs(this.otherClient, at)) this.otherDenied.push(`${when}: ${this.otherClient.id}`);
    if (this.sinkFailed) return;
    if (this.signs(this.sink, at))
      this.objects.push({
        key: `topics/ecommerce.public.${marker ? 'rekey_canary' : 'users'}/partition=0/${at}.jsonl`,
        at,
        ...(marker ? { marker } : {}),
      });
    else {
      this.denied.push(`${when}: ${this.sink.id}`);
      this.sinkFailed = true;
    }
  }

  private key(id: string): Key {
    const k = this.keys.get(id);
    if (!k)
      throw ApplicationFailure.nonRetryable(
        `IAM: NoSuchEntity (HTTP 404): The Access Key with id ${id} cannot be found`,
        'AwsNotFound',
      );
    return k;
  }

  private newestSince(since: string) {
    const o = this.objects.filter((x) => x.at > Date.parse(since)).at(-1);
    return o ? { key: o.key, lastModified: new Date(o.at).toISOString() } : null;
  }

  /** activity name → a promise the stub waits on before acting (to hold a rotation at a step). */
  readonly gates = new Gates();

  /** Holds `activity` until the returned function is called. */
  gate(activity: string): () => void {
    return this.gates.gate(activity);
  }

  /** Resolves once a call of `activity` waits at its gate. */
  reached(activity: string): Promise<void> {
    return this.gates.reached(activity);
  }

  private async enter(name: string): Promise<void> {
    this.calls.push(name);
    await this.gates.pass(name);
    const f = this.failures.get(name);
    if (!f) return;
    if (f.skip > 0) f.skip--;
    else if (f.times > 0) {
      f.times--;
      throw ApplicationFailure.nonRetryable(`stub failure in ${name}`, 'StubFailure');
    }
  }

  activities(testHooks = true): Activities {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the stubs below read as "the world"
    const w = this;
    const on = stubbedWith((name) => w.enter(name));
    const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
    const lastUsed = (id: string) => ({
      lastUsedDate: iso(w.key(id).lastUsed),
      serviceName: w.key(id).lastUsed === null ? 'N/A' : 's3',
    });
    const sinkOk = () =>
      w.keys.get(w.sink.id)?.secret === w.sink.secret &&
      !(w.mode === 'aws' && w.keys.get(w.sink.id)?.status === 'Inactive');
    const connector = () => ({
      connector: 's3-sink-connector',
      state: 'RUNNING',
      tasks: [{ id: 0, state: sinkOk() && !w.sinkFailed ? 'RUNNING' : 'FAILED' }],
    });
    const restartTasks = () => {
      w.sink = w.live;
      w.sinkFailed = false;
    };
    const credIn = (secret: string): Cred | undefined =>
      secret.endsWith('-pending') ? w.pending : secret.endsWith('-backup') ? w.backup : w.live;
    const staged = (p: Versioned) => ({
      secret: `${w.secret}-pending`,
      accessKeyId: p.id,
      createDate: iso(w.key(p.id).createdAt)!,
      fingerprint: `fp-${p.id.slice(-4)}`,
    });
    const objectSince = ({ since }: { since: string }) => {
      w.sinkWorks('while the sink runs');
      const o = w.newestSince(since);
      if (!o)
        throw ApplicationFailure.nonRetryable(
          `no object under s3://datapipe-archive/topics/ after ${since} within 300 s: is the sink writing?`,
          'NoFreshObject',
        );
      return { ...o, waitedMs: 0 };
    };
    const stubs = {
      ...createPlanActivities({ testHooks }),
      describeAwsCredential: on('describeAwsCredential', ({ secret }: { secret: string }) => ({
        secret,
        accessKeyId: w.live.id,
        fingerprint: `fp-${w.live.id.slice(-4)}`,
        store: 'memory',
      })),
      listAccessKeys: on('listAccessKeys', () =>
        [...w.keys.values()].map((k) => ({ accessKeyId: k.id, status: k.status, createDate: iso(k.createdAt)! })),
      ),
      accessKeyLastUsed: on('accessKeyLastUsed', ({ accessKeyId }: { accessKeyId: string }) => lastUsed(accessKeyId)),
      setAccessKeyStatus: on(
        'setAccessKeyStatus',
        ({ accessKeyId, status }: { accessKeyId: string; status: 'Active' | 'Inactive' }) => {
          const k = w.key(accessKeyId);
          if (status === 'Active' && k.status === 'Inactive') k.refusalsLeft = w.propagation;
          k.status = status;
          return { accessKeyId, status };
        },
      ),
      deleteAccessKey: on('deleteAccessKey', ({ accessKeyId, onlyIf }: { accessKeyId: string; onlyIf?: string }) => {
        const k = w.keys.get(accessKeyId);
        if (!k) return { accessKeyId, deleted: false };
        if (onlyIf && k.status !== onlyIf)
          throw ApplicationFailure.nonRetryable(
            `access key ${accessKeyId} is ${k.status}, not ${onlyIf}: not deleted`,
            'AccessKeyStatusChanged',
          );
        w.keys.delete(accessKeyId);
        return { accessKeyId, deleted: true };
      }),
      createStagedAccessKey: on('createStagedAccessKey', ({ rotationId }: { rotationId: string }) => {
        if (w.pending?.rotationId !== rotationId) w.pending = { ...w.createKey(), rotationId };
        return staged(w.pending);
      }),
      discardStagedAccessKey: on('discardStagedAccessKey', ({ rotationId }: { rotationId: string }) => {
        if (w.pending?.rotationId !== rotationId) return { deleted: [] as string[] };
        if (w.pending.id === w.live.id)
          throw ApplicationFailure.nonRetryable(`secret still holds ${w.pending.id}`, 'AccessKeyInUse');
        const id = w.pending.id;
        w.keys.delete(id);
        w.pending = undefined;
        return { deleted: [id] };
      }),
      promoteAwsCredential: on('promoteAwsCredential', ({ rotationId }: { rotationId: string }) => {
        const p = w.pending;
        if (p?.rotationId !== rotationId)
          throw ApplicationFailure.nonRetryable('no key staged by this rotation', 'NothingToPromote');
        if (w.backup?.rotationId !== rotationId) w.backup = { ...w.live, rotationId };
        w.live = { id: p.id, secret: p.secret };
        return { accessKeyId: p.id, previousAccessKeyId: w.backup.id, fingerprint: `fp-${p.id.slice(-4)}` };
      }),
      restoreAwsCredential: on('restoreAwsCredential', () => {
        if (!w.backup) return { accessKeyId: w.live.id, restored: false };
        w.live = { id: w.backup.id, secret: w.backup.secret };
        return { accessKeyId: w.live.id, restored: true };
      }),
      waitAccessKeyUsedSince: on(
        'waitAccessKeyUsedSince',
        ({ accessKeyId, since }: { accessKeyId: string; since: string }) => {
          w.sinkWorks('while the sink runs');
          const u = lastUsed(accessKeyId);
          if (u.lastUsedDate === null || Date.parse(u.lastUsedDate) <= Date.parse(since))
            throw ApplicationFailure.nonRetryable(
              `access key ${accessKeyId} reported no use after ${since}`,
              'AccessKeyNotUsed',
            );
          return { ...u, waitedMs: 0 };
        },
      ),
      newestObjectSince: on('newestObjectSince', ({ since }: { since: string }) => w.newestSince(since)),
      waitObjectSince: on('waitObjectSince', objectSince),
      connectorTopics: on('connectorTopics', () => ({ topics: w.sinkTopics, regex: null })),
      writeCanary: on('writeCanary', ({ marker }: { marker: string }) => {
        w.canaryRows.add(marker);
        return { marker, lsn: '0/16B3748' };
      }),
      removeCanary: on('removeCanary', ({ marker }: { marker: string }) => void w.canaryRows.delete(marker)),
      waitCanaryArchived: on('waitCanaryArchived', ({ marker, since }: { marker: string; since: string }) => {
        w.canaryRows.add(marker); // the wait writes the row again
        if (w.sinkTopics.includes('ecommerce.public.rekey_canary')) w.sinkWorks('archiving the canary', marker);
        const o = w.objects.filter((x) => x.marker === marker && x.at > Date.parse(since)).at(-1);
        if (!o)
          throw ApplicationFailure.nonRetryable(
            `canary ${marker} written 1 time(s), not yet under s3://datapipe-archive/topics/ecommerce.public.rekey_canary/ within 300 s`,
            'CanaryNotArchived',
          );
        return { key: o.key, lastModified: new Date(o.at).toISOString(), waitedMs: 0, writes: 1 };
      }),
      watchOldKeyUnused: on(
        'watchOldKeyUnused',
        ({ accessKeyId, since, watchMs }: { accessKeyId: string; since: string; watchMs: number }) => {
          // the watch lasts watchMs: the world's clock moves on while the sink (and any other client) works
          for (let i = 0; i < 3; i++) {
            w.clock += watchMs / 3;
            w.sinkWorks('during the watch');
          }
          const u = lastUsed(accessKeyId);
          if (u.lastUsedDate !== null && Date.parse(u.lastUsedDate) > Date.parse(since))
            throw ApplicationFailure.nonRetryable(
              `access key ${accessKeyId} was used at ${u.lastUsedDate}, after ${since}: something besides the sink still uses it`,
              'OldKeyStillUsed',
            );
          return { lastUsedDate: u.lastUsedDate, watchedMs: 60_000, polls: 12 };
        },
      ),
      waitAccessKeyRefused: on('waitAccessKeyRefused', () => {
        const b = w.backup!;
        if (w.signs(b, w.now()))
          throw ApplicationFailure.nonRetryable(`S3 did not refuse ${b.id}`, 'OldKeyStillAccepted');
        return { accessKeyId: b.id, code: 'InvalidAccessKeyId', waitedMs: 0 };
      }),
      connectorStatus: on('connectorStatus', connector),
      restartConnector: on('restartConnector', restartTasks),
      waitConnectorRunning: on('waitConnectorRunning', ({ restartFailed = 0 }: { restartFailed?: number }) => {
        w.sinkWorks('after a task restart');
        for (let i = 0; i < restartFailed && (w.sinkFailed || !sinkOk()); i++) {
          restartTasks();
          w.sinkWorks('after restarting a FAILED task');
        }
        if (w.sinkFailed || !sinkOk())
          throw ApplicationFailure.nonRetryable(
            `task 0 FAILED: the sink's key ${w.sink.id} is refused`,
            'ConnectorTaskFailed',
          );
        return connector();
      }),
      waitAccessKeyAccepted: on('waitAccessKeyAccepted', ({ secret }: { secret: string }) => {
        const c = credIn(secret)!;
        for (let polls = 1; polls <= 30; polls++) {
          if (!w.signs(c, w.now())) continue;
          w.key(c.id).refusalsLeft = w.refusalsAfterAccepted;
          return { accessKeyId: c.id, code: 'accepted (HTTP 200)', waitedMs: polls * 2000 };
        }
        throw ApplicationFailure.nonRetryable(`S3 did not accept ${c.id}`, 'NewKeyNotAccepted');
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
