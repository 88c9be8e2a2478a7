import { randomBytes } from 'node:crypto';
import { ApplicationFailure, heartbeat, sleep } from '@temporalio/activity';
import { authOutcome, type RegistryApi, registryApi } from './registryApi.js';
import {
  fingerprint,
  siblings,
  toText,
  type SecretBytes,
  type SecretStore,
  type StoredSecret,
} from './secrets/store.js';
import { registryKeys, syncUserInfo, UserInfoError } from './registryUserInfo.js';

/**
 * The Schema Registry's users live in one secret (`schema-registry-auth`), which both sides
 * read: clients use `<account>-user`/`<account>-password`; the registry accepts those and,
 * while a rotation runs, `<account>-next-*` (staged, accepted, not yet used) and
 * `<account>-previous-*` (the old user, accepted through grace). Apicurio reads its users at
 * start, so changing what it accepts is a restart (`RegistryRuntime`). A secret in the runbook's
 * layout also holds `user-info`, the Jetty users file a Confluent registry reads: every write
 * below rewrites it to list the same users (registryUserInfo.ts).
 */
export type RegistrySlot = 'current' | 'next' | 'previous' | 'backup';

/** How the registry comes to re-read its users: a StatefulSet rollout on Kubernetes, the stack's stand-in locally, or nothing when it watches its users file (registryReload.ts). */
export interface RegistryRuntime {
  /** `restartedAt`: the workflow's stamp for this restart; a retry with the same stamp starts no second rollout. */
  restart(onProgress: (detail: string) => void, restartedAt?: string): Promise<void>;
}

export interface RegistryDeps {
  store: SecretStore;
  /** The registry's root, e.g. http://schema-registry:8080 (the flavour's paths are appended). */
  url: string;
  /** Which API the registry speaks (default Apicurio's). */
  api?: RegistryApi;
  runtime?: RegistryRuntime;
  /** A fetch trusting the configured CA when the URL is https:// (default: the global fetch). */
  fetch?: typeof fetch;
}

export interface RegistryAccountRef {
  secret: string;
  account: string;
  user: string;
  fingerprint: string;
}

const keysOf = registryKeys;
const userInfoKey = 'user-info';

