import { ApplicationFailure, heartbeat, sleep } from '@temporalio/activity';
import { awsFailure, codeOf, ID_KEY, SECRET_KEY, until } from './awsCalls.js';
import type { IAMClient, IAMClientConfig } from '@aws-sdk/client-iam';
import type { S3Client } from '@aws-sdk/client-s3';
import { awsSdk, type AwsSdk } from './awsSdk.js';
import { siblings, type SecretStore, type StoredSecret } from './secrets/store.js';
import { createS3Activities } from './awsS3.js';

export { awsFailure } from './awsCalls.js';

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
      s3: new sdk.s3.S3Client({
        ...client,
        forcePathStyle: Boolean(deps.endpoint),
        ...(deps.credentials ? { credentials: deps.credentials } : {}),
      }),
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
    if (!s)
      throw ApplicationFailure.nonRetryable(`secret ${name} not found in the ${store.kind} store`, 'SecretNotFound');
    return s;
  }

  async function liveKeyId(secret: string): Promise<string> {
    const id = (await must(secret)).data[ID_KEY];
    if (!id) throw ApplicationFailure.nonRetryable(`secret ${secret} has no key ${ID_KEY}`, 'NoSuchCredential');
    return id;
  }

  async function describeAwsCredential(input: {
    secret: string;
  }): Promise<{ secret: string; accessKeyId: string; fingerprint: string; store: string }> {
    const s = await must(input.secret);
    return {
      secret: input.secret,
      accessKeyId: await liveKeyId(input.secret),
      fingerprint: s.info.fingerprint,
      store: store.kind,
    };
  }

  async function listAccessKeys(input: { user: string }): Promise<AccessKeyInfo[]> {
    const { sdk, iam } = await aws();
    const out = await call(`IAM ListAccessKeys for ${input.user}`, () =>
      iam.send(new sdk.iam.ListAccessKeysCommand({ UserName: input.user })),
    );
    return (out.AccessKeyMetadata ?? [])
      .map((k) => ({
        accessKeyId: k.AccessKeyId ?? '',
        status: k.Status ?? 'Unknown',
        createDate: k.CreateDate?.toISOString() ?? '',
      }))
      .sort((a, b) => a.createDate.localeCompare(b.createDate));
  }

  async function accessKeyLastUsed(input: {
    accessKeyId: string;
  }): Promise<{ lastUsedDate: string | null; serviceName: string }> {
    const { sdk, iam } = await aws();
    const out = await call(`IAM GetAccessKeyLastUsed ${input.accessKeyId}`, () =>
      iam.send(new sdk.iam.GetAccessKeyLastUsedCommand({ AccessKeyId: input.accessKeyId })),
    );
    return {
      lastUsedDate: out.AccessKeyLastUsed?.LastUsedDate?.toISOString() ?? null,
      serviceName: out.AccessKeyLastUsed?.ServiceName ?? 'N/A',
    };
  }

  async function setAccessKeyStatus(input: {
    user: string;
    accessKeyId: string;
    status: 'Active' | 'Inactive';
  }): Promise<{ accessKeyId: string; status: string }> {
    const { sdk, iam } = await aws();
    await call(`IAM UpdateAccessKey ${input.accessKeyId} ${input.status}`, () =>
      iam.send(
        new sdk.iam.UpdateAccessKeyCommand({
          UserName: input.user,
          AccessKeyId: input.accessKeyId,
          Status: input.status,
        }),
      ),
    );
    return { accessKeyId: input.accessKeyId, status: input.status };
  }

  /** Deletes a key; already gone is done. `onlyIf`: refuse unless the key has that status (never delete a key someone reactivated). */
  async function deleteAccessKey(input: {
    user: string;
    accessKeyId: string;
    onlyIf?: 'Inactive';
  }): Promise<{ accessKeyId: string; deleted: boolean }> {
    const key = (await listAccessKeys({ user: input.user })).find((k) => k.accessKeyId === input.accessKeyId);
    if (!key) return { accessKeyId: input.accessKeyId, deleted: false };
    if (input.onlyIf && key.status !== input.onlyIf)
      throw ApplicationFailure.nonRetryable(
        `access key ${input.accessKeyId} of ${input.user} is ${key.status}, not ${input.onlyIf}: not deleted`,
        'AccessKeyStatusChanged',
      );
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
   * Keys of the user that appeared after an earlier attempt wrote its marker and that no secret
   * holds: the key whose CreateAccessKey answer was lost, or one someone else made meanwhile.
   * rekey cannot tell them apart (IAM keys carry no tag or idempotency token) and returns a
   * secret access key only once, so it deletes neither: the operator decides.
   */
  async function unrecordedKeys(user: string, marker: StoredSecret, live: string): Promise<string[]> {
    const before = (marker.info.annotations.keysBefore ?? '').split(',');
    return (await listAccessKeys({ user }))
      .map((k) => k.accessKeyId)
      .filter((id) => !before.includes(id) && id !== live);
  }

  const unrecordedFailure = (user: string, ids: string[], what: string) =>
    ApplicationFailure.nonRetryable(
      `IAM user ${user} has ${ids.join(', ')}, created after this rotation's marker and recorded nowhere (a CreateAccessKey answer was lost, or someone else created it): rekey deletes only keys it recorded, so ${what}. If it is the lost key, delete it (aws iam delete-access-key --user-name ${user} --access-key-id ${ids[0]}) and retry`,
      'UnrecordedAccessKey',
    );

  /** The second key, created with IAM and written only to `<secret>-pending`. Repeating it for the same rotation returns the same key. */
  async function createStagedAccessKey(input: {
    user: string;
    secret: string;
    rotationId: string;
  }): Promise<StagedAccessKey> {
    const { pending } = siblings(input.secret);
    const existing = await store.read(pending);
    const ours = existing?.info.annotations.rotationId === input.rotationId;
    if (ours && existing.data[ID_KEY])
      return {
        secret: pending,
        accessKeyId: existing.data[ID_KEY],
        createDate: existing.info.annotations.createDate ?? '',
        fingerprint: existing.info.fingerprint,
      };
    if (ours) {
      const unknown = await unrecordedKeys(input.user, existing, await liveKeyId(input.secret));
      if (unknown.length > 0) throw unrecordedFailure(input.user, unknown, 'no second key was created');
    }
    // a marker first: a retry after a lost answer knows which keys were there before
    const keysBefore = (await listAccessKeys({ user: input.user })).map((k) => k.accessKeyId).join(',');
    await store.write(
      pending,
      {},
      { annotations: { rotationId: input.rotationId, stage: 'creating', user: input.user, keysBefore } },
    );
    const { sdk, iam } = await aws();
    const out = await call(`IAM CreateAccessKey for ${input.user}`, () =>
      iam.send(new sdk.iam.CreateAccessKeyCommand({ UserName: input.user })),
    );
    const key = out.AccessKey;
    if (!key?.AccessKeyId || !key.SecretAccessKey)
      throw ApplicationFailure.retryable(
        `IAM CreateAccessKey for ${input.user} answered without a key`,
        'AwsUnavailable',
      );
    const createDate = (key.CreateDate ?? new Date()).toISOString();
    const info = await store.write(
      pending,
      { [ID_KEY]: key.AccessKeyId, [SECRET_KEY]: key.SecretAccessKey },
      { annotations: { rotationId: input.rotationId, stage: 'pending', user: input.user, createDate } },
    );
    return { secret: pending, accessKeyId: key.AccessKeyId, createDate, fingerprint: info.fingerprint };
  }

  /** Undo of createStagedAccessKey: deletes the key this rotation created and recorded, and `<secret>-pending`; never the key the live secret holds, never a key it did not record. */
  async function discardStagedAccessKey(input: {
    user: string;
    secret: string;
    rotationId: string;
  }): Promise<{ deleted: string[] }> {
    const { pending } = siblings(input.secret);
    const p = await store.read(pending);
    if (p?.info.annotations.rotationId !== input.rotationId) return { deleted: [] }; // nothing staged by this run, or already discarded
    const live = await liveKeyId(input.secret);
    const id = p.data[ID_KEY];
    if (id === live)
      throw ApplicationFailure.nonRetryable(
        `secret ${input.secret} still holds ${id}: restore ${input.secret}-backup before deleting the new key`,
        'AccessKeyInUse',
      );
    if (!id) {
      const unknown = await unrecordedKeys(input.user, p, live);
      if (unknown.length > 0) throw unrecordedFailure(input.user, unknown, 'it was left in place');
    }
    const deleted = id && (await deleteAccessKey({ user: input.user, accessKeyId: id })).deleted ? [id] : [];
    await store.remove(pending);
    return { deleted };
  }

  /** Backup of the current secret, then the pending key merged into it (other keys byte for byte), guarded by its version. Idempotent. */
  async function promoteAwsCredential(input: {
    secret: string;
    rotationId: string;
  }): Promise<{ accessKeyId: string; previousAccessKeyId: string; fingerprint: string }> {
    const { pending, backup } = siblings(input.secret);
    const p = await must(pending);
    if (p.info.annotations.rotationId !== input.rotationId || !p.bytes[ID_KEY] || !p.bytes[SECRET_KEY])
      throw ApplicationFailure.nonRetryable(
        `secret ${pending} holds no key staged by this rotation`,
        'NothingToPromote',
      );
    const live = await must(input.secret);
    const b = await store.read(backup);
    const backedUp = b?.info.annotations.rotationId === input.rotationId;
    const previous = (backedUp ? b.data[ID_KEY] : live.data[ID_KEY]) ?? '';
    if (live.bytes[ID_KEY]?.equals(p.bytes[ID_KEY]) && live.bytes[SECRET_KEY]?.equals(p.bytes[SECRET_KEY]))
      return { accessKeyId: p.data[ID_KEY]!, previousAccessKeyId: previous, fingerprint: live.info.fingerprint };
    if (!backedUp)
      await store.write(backup, live.bytes, { annotations: { rotationId: input.rotationId, stage: 'backup' } });
    const info = await store.write(
      input.secret,
      { [ID_KEY]: p.bytes[ID_KEY], [SECRET_KEY]: p.bytes[SECRET_KEY] },
      {
        expectedVersion: live.info.version,
        mergeKeys: true,
        annotations: { rotationId: input.rotationId, stage: 'current' },
      },
    );
    return { accessKeyId: p.data[ID_KEY]!, previousAccessKeyId: previous, fingerprint: info.fingerprint };
  }

  /** Undo of promote: the secret exactly as it was. Without a backup the secret was never replaced: nothing to restore. */
  async function restoreAwsCredential(input: {
    secret: string;
    rotationId: string;
  }): Promise<{ accessKeyId: string; restored: boolean }> {
    const { backup } = siblings(input.secret);
    const b = await store.read(backup);
    if (!b) return { accessKeyId: await liveKeyId(input.secret), restored: false };
    if (b.info.annotations.rotationId !== input.rotationId)
      throw ApplicationFailure.nonRetryable(`secret ${backup} belongs to another rotation`, 'ForeignSecretVersion');
    const live = await must(input.secret);
    if (live.info.fingerprint === b.info.fingerprint) return { accessKeyId: b.data[ID_KEY] ?? '', restored: false };
    await store.write(input.secret, b.bytes, {
      expectedVersion: live.info.version,
      annotations: { rotationId: input.rotationId, stage: 'restored' },
    });
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
        return u.lastUsedDate !== null && Date.parse(u.lastUsedDate) > since
          ? { done: u }
          : { seen: `last used ${u.lastUsedDate ?? 'never'}` };
      },
      (seen) =>
        ApplicationFailure.nonRetryable(
          `access key ${input.accessKeyId} reported no use after ${input.since} within ${input.timeoutMs / 1000} s (${seen})`,
          'AccessKeyNotUsed',
        ),
    );
  }

  /** For `watchMs`, the old key's LastUsedDate must not pass `since` (the sink left it then): if it does, a client besides the sink still uses it. */
  async function watchOldKeyUnused(input: {
    accessKeyId: string;
    since: string;
    watchMs: number;
  }): Promise<{ lastUsedDate: string | null; watchedMs: number; polls: number }> {
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
          throw ApplicationFailure.nonRetryable(
            `access key ${input.accessKeyId} was used at ${last} (${u.serviceName}), after ${input.since}: something besides the sink still uses it`,
            'OldKeyStillUsed',
          );
        }
      }
      const left = input.watchMs - (Date.now() - t0);
      if (left <= 0) break;
      heartbeat(`${input.accessKeyId} last used ${last ?? 'never'}; ${Math.ceil(left / 1000)} s to watch`);
      await sleep(Math.min(5000, left));
    }
    if (polls === 0)
      throw ApplicationFailure.retryable(
        `could not read the last use of ${input.accessKeyId} during the watch`,
        'AwsUnavailable',
      );
    return { lastUsedDate: last, watchedMs: Date.now() - t0, polls };
  }

  return {
    describeAwsCredential,
    listAccessKeys,
    accessKeyLastUsed,
    setAccessKeyStatus,
    deleteAccessKey,
    createStagedAccessKey,
    discardStagedAccessKey,
    promoteAwsCredential,
    restoreAwsCredential,
    waitAccessKeyUsedSince,
    watchOldKeyUnused,
    ...createS3Activities({ aws, call, must, client, endpoint: deps.endpoint }),
  };
}
