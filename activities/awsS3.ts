import { gunzipSync } from 'node:zlib';
import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import type { S3Client } from '@aws-sdk/client-s3';
import type { AwsSdk } from './awsSdk.js';
import { codeOf, ID_KEY, SECRET_KEY, until } from './awsCalls.js';
import type { StoredSecret } from './secrets/store.js';
import { type ListPage, newestArchiveObjects } from './s3Archive.js';

/** Objects larger than this are not read for a canary (a canary topic's files hold a few records). */
const MAX_CANARY_OBJECT_BYTES = 16 * 1024 * 1024;
/** At most this many of the newest objects are read per look. */
const MAX_CANARY_OBJECTS = 20;

/** Answers that mean "this key does not exist (any more)": the proof that a deleted key is refused. */
const REFUSED = new Set(['InvalidAccessKeyId', 'InvalidClientTokenId']);
const ACCEPTED = 'accepted (HTTP 200)';

interface S3Context {
  aws: () => Promise<{ sdk: AwsSdk; s3: S3Client }>;
  call: <T>(what: string, run: () => Promise<T>) => Promise<T>;
  must: (secret: string) => Promise<StoredSecret>;
  client: { region: string; endpoint?: string };
  endpoint?: string;
}

/**
 * The archive the S3 sink writes, and S3's own answer to a given key: signed with that key,
 * not the worker's, because what counts is whether S3 accepts it (IAM is eventually
 * consistent: a new or reactivated key may be refused for seconds, a deleted one accepted).
 */