export function createSchemaRegistryActivities(deps: RegistryDeps) {
  const { store } = deps;
  const base = deps.url.replace(/\/+$/, '');
  const api = deps.api ?? registryApi();

  async function must(name: string): Promise<StoredSecret> {
    const s = await store.read(name);
    if (!s)
      throw ApplicationFailure.nonRetryable(`secret ${name} not found in the ${store.kind} store`, 'SecretNotFound');
    return s;
  }

  /**
   * What a write to the secret stores: `data`, and when the live secret holds `user-info` (the
   * runbook's layout), that file rewritten to list exactly the users of `data`'s keys, so the
   * registry reading it accepts what the keys say. Other users' lines and the roles stay.
   * Detected per write: a secret without `user-info` is written as given.
   */
  function withUserInfo(secret: string, live: StoredSecret, data: SecretBytes): SecretBytes {
    const file = live.bytes[userInfoKey];
    if (!file) return data;
    try {
      // latin1 both ways: Jetty reads the file as ISO-8859-1, and the lines rekey keeps stay byte for byte
      return {
        ...data,
        [userInfoKey]: Buffer.from(syncUserInfo(file.toString('latin1'), live.data, toText(data)), 'latin1'),
      };
    } catch (err) {
      if (err instanceof UserInfoError)
        throw ApplicationFailure.nonRetryable(
          `secret ${secret}, key ${userInfoKey}: ${err.message}`,
          'RegistryUserInfo',
        );
      throw err;
    }
  }

  /** The (user, password) a slot holds; `backup` is the current pair in `<secret>-backup`. */
  async function credentialsOf(
    secret: string,
    account: string,
    slot: RegistrySlot,
  ): Promise<{ user: string; password: string } | undefined> {
    const s = slot === 'backup' ? await store.read(siblings(secret).backup) : await must(secret);
    const k = keysOf(account, slot === 'backup' ? 'current' : slot);
    const user = s?.data[k.user];
    const password = s?.data[k.password];
    return user && password ? { user, password } : undefined;
  }

  async function get(path: string, creds?: { user: string; password: string }): Promise<Response> {
    const headers: Record<string, string> = creds
      ? { authorization: `Basic ${Buffer.from(`${creds.user}:${creds.password}`).toString('base64')}` }
      : {};
    try {
      return await (deps.fetch ?? fetch)(`${base}${path}`, { headers, signal: AbortSignal.timeout(10_000) });
    } catch (err) {
      throw ApplicationFailure.retryable(
        `Schema Registry GET ${path} unreachable: ${(err as Error).message}`,
        'RegistryUnavailable',
      );
    }
  }

  /** An authenticated read made with the slot's credentials: its status, and whether it came past authentication (anything but 401/403, 5xx). */
  async function registryAuth(input: {
    secret: string;
    account: string;
    slot: RegistrySlot;
  }): Promise<{ user: string; status: number; accepted: boolean }> {
    const creds = await credentialsOf(input.secret, input.account, input.slot);
    if (!creds)
      throw ApplicationFailure.nonRetryable(
        `secret ${input.secret} has no ${input.slot} credentials for account ${input.account}`,
        'NoSuchCredential',
      );
    const res = await get(api.authProbe, creds);
    return { user: creds.user, status: res.status, accepted: authOutcome(res.status) === 'accepted' };
  }

  /**
   * Polls until the slot's credentials are accepted (`expectStatus` 200) or refused (401: a 401
   * or 403) by the registry, back up and reading its users; heartbeating.
   */
  async function waitRegistryAuth(input: {
    secret: string;
    account: string;
    slot: RegistrySlot;
    expectStatus: 200 | 401;
    timeoutMs?: number;
  }): Promise<{ user: string; status: number; accepted: boolean; waitedMs: number }> {
    const t0 = Date.now();
    const timeoutMs = input.timeoutMs ?? 120_000;
    const wanted = input.expectStatus === 200 ? 'accepted' : 'refused';
    let seen = 'no answer';
    for (;;) {
      const r = await registryAuth(input).catch((e: Error) => ({
        user: '?',
        status: 0,
        accepted: false,
        error: e.message,
      }));
      if (authOutcome(r.status) === wanted)
        return { user: r.user, status: r.status, accepted: r.accepted, waitedMs: Date.now() - t0 };
      seen = r.status ? `HTTP ${r.status}` : 'unreachable';
      if (Date.now() - t0 > timeoutMs)
        throw ApplicationFailure.retryable(
          `registry answered ${input.slot} user of ${input.account} with ${seen}, not ${input.expectStatus}, for ${timeoutMs / 1000} s`,
          'RegistryAuthWait',
        );
      heartbeat(`${input.slot} user: ${seen}, waiting for ${input.expectStatus}`);
      await sleep(500);
    }
  }

  /** Compatibility level of each subject (its own, else the global one), through the Confluent-compatible API. */
  async function registryCompatibility(input: {
    secret: string;
    account: string;
    subjectPrefix: string;
  }): Promise<{ subjects: Array<{ subject: string; level: string }> }> {
    const creds = await credentialsOf(input.secret, input.account, 'current');
    const list = await get(api.subjects, creds);
    if (!list.ok)
      throw ApplicationFailure.nonRetryable(`listing subjects answered HTTP ${list.status}`, 'RegistryRequestFailed');
    const subjects = ((await list.json()) as string[]).filter((s) => s.startsWith(input.subjectPrefix)).sort();
    const out: Array<{ subject: string; level: string }> = [];
    for (const subject of subjects) {
      const res = await get(api.config(subject), creds);
      const body = res.ok ? ((await res.json()) as { compatibilityLevel?: string; compatibility?: string }) : {};
      out.push({ subject, level: body.compatibilityLevel ?? body.compatibility ?? `HTTP ${res.status}` });
    }
    return { subjects: out };
  }

  /** The latest schema of a subject, read with the account's current credentials: proves a client lookup works. */
  async function registryLookup(input: {
    secret: string;
    account: string;
    subject: string;
  }): Promise<{ user: string; subject: string; version: number; id: number }> {
    const creds = await credentialsOf(input.secret, input.account, 'current');
    const res = await get(api.latest(input.subject), creds);
    if (!res.ok)
      throw ApplicationFailure.retryable(
        `lookup of ${input.subject} as ${creds?.user} answered HTTP ${res.status}`,
        'RegistryLookupFailed',
      );
    const body = (await res.json()) as { version: number; id: number };
    return { user: creds!.user, subject: input.subject, version: body.version, id: body.id };
  }

  async function describeRegistryAccount(input: {
    secret: string;
    account: string;
  }): Promise<RegistryAccountRef & { store: string; next: string | null; previous: string | null }> {
    const s = await must(input.secret);
    const k = (slot: 'current' | 'next' | 'previous') => s.data[keysOf(input.account, slot).user] ?? null;
    const user = k('current');
    if (!user)
      throw ApplicationFailure.nonRetryable(
        `secret ${input.secret} has no key ${keysOf(input.account, 'current').user}`,
        'NoSuchCredential',
      );
    return {
      secret: input.secret,
      account: input.account,
      user,
      fingerprint: s.info.fingerprint,
      store: store.kind,
      next: k('next'),
      previous: k('previous'),
    };
  }

  /** A new user with a random password in `<secret>-pending`; repeating it for the same rotation returns the same one. */
  async function stageRegistryUser(input: {
    secret: string;
    account: string;
    newUser: string;
    rotationId: string;
  }): Promise<RegistryAccountRef> {
    const { pending } = siblings(input.secret);
    const k = keysOf(input.account, 'current');
    const existing = await store.read(pending);
    if (existing?.info.annotations.rotationId === input.rotationId)
      return {
        secret: pending,
        account: input.account,
        user: existing.data[k.user] ?? '',
        fingerprint: existing.info.fingerprint,
      };
    const info = await store.write(
      pending,
      { [k.user]: input.newUser, [k.password]: randomBytes(24).toString('base64url') },
      { annotations: { rotationId: input.rotationId, stage: 'pending' } },
    );
    return { secret: pending, account: input.account, user: input.newUser, fingerprint: info.fingerprint };
  }

  /** Sets (or, with `from: null`, removes) one slot's keys of the live secret, every other key unchanged; guarded by its version. */
  async function setSlot(
    secret: string,
    account: string,
    slot: 'current' | 'next' | 'previous',
    from: { user: string; password: string } | null,
    rotationId: string,
    stage: string,
  ): Promise<StoredSecret> {
    const live = await must(secret);
    const k = keysOf(account, slot);
    const data = { ...live.bytes };
    if (from) Object.assign(data, { [k.user]: Buffer.from(from.user), [k.password]: Buffer.from(from.password) });
    else for (const key of [k.user, k.password]) delete data[key];
    await store.write(secret, withUserInfo(secret, live, data), {
      expectedVersion: live.info.version,
      annotations: { rotationId, stage },
    });
    return must(secret);
  }

  /** Phase 1: the registry will also accept the staged user (after its restart). Idempotent. */
  async function acceptRegistryUser(input: {
    secret: string;
    account: string;
    rotationId: string;
  }): Promise<RegistryAccountRef> {
    const pending = await must(siblings(input.secret).pending);
    const k = keysOf(input.account, 'current');
    const user = pending.data[k.user]!;
    const live = await must(input.secret);
    if (live.data[keysOf(input.account, 'next').user] === user)
      return { secret: input.secret, account: input.account, user, fingerprint: live.info.fingerprint };
    const s = await setSlot(
      input.secret,
      input.account,
      'next',
      { user, password: pending.data[k.password]! },
      input.rotationId,
      'accepting',
    );
    return { secret: input.secret, account: input.account, user, fingerprint: s.info.fingerprint };
  }

  /** Removes a slot's user from what the registry accepts (takes effect at its next restart). Idempotent. */
  async function forgetRegistryUser(input: {
    secret: string;
    account: string;
    slot: 'next' | 'previous';
    rotationId: string;
  }): Promise<void> {
    const live = await must(input.secret);
    if (!(keysOf(input.account, input.slot).user in live.data)) return;
    await setSlot(input.secret, input.account, input.slot, null, input.rotationId, `forgot-${input.slot}`);
  }

  /** Phase 2: backup, then clients get the new user and the old one stays accepted as `previous`. Idempotent. */
  async function promoteRegistryUser(input: {
    secret: string;
    account: string;
    rotationId: string;
  }): Promise<{ user: string; previousUser: string }> {
    const live = await must(input.secret);
    const cur = keysOf(input.account, 'current');
    const next = await credentialsOf(input.secret, input.account, 'next');
    const current = { user: live.data[cur.user]!, password: live.data[cur.password]! };
    if (!next) {
      const prev = await credentialsOf(input.secret, input.account, 'previous');
      if (prev && live.info.annotations.rotationId === input.rotationId)
        return { user: current.user, previousUser: prev.user }; // already promoted
      throw ApplicationFailure.nonRetryable(
        `secret ${input.secret} has no staged user for ${input.account} to promote`,
        'NothingToPromote',
      );
    }
    const { backup } = siblings(input.secret);
    const b = await store.read(backup);
    if (b?.info.annotations.rotationId !== input.rotationId)
      await store.write(backup, live.bytes, { annotations: { rotationId: input.rotationId, stage: 'backup' } });
    const data = { ...live.bytes };
    const nk = keysOf(input.account, 'next');
    const pk = keysOf(input.account, 'previous');
    Object.assign(data, {
      [cur.user]: Buffer.from(next.user),
      [cur.password]: Buffer.from(next.password),
      [pk.user]: Buffer.from(current.user),
      [pk.password]: Buffer.from(current.password),
    });
    delete data[nk.user];
    delete data[nk.password];
    await store.write(input.secret, withUserInfo(input.secret, live, data), {
      expectedVersion: live.info.version,
      annotations: { rotationId: input.rotationId, stage: 'current' },
    });
    return { user: next.user, previousUser: current.user };
  }

  /**
   * Undo of promote: the secret as it was before it (old user current, new one still accepted as
   * next). Its `user-info` is rewritten from the live one, so a line an operator changed during
   * grace for a user rekey does not manage survives; otherwise it is the backup's, byte for byte.
   */
  async function restoreRegistryBackup(input: { secret: string; rotationId: string }): Promise<void> {
    const b = await store.read(siblings(input.secret).backup);
    if (!b) return;
    if (b.info.annotations.rotationId !== input.rotationId)
      throw ApplicationFailure.nonRetryable(
        `secret ${siblings(input.secret).backup} belongs to another rotation`,
        'ForeignSecretVersion',
      );
    const live = await must(input.secret);
    const data = withUserInfo(input.secret, live, b.bytes);
    if (live.info.fingerprint === fingerprint(data)) return;
    await store.write(input.secret, data, {
      expectedVersion: live.info.version,
      annotations: { rotationId: input.rotationId, stage: 'restored' },
    });
  }

  async function restartRegistry(input: { timeoutMs?: number; restartedAt?: string } = {}): Promise<void> {
    if (!deps.runtime)
      throw ApplicationFailure.nonRetryable(
        'this worker has no Schema Registry runtime configured (cannot restart the registry)',
        'NoRegistryRuntime',
      );
    await deps.runtime.restart((detail) => heartbeat(detail), input.restartedAt);
  }

  return {
    registryAuth,
    waitRegistryAuth,
    registryCompatibility,
    registryLookup,
    describeRegistryAccount,
    stageRegistryUser,
    acceptRegistryUser,
    forgetRegistryUser,
    promoteRegistryUser,
    restoreRegistryBackup,
    restartRegistry,
  };
}
