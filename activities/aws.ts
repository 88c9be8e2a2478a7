import { ApplicationFailure, heartbeat, sleep } from '@temporalio/activity';
import type { IAMClient, IAMClientConfig } from '@aws-sdk/client-iam';
import type { S3Client } from '@aws-sdk/client-s3';
import { awsSdk, type AwsSdk } from './awsSdk.js';
import { siblings, type SecretStore, type StoredSecret } from './secrets/store.js';

/** What the worker signs its IAM and S3 calls with: an AwsCredentialIdentity or a provider of one. Absent: the SDK's default chain. */
export type AwsCredentials = NonNullable<IAMClientConfig['credentials']>;

export interface AwsDeps {
  store: SecretStore;
  region: string;
  /** An S3/IAM-compatible endpoint (the emulator): path-style addressing. Absent: real AWS. */
  endpoint?: string;
  credentials?: AwsCredentials;
}

export interface AccessKeyInfo {
  accessKeyId: string;
  status: string;
  createDate: string;
}

/** A staged or current key as the workflow may see it: the key id (an identifier) and a fingerprint, never the secret access key. */
export interface StagedAccessKey {
  secret: string;
  accessKeyId: string;
  createDate: string;
  fingerprint: string;
}

const ID_KEY = 'access-key-id';
const SECRET_KEY = 'secret-access-key';
/** Answers that mean "this key does not exist (any more)": the proof that a deleted key is refused. */
const REFUSED = new Set(['InvalidAccessKeyId', 'InvalidClientTokenId']);
const DENIED = new Set(['AccessDenied', 'InvalidAccessKeyId', 'InvalidClientTokenId', 'SignatureDoesNotMatch', 'UnrecognizedClient', 'ExpiredToken', 'CredentialsProviderError']);
const THROTTLED = new Set(['Throttling', 'RequestLimitExceeded', 'SlowDown', 'ServiceUnavailable', 'InternalFailure', 'InternalError', 'RequestTimeout']);
/** At most this many ListObjectsV2 pages (1000 keys each) per look at the bucket: narrow `prefix` for bigger archives. */
const MAX_LIST_PAGES = 100;

const codeOf = (err: unknown): string => {
  const e = err as { Code?: string; name?: string };
  return (e.Code ?? e.name ?? 'Error').replace(/Exception$/, '');
};

/**
 * An AWS SDK error as an activity failure: the error code and HTTP status, the first line of
 * AWS's message (which never quotes a secret). Throttling, 5xx and network errors are retried;
 * not found, access denied, limits and other 4xx answers are not.
 */
export function awsFailure(what: string, err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const code = codeOf(err);
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const message = `${what}: ${code}${status ? ` (HTTP ${status})` : ''}: ${String((err as Error)?.message ?? err).split('\n')[0]!.slice(0, 300)}`;
  if (code === 'NoSuchEntity' || code === 'NoSuchBucket') return ApplicationFailure.nonRetryable(message, 'AwsNotFound');
  if (code === 'LimitExceeded') return ApplicationFailure.nonRetryable(message, 'AccessKeyLimitExceeded');
  if (DENIED.has(code)) return ApplicationFailure.nonRetryable(message, 'AwsAccessDenied');
  if (status === undefined || status >= 500 || status === 429 || THROTTLED.has(code)) return ApplicationFailure.retryable(message, 'AwsUnavailable');
  return ApplicationFailure.nonRetryable(message, 'AwsRequestFailed');
}

/** Polls `probe` every `everyMs` until it is done or `timeoutMs` passed, heartbeating what it saw; retryable errors count as "not yet". */
async function until<T>(timeoutMs: number, everyMs: number, probe: () => Promise<{ done: T } | { seen: string }>, onTimeout: (seen: string) => ApplicationFailure): Promise<T & { waitedMs: number }> {
  const t0 = Date.now();
  let seen = 'no answer yet';
  for (;;) {
    try {
      const r = await probe();
      if ('done' in r) return { ...r.done, waitedMs: Date.now() - t0 };
      seen = r.seen;
    } catch (err) {
      if (err instanceof ApplicationFailure && err.nonRetryable) throw err;
      seen = (err as Error).message;
    }
    if (Date.now() - t0 >= timeoutMs) throw onTimeout(seen);
    heartbeat(seen);
    await sleep(everyMs);
  }
}