export function createS3Activities(ctx: S3Context) {
  const { aws, call, must } = ctx;

  /** One ListObjectsV2 page, signed with rekey's identity. */
  async function listPage(bucket: string, prefix: string, opts: { delimiter?: string; token?: string }) {
    const { sdk, s3 } = await aws();
    return call(`S3 ListObjectsV2 s3://${bucket}/${prefix}`, () =>
      s3.send(
        new sdk.s3.ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          Delimiter: opts.delimiter,
          ContinuationToken: opts.token,
        }),
      ),
    );
  }

  /** The newest object under the prefix modified after `since`, or null; only the archive's newest folders are listed. */
  async function newestObjectSince(input: {
    bucket: string;
    prefix: string;
    since: string;
  }): Promise<{ key: string; lastModified: string } | null> {
    const since = Date.parse(input.since);
    const list: ListPage = (prefix, opts) => listPage(input.bucket, prefix, opts);
    const objects = await newestArchiveObjects(list, input.prefix, (folder, pages) =>
      heartbeat(`listed ${pages} page(s) of s3://${input.bucket}/${folder}`),
    );
    let newest: { key: string; at: number } | null = null;
    for (const o of objects) {
      const at = o.LastModified?.getTime() ?? 0;
      if (o.Key && at > since && (!newest || at > newest.at)) newest = { key: o.Key, at };
    }
    return newest && { key: newest.key, lastModified: new Date(newest.at).toISOString() };
  }

  /**
   * The newest object under `prefix`, written after `since`, whose bytes hold `marker` (a
   * gzip object, `.gz`, is read unpacked): the canary rekey wrote, archived by the sink. JSON
   * and Avro files carry a string's bytes as they are; a Parquet file compresses them, so a
   * Parquet sink cannot be proven this way (the runbook says so).
   */
  async function archivedMarker(input: {
    bucket: string;
    prefix: string;
    marker: string;
    since: string;
  }): Promise<{ key: string; lastModified: string } | null> {
    const since = Date.parse(input.since);
    const list: ListPage = (prefix, opts) => listPage(input.bucket, prefix, opts);
    const fresh = (await newestArchiveObjects(list, input.prefix))
      .filter((o) => o.Key && (o.LastModified?.getTime() ?? 0) > since && (o.Size ?? 0) <= MAX_CANARY_OBJECT_BYTES)
      .sort((a, b) => b.LastModified!.getTime() - a.LastModified!.getTime())
      .slice(0, MAX_CANARY_OBJECTS);
    const { sdk, s3 } = await aws();
    for (const o of fresh) {
      const out = await call(`S3 GetObject s3://${input.bucket}/${o.Key}`, () =>
        s3.send(new sdk.s3.GetObjectCommand({ Bucket: input.bucket, Key: o.Key })),
      );
      const raw = Buffer.from((await out.Body?.transformToByteArray()) ?? []);
      const bytes = o.Key!.endsWith('.gz') ? gunzipSync(raw) : raw;
      if (bytes.includes(input.marker)) return { key: o.Key!, lastModified: o.LastModified!.toISOString() };
    }
    return null;
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
      (seen) =>
        ApplicationFailure.nonRetryable(
          `${seen} within ${input.timeoutMs / 1000} s: is the sink writing?`,
          'NoFreshObject',
        ),
    );
  }

  /** Polls S3 with a ListObjectsV2 signed by the key in `secret` until `settled(answer)`; the answer is an error code or ACCEPTED. */
  async function probeKey(
    secret: string,
    bucket: string,
    timeoutMs: number,
    settled: (answer: string) => boolean,
    onTimeout: (accessKeyId: string, seen: string) => ApplicationFailure,
  ) {
    const s = await must(secret);
    const accessKeyId = s.data[ID_KEY];
    const secretAccessKey = s.data[SECRET_KEY];
    if (!accessKeyId || !secretAccessKey)
      throw ApplicationFailure.nonRetryable(`secret ${secret} has no ${ID_KEY}/${SECRET_KEY}`, 'NoSuchCredential');
    const { sdk } = await aws();
    const probe = new sdk.s3.S3Client({
      ...ctx.client,
      forcePathStyle: Boolean(ctx.endpoint),
      credentials: { accessKeyId, secretAccessKey },
      maxAttempts: 1,
    });
    try {
      return await until(
        timeoutMs,
        2000,
        async () => {
          const code = await probe
            .send(new sdk.s3.ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1 }))
            .then(() => ACCEPTED, codeOf);
          return settled(code) ? { done: { accessKeyId, code } } : { seen: code };
        },
        (seen) => onTimeout(accessKeyId, seen),
      );
    } finally {
      probe.destroy();
    }
  }

  /** Signs an S3 request with the key stored in `secret` (the old key, in `-backup`) until S3 refuses the key as unknown (deleted). */
  async function waitAccessKeyRefused(input: {
    secret: string;
    bucket: string;
    timeoutMs: number;
  }): Promise<{ accessKeyId: string; code: string; waitedMs: number }> {
    return probeKey(
      input.secret,
      input.bucket,
      input.timeoutMs,
      (code) => REFUSED.has(code),
      (id, seen) =>
        ApplicationFailure.nonRetryable(
          `S3 did not refuse ${id} within ${input.timeoutMs / 1000} s (last answer: ${seen})`,
          'OldKeyStillAccepted',
        ),
    );
  }

  /**
   * Signs an S3 request with the key stored in `secret` until S3 accepts it: a key IAM just
   * created or reactivated may be refused for a while ("changes … are eventually consistent",
   * IAM user guide), and the sink fails its task on a refusal without retrying. Only then may
   * the sink be pointed at it.
   */
  async function waitAccessKeyAccepted(input: {
    secret: string;
    bucket: string;
    timeoutMs: number;
  }): Promise<{ accessKeyId: string; code: string; waitedMs: number }> {
    return probeKey(
      input.secret,
      input.bucket,
      input.timeoutMs,
      (code) => code === ACCEPTED,
      (id, seen) =>
        ApplicationFailure.nonRetryable(
          `S3 did not accept ${id} within ${input.timeoutMs / 1000} s (last answer: ${seen})`,
          'NewKeyNotAccepted',
        ),
    );
  }

  return { newestObjectSince, waitObjectSince, archivedMarker, waitAccessKeyRefused, waitAccessKeyAccepted };
}
