import { ApplicationFailure, heartbeat, sleep } from '@temporalio/activity';
import { credentialKeys } from './credentials.js';
import type { SecretStore } from './secrets/store.js';
import { randomBytes } from 'node:crypto';
import { acceptedUsers, passwordOf, removeUser, upsertUser } from './connectRestUsersFile.js';

/** Longest a single wait may run (the workflow's own timeouts are shorter). */
const MAX_WAIT_MS = 600_000;

export interface ConnectRestUsersDeps {
  store: SecretStore;
  /** Kafka Connect's REST URL, and a fetch that trusts its CA and sends no credential of its own. */
  url: string;
  fetch: typeof fetch;
  /** A fetch that authenticates as rekey does (kafkaConnect.auth.secret). */
  rekeyFetch: typeof fetch;
  /** The secret rekey's own Connect client reads (kafkaConnect.auth.secret); absent: rekey sends no credential. */
  rekeyAuthSecret?: string;
}

const { user: USER, password: PASSWORD } = credentialKeys.sasl;

/**
 * Kafka Connect's REST credential (the platform plan's KAFKA_CONNECT_PASSWORD): the users the
 * worker accepts live in one key of its secret (`users.properties`, mounted where Kafka's
 * PropertyFileLoginModule reads it); what clients send is the secret's username/password.
 * The module caches the file per JVM, so a change here takes effect at the next worker restart.
 */