/**
 * IAM access keys of the S3 sink's user and the objects it writes. The secret store is the only
 * place a secret access key lives: CreateAccessKey's answer goes straight to `<secret>-pending`.
 */
export function createAwsActivities(deps: AwsDeps) {
  const { store } = deps;
  const client = { region: deps.region, ...(deps.endpoint ? { endpoint: deps.endpoint } : {}) };
  let made: Promise<{ sdk: AwsSdk; iam: IAMClient; s3: S3Client }> | undefined;
  const aws = () =>
    (made ??= awsSdk().then((sdk) => ({
      sdk,
      iam: new sdk.iam.IAMClient({ ...client, ...(deps.credentials ? { credentials: deps.credentials } : {}) }),
      s3: new sdk.s3.S3Client({ ...client, forcePathStyle: Boolean(deps.endpoint), ...(deps.credentials ? { credentials: deps.credentials } : {}) }),
    })));
  const call = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      throw awsFailure(what, err);
    }
  };

  async function must(name: string): Promise<StoredSecret> {
    const s = await store.read(name);
    if (!s) throw ApplicationFailure.nonRetryable(`secret ${name} not found in the ${store.kind} store`, 'SecretNotFound');
    return s;
  }

  async function liveKeyId(secret: string): Promise<string> {
    const id = (await must(secret)).data[ID_KEY];
    if (!id) throw ApplicationFailure.nonRetryable(`secret ${secret} has no key ${ID_KEY}`, 'NoSuchCredential');
    return id;
  }

  async function describeAwsCredential(input: { secret: string }): Promise<{ secret: string; accessKeyId: string; fingerprint: string; store: string }> {
    const s = await must(input.secret);
    return { secret: input.secret, accessKeyId: await liveKeyId(input.secret), fingerprint: s.info.fingerprint, store: store.kind };
  }

  async function listAccessKeys(input: { user: string }): Promise<AccessKeyInfo[]> {
    const { sdk, iam } = await aws();
    const out = await call(`IAM ListAccessKeys for ${input.user}`, () => iam.send(new sdk.iam.ListAccessKeysCommand({ UserName: input.user })));
    return (out.AccessKeyMetadata ?? [])
      .map((k) => ({ accessKeyId: k.AccessKeyId ?? '', status: k.Status ?? 'Unknown', createDate: k.CreateDate?.toISOString() ?? '' }))
      .sort((a, b) => a.createDate.localeCompare(b.createDate));
  }

  async function accessKeyLastUsed(input: { accessKeyId: string }): Promise<{ lastUsedDate: string | null; serviceName: string }> {
    const { sdk, iam } = await aws();
    const out = await call(`IAM GetAccessKeyLastUsed ${input.accessKeyId}`, () => iam.send(new sdk.iam.GetAccessKeyLastUsedCommand({ AccessKeyId: input.accessKeyId })));
    return { lastUsedDate: out.AccessKeyLastUsed?.LastUsedDate?.toISOString() ?? null, serviceName: out.AccessKeyLastUsed?.ServiceName ?? 'N/A' };
  }

  async function setAccessKeyStatus(input: { user: string; accessKeyId: string; status: 'Active' | 'Inactive' }): Promise<{ accessKeyId: string; status: string }> {
    const { sdk, iam } = await aws();
    await call(`IAM UpdateAccessKey ${input.accessKeyId} ${input.status}`, () => iam.send(new sdk.iam.UpdateAccessKeyCommand({ UserName: input.user, AccessKeyId: input.accessKeyId, Status: input.status })));
    return { accessKeyId: input.accessKeyId, status: input.status };
  }

  /** Deletes a key; already gone is done. `onlyIf`: refuse unless the key has that status (never delete a key someone reactivated). */
  async function deleteAccessKey(input: { user: string; accessKeyId: string; onlyIf?: 'Inactive' }): Promise<{ accessKeyId: string; deleted: boolean }> {
    const key = (await listAccessKeys({ user: input.user })).find((k) => k.accessKeyId === input.accessKeyId);
    if (!key) return { accessKeyId: input.accessKeyId, deleted: false };
    if (input.onlyIf && key.status !== input.onlyIf) throw ApplicationFailure.nonRetryable(`access key ${input.accessKeyId} of ${input.user} is ${key.status}, not ${input.onlyIf}: not deleted`, 'AccessKeyStatusChanged');
    try {
      const { sdk, iam } = await aws();
      await iam.send(new sdk.iam.DeleteAccessKeyCommand({ UserName: input.user, AccessKeyId: input.accessKeyId }));
    } catch (err) {
      if (codeOf(err) === 'NoSuchEntity') return { accessKeyId: input.accessKeyId, deleted: false };
      throw awsFailure(`IAM DeleteAccessKey ${input.accessKeyId}`, err);
    }
    return { accessKeyId: input.accessKeyId, deleted: true };
  }

  /**
   * Keys an earlier attempt created whose secret never reached the store (the answer was lost):
   * not among the user's keys before the attempt, never used (nobody holds their secret), not in
   * the live secret. They are deleted: IAM returns a secret access key only once.
   */
  async function sweepLostKeys(user: string, marker: StoredSecret, keep: string): Promise<string[]> {
    const before = (marker.info.annotations.keysBefore ?? '').split(',');
    const swept: string[] = [];
    for (const k of await listAccessKeys({ user })) {
      if (before.includes(k.accessKeyId) || k.accessKeyId === keep) continue;
      if ((await accessKeyLastUsed(k)).lastUsedDate !== null) continue;
      if ((await deleteAccessKey({ user, accessKeyId: k.accessKeyId })).deleted) swept.push(k.accessKeyId);
    }
    return swept;
  }

  /** The second key, created with IAM and written only to `<secret>-pending`. Repeating it for the same rotation returns the same key. */
  async function createStagedAccessKey(input: { user: string; secret: string; rotationId: string }): Promise<StagedAccessKey> {
    const { pending } = siblings(input.secret);
    const existing = await store.read(pending);
    const ours = existing?.info.annotations.rotationId === input.rotationId;
    if (ours && existing.data[ID_KEY]) return { secret: pending, accessKeyId: existing.data[ID_KEY], createDate: existing.info.annotations.createDate ?? '', fingerprint: existing.info.fingerprint };
    if (ours) await sweepLostKeys(input.user, existing, await liveKeyId(input.secret));
    // a marker first: a retry after a lost answer knows which keys were there before
    const keysBefore = (await listAccessKeys({ user: input.user })).map((k) => k.accessKeyId).join(',');
    await store.write(pending, {}, { annotations: { rotationId: input.rotationId, stage: 'creating', user: input.user, keysBefore } });
    const { sdk, iam } = await aws();
    const out = await call(`IAM CreateAccessKey for ${input.user}`, () => iam.send(new sdk.iam.CreateAccessKeyCommand({ UserName: input.user })));
    const key = out.AccessKey;
    if (!key?.AccessKeyId || !key.SecretAccessKey) throw ApplicationFailure.retryable(`IAM CreateAccessKey for ${input.user} answered without a key`, 'AwsUnavailable');
    const createDate = (key.CreateDate ?? new Date()).toISOString();
    const info = await store.write(pending, { [ID_KEY]: key.AccessKeyId, [SECRET_KEY]: key.SecretAccessKey }, { annotations: { rotationId: input.rotationId, stage: 'pending', user: input.user, createDate } });
    return { secret: pending, accessKeyId: key.AccessKeyId, createDate, fingerprint: info.fingerprint };
  }

  /** Undo of createStagedAccessKey: deletes the key this rotation created (or lost) and `<secret>-pending`; never the key the live secret holds. */
  async function discardStagedAccessKey(input: { user: string; secret: string; rotationId: string }): Promise<{ deleted: string[] }> {
    const { pending } = siblings(input.secret);
    const p = await store.read(pending);
    if (p?.info.annotations.rotationId !== input.rotationId) return { deleted: [] }; // nothing staged by this run, or already discarded
    const live = await liveKeyId(input.secret);
    const id = p.data[ID_KEY];
    if (id === live) throw ApplicationFailure.nonRetryable(`secret ${input.secret} still holds ${id}: restore ${input.secret}-backup before deleting the new key`, 'AccessKeyInUse');
    const deleted = id ? ((await deleteAccessKey({ user: input.user, accessKeyId: id })).deleted ? [id] : []) : await sweepLostKeys(input.user, p, live);
    await store.remove(pending);
    return { deleted };
  }

  /** Backup of the current secret, then the pending key merged into it (other keys byte for byte), guarded by its version. Idempotent. */
  async function promoteAwsCredential(input: { secret: string; rotationId: string }): Promise<{ accessKeyId: string; previousAccessKeyId: string; fingerprint: string }> {
    const { pending, backup } = siblings(input.secret);
    const p = await must(pending);
    if (p.info.annotations.rotationId !== input.rotationId || !p.bytes[ID_KEY] || !p.bytes[SECRET_KEY]) throw ApplicationFailure.nonRetryable(`secret ${pending} holds no key staged by this rotation`, 'NothingToPromote');
    const live = await must(input.secret);
    const b = await store.read(backup);
    const backedUp = b?.info.annotations.rotationId === input.rotationId;
    const previous = (backedUp ? b.data[ID_KEY] : live.data[ID_KEY]) ?? '';
    if (live.bytes[ID_KEY]?.equals(p.bytes[ID_KEY]) && live.bytes[SECRET_KEY]?.equals(p.bytes[SECRET_KEY])) return { accessKeyId: p.data[ID_KEY]!, previousAccessKeyId: previous, fingerprint: live.info.fingerprint };
    if (!backedUp) await store.write(backup, live.bytes, { annotations: { rotationId: input.rotationId, stage: 'backup' } });
    const info = await store.write(input.secret, { [ID_KEY]: p.bytes[ID_KEY], [SECRET_KEY]: p.bytes[SECRET_KEY] }, { expectedVersion: live.info.version, mergeKeys: true, annotations: { rotationId: input.rotationId, stage: 'current' } });
    return { accessKeyId: p.data[ID_KEY]!, previousAccessKeyId: previous, fingerprint: info.fingerprint };
  }

  /** Undo of promote: the secret exactly as it was. Without a backup the secret was never replaced: nothing to restore. */
  async function restoreAwsCredential(input: { secret: string; rotationId: string }): Promise<{ accessKeyId: string; restored: boolean }> {
    const { backup } = siblings(input.secret);
    const b = await store.read(backup);
    if (!b) return { accessKeyId: await liveKeyId(input.secret), restored: false };
    if (b.info.annotations.rotationId !== input.rotationId) throw ApplicationFailure.nonRetryable(`secret ${backup} belongs to another rotation`, 'ForeignSecretVersion');
    const live = await must(input.secret);
    if (live.info.fingerprint === b.info.fingerprint) return { accessKeyId: b.data[ID_KEY] ?? '', restored: false };
    await store.write(input.secret, b.bytes, { expectedVersion: live.info.version, annotations: { rotationId: input.rotationId, stage: 'restored' } });
    return { accessKeyId: b.data[ID_KEY] ?? '', restored: true };
  }

  /** Polls until the key reports a use after `since` (ISO), heartbeating. AWS reports LastUsedDate to the minute and with a delay. */
  async function waitAccessKeyUsedSince(input: { accessKeyId: string; since: string; timeoutMs: number }) {
    const since = Date.parse(input.since);
    return until(
      input.timeoutMs,
      2000,
      async () => {
        const u = await accessKeyLastUsed(input);
        return u.lastUsedDate !== null && Date.parse(u.lastUsedDate) > since ? { done: u } : { seen: `last used ${u.lastUsedDate ?? 'never'}` };
      },
      (seen) => ApplicationFailure.nonRetryable(`access key ${input.accessKeyId} reported no use after ${input.since} within ${input.timeoutMs / 1000} s (${seen})`, 'AccessKeyNotUsed'),
    );
  }

  /** The newest object under the prefix modified after `since`, or null. */
  async function newestObjectSince(input: { bucket: string; prefix: string; since: string }): Promise<{ key: string; lastModified: string } | null> {
    const since = Date.parse(input.since);
    let newest: { key: string; at: number } | null = null;
    let token: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const { sdk, s3 } = await aws();
      const out = await call(`S3 ListObjectsV2 s3://${input.bucket}/${input.prefix}`, () => s3.send(new sdk.s3.ListObjectsV2Command({ Bucket: input.bucket, Prefix: input.prefix, ContinuationToken: token })));
      for (const o of out.Contents ?? []) {
        const at = o.LastModified?.getTime() ?? 0;
        if (o.Key && at > since && (!newest || at > newest.at)) newest = { key: o.Key, at };
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
      if (!token) break;
      heartbeat(`listed ${page + 1} page(s) of s3://${input.bucket}/${input.prefix}`);
    }
    return newest && { key: newest.key, lastModified: new Date(newest.at).toISOString() };
  }

  /** Polls until the sink has written an object after `since`, heartbeating. */
  async function waitObjectSince(input: { bucket: string; prefix: string; since: string; timeoutMs: number }) {
    const where = `s3://${input.bucket}/${input.prefix}`;
    return until(
      input.timeoutMs,
      2000,
      async () => {
        const o = await newestObjectSince(input);
        return o ? { done: o } : { seen: `no object under ${where} after ${input.since}` };
      },
      (seen) => ApplicationFailure.nonRetryable(`${seen} within ${input.timeoutMs / 1000} s: is the sink writing?`, 'NoFreshObject'),
    );
  }

  /** For `watchMs`, the deactivated key's LastUsedDate must not pass `since`: if it does, a client besides the sink still uses it. */
  async function watchOldKeyUnused(input: { accessKeyId: string; since: string; watchMs: number }): Promise<{ lastUsedDate: string | null; watchedMs: number; polls: number }> {
    const t0 = Date.now();
    const since = Date.parse(input.since);
    let last: string | null = null;
    let polls = 0;
    for (;;) {
      const u = await accessKeyLastUsed(input).catch((err: unknown) => {
        if (err instanceof ApplicationFailure && err.nonRetryable) throw err;
        return undefined; // a throttled read: the next poll tells
      });
      if (u) {
        polls++;
        last = u.lastUsedDate;
        if (last !== null && Date.parse(last) > since) {
          throw ApplicationFailure.nonRetryable(`access key ${input.accessKeyId} was used at ${last} (${u.serviceName}) after its deactivation at ${input.since}: something besides the sink still uses it`, 'OldKeyStillUsed');
        }
      }
      const left = input.watchMs - (Date.now() - t0);
      if (left <= 0) break;
      heartbeat(`${input.accessKeyId} last used ${last ?? 'never'}; ${Math.ceil(left / 1000)} s to watch`);
      await sleep(Math.min(5000, left));
    }
    if (polls === 0) throw ApplicationFailure.retryable(`could not read the last use of ${input.accessKeyId} during the watch`, 'AwsUnavailable');
    return { lastUsedDate: last, watchedMs: Date.now() - t0, polls };
  }

  /** Signs an S3 request with the key stored in `secret` (the old key, in `-backup`) until S3 refuses the key as unknown (deleted). */
  async function waitAccessKeyRefused(input: { secret: string; bucket: string; timeoutMs: number }): Promise<{ accessKeyId: string; code: string; waitedMs: number }> {
    const s = await must(input.secret);
    const accessKeyId = s.data[ID_KEY];
    const secretAccessKey = s.data[SECRET_KEY];
    if (!accessKeyId || !secretAccessKey) throw ApplicationFailure.nonRetryable(`secret ${input.secret} has no ${ID_KEY}/${SECRET_KEY}`, 'NoSuchCredential');
    const { sdk } = await aws();
    const probe = new sdk.s3.S3Client({ ...client, forcePathStyle: Boolean(deps.endpoint), credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
    try {
      return await until(
        input.timeoutMs,
        2000,
        async () => {
          const code = await probe.send(new sdk.s3.ListObjectsV2Command({ Bucket: input.bucket, MaxKeys: 1 })).then(() => 'accepted (HTTP 200)', codeOf);
          return REFUSED.has(code) ? { done: { accessKeyId, code } } : { seen: code };
        },
        (seen) => ApplicationFailure.nonRetryable(`S3 did not refuse ${accessKeyId} within ${input.timeoutMs / 1000} s (last answer: ${seen})`, 'OldKeyStillAccepted'),
      );
    } finally {
      probe.destroy();
    }
  }

  return { describeAwsCredential, listAccessKeys, accessKeyLastUsed, setAccessKeyStatus, deleteAccessKey, createStagedAccessKey, discardStagedAccessKey, promoteAwsCredential, restoreAwsCredential, waitAccessKeyUsedSince, newestObjectSince, waitObjectSince, watchOldKeyUnused, waitAccessKeyRefused };
}