export function createConnectRestUserActivities(deps: ConnectRestUsersDeps) {
  const { store } = deps;

  async function must(name: string) {
    const s = await store.read(name);
    if (!s)
      throw ApplicationFailure.nonRetryable(`secret ${name} not found in the ${store.kind} store`, 'SecretMissing');
    return s;
  }

  /** Who clients are (the secret's username), who Connect will accept after its next restart, and whom rekey sends. */
  async function describeConnectRestUsers(input: { secret: string; usersKey: string }): Promise<{
    user: string;
    users: string[];
    /** The file's password for the secret's user is the secret's (never the values themselves). */
    fileMatchesSecret: boolean;
    /** What Connect answers a credential nobody has (401 when it checks passwords). */
    strangerStatus: number | string;
    rekey: { secret: string; user: string } | null;
  }> {
    const s = await must(input.secret);
    const rekeySecret = deps.rekeyAuthSecret;
    const rekey = rekeySecret ? { secret: rekeySecret, user: (await store.read(rekeySecret))?.data[USER] ?? '' } : null;
    const user = s.data[USER] ?? '';
    const file = s.data[input.usersKey] ?? '';
    // a credential nobody has: Connect must refuse it, or it checks no password at all
    const stranger = await statusOf(
      `rekey-preflight-${randomBytes(4).toString('hex')}`,
      randomBytes(18).toString('base64url'),
    );
    return {
      user,
      users: acceptedUsers(file),
      fileMatchesSecret: user !== '' && passwordOf(file, user) === (s.data[PASSWORD] ?? null),
      strangerStatus: stranger,
      rekey,
    };
  }

  async function statusOf(user: string, password: string): Promise<number | string> {
    const auth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    try {
      const res = await deps.fetch(`${deps.url}/connectors`, {
        headers: { authorization: auth },
        signal: AbortSignal.timeout(10_000),
      });
      await res.body?.cancel();
      return res.status;
    } catch (err) {
      return `unreachable (${(err as Error).message})`;
    }
  }

  /** Writes `usersKey` of `secret` (only that key, guarded by the version read) unless it already says `next`. */
  async function rewriteUsers(secret: string, usersKey: string, next: (file: string) => string) {
    const s = await must(secret);
    const before = s.data[usersKey] ?? '';
    const after = next(before);
    if (after !== before)
      await store.write(
        secret,
        { [usersKey]: after },
        { expectedVersion: s.info.version, mergeKeys: true, annotations: s.info.annotations },
      );
    return { users: acceptedUsers(after), changed: after !== before };
  }

  /** Adds (or updates) the user and password of secret `from` to the users `secret` lets in. Idempotent. */
  async function acceptConnectRestUser(input: { secret: string; usersKey: string; from: string }) {
    const from = await must(input.from);
    const [user, password] = [from.data[USER], from.data[PASSWORD]];
    if (!user || !password)
      throw ApplicationFailure.nonRetryable(`secret ${input.from} lacks ${USER} or ${PASSWORD}`, 'SecretIncomplete');
    return rewriteUsers(input.secret, input.usersKey, (file) => upsertUser(file, user, password));
  }

  /** Removes `user` from the users `secret` lets in; refuses to leave none (an empty file lets anyone in). Idempotent. */
  async function dropConnectRestUser(input: { secret: string; usersKey: string; user: string }) {
    return rewriteUsers(input.secret, input.usersKey, (file) => {
      const after = removeUser(file, input.user);
      if (acceptedUsers(after).length === 0)
        throw ApplicationFailure.nonRetryable(
          `removing ${input.user} would leave ${input.secret}'s ${input.usersKey} without a user: Kafka's PropertyFileLoginModule lets every request in when its file lists none`,
          'ConnectRestUsersEmpty',
        );
      return after;
    });
  }

  /** One request to GET /connectors with the credential a secret holds: the HTTP status (never the password). */
  async function tryCredential(secret: string): Promise<{ user: string; status: number | string }> {
    const s = await must(secret);
    const user = s.data[USER] ?? '';
    return { user, status: await statusOf(user, s.data[PASSWORD] ?? '') };
  }

  /**
   * Waits until Connect's REST API answers the credential in `secret` as expected (accepted:
   * 200; refused: 401), heartbeating: a worker that is still starting answers neither.
   */
  async function waitConnectRestAuth(input: {
    secret: string;
    expect: 'accepted' | 'refused';
    timeoutMs: number;
  }): Promise<{ user: string; status: number; waitedMs: number }> {
    const started = Date.now();
    const deadline = started + Math.min(input.timeoutMs, MAX_WAIT_MS);
    const wanted = input.expect === 'accepted' ? 200 : 401;
    for (;;) {
      const r = await tryCredential(input.secret);
      if (r.status === wanted) return { user: r.user, status: wanted, waitedMs: Date.now() - started };
      if (Date.now() > deadline)
        throw ApplicationFailure.retryable(
          `Kafka Connect answered ${r.user} (secret ${input.secret}) with ${r.status} for ${Math.round((Date.now() - started) / 1000)} s; expected HTTP ${wanted} (${input.expect})`,
          'ConnectRestAuthUnexpected',
        );
      heartbeat(`Kafka Connect answers ${r.user} with ${r.status}, waiting for HTTP ${wanted}`);
      await sleep(1000);
    }
  }

  /** Every connector and task on the cluster as rekey's own client sees them: counts, and what is not RUNNING. */
  async function connectorsRunning(): Promise<{ connectors: number; tasks: number; notRunning: string[] }> {
    let res: Response;
    try {
      res = await deps.rekeyFetch(`${deps.url}/connectors?expand=status`, { signal: AbortSignal.timeout(10_000) });
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err; // rekey's credential could not be read
      return { connectors: 0, tasks: 0, notRunning: [`REST API unreachable (${(err as Error).message})`] };
    }
    if (res.status === 401 || res.status === 403)
      throw ApplicationFailure.nonRetryable(
        `Kafka Connect refused rekey's own credential (kafkaConnect.auth.secret, REKEY_CONNECT_AUTH_SECRET): HTTP ${res.status}`,
        'ConnectUnauthorized',
      );
    if (!res.ok) {
      await res.body?.cancel();
      return { connectors: 0, tasks: 0, notRunning: [`REST API answered HTTP ${res.status}`] };
    }
    const all = Object.values((await res.json()) as Record<string, { status: StatusBody }>).map((c) => c.status);
    const notRunning = all.flatMap((c) => [
      ...(c.connector.state === 'RUNNING' ? [] : [`${c.name}:${c.connector.state}`]),
      ...(c.tasks.length === 0 ? [`${c.name}: no tasks`] : []),
      ...c.tasks.filter((t) => t.state !== 'RUNNING').map((t) => `${c.name}/${t.id}:${t.state}`),
    ]);
    return { connectors: all.length, tasks: all.reduce((n, c) => n + c.tasks.length, 0), notRunning };
  }

  /** Waits until every connector and task on the cluster is RUNNING (a worker restart moves them all). */
  async function waitAllConnectorsRunning(input: {
    timeoutMs: number;
  }): Promise<{ connectors: number; tasks: number }> {
    const deadline = Date.now() + Math.min(input.timeoutMs, MAX_WAIT_MS);
    for (;;) {
      const seen = await connectorsRunning();
      if (seen.notRunning.length === 0) return { connectors: seen.connectors, tasks: seen.tasks };
      if (Date.now() > deadline)
        throw ApplicationFailure.retryable(
          `not every connector and task is RUNNING: ${seen.notRunning.join(', ')}`,
          'ConnectorsNotRunning',
        );
      heartbeat(`waiting for every connector and task to be RUNNING: ${seen.notRunning.join(', ')}`);
      await sleep(1000);
    }
  }

  return {
    describeConnectRestUsers,
    acceptConnectRestUser,
    dropConnectRestUser,
    connectRestAuth: (input: { secret: string }) => tryCredential(input.secret),
    waitConnectRestAuth,
    connectorsRunning,
    waitAllConnectorsRunning,
  };
}

interface StatusBody {
  name: string;
  connector: { state: string };
  tasks: Array<{ id: number; state: string }>;
}
