import type { _Object } from '@aws-sdk/client-s3';
import { awsSdk } from './awsSdk.js';
import { newestArchiveObjects } from './s3Archive.js';
import type { AwsDeps } from './aws.js';
import { fail, list, runCheck, verdict, type CheckResult } from './checks.js';
import { checklist } from '../contracts/checklist.js';

const lines = checklist.s3;
/** How many of the newest objects have their key checked against the sink's layout. */
const SAMPLE = 20;

export interface S3ValidationInput {
  /** The sink's key: `access-key-id`, `secret-access-key`. */
  secret: string;
  bucket: string;
  /** Where the sink writes: `<prefix><topic>/partition=<p>/dt=<YYYY-MM-DD>/hour=<HH>/<topic>+<p>+<offset>.jsonl`. */
  prefix: string;
}

const codeOf = (err: unknown) =>
  ((err as { Code?: string; name?: string }).Code ?? (err as Error).name ?? 'Error').replace(/Exception$/, '');
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The S3 sink's credentials and archive, read only: its own key for what it must be able to do, rekey's identity for the layout. */
export function createAwsValidation(deps: AwsDeps) {
  const client = { region: deps.region, ...(deps.endpoint ? { endpoint: deps.endpoint, forcePathStyle: true } : {}) };
  const own = deps.credentials ? { credentials: deps.credentials } : {};

  async function sinkKey(secret: string) {
    const s = await deps.store.read(secret);
    const accessKeyId = s?.data['access-key-id'];
    const secretAccessKey = s?.data['secret-access-key'];
    return accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined;
  }

  async function credentialsConfigured(secret: string) {
    const key = await sinkKey(secret);
    if (!key) return fail(`secret ${secret} lacks access-key-id/secret-access-key`);
    const { sts: stsSdk, iam: iamSdk } = await awsSdk();
    const sts = new stsSdk.STSClient({ ...client, credentials: key, maxAttempts: 1 });
    try {
      const who = await sts.send(new stsSdk.GetCallerIdentityCommand({})).catch((e: unknown) => codeOf(e));
      if (typeof who === 'string') return fail(`key ${key.accessKeyId}: STS GetCallerIdentity refused it (${who})`);
      const user = who.Arn?.split(':user/')[1];
      if (!user) return fail(`key ${key.accessKeyId} is ${who.Arn}, not an IAM user`);
      const iam = new iamSdk.IAMClient({ ...client, ...own });
      const keys =
        (await iam.send(new iamSdk.ListAccessKeysCommand({ UserName: user.split('/').pop() }))).AccessKeyMetadata ?? [];
      iam.destroy();
      const status = keys.find((k) => k.AccessKeyId === key.accessKeyId)?.Status ?? 'not listed';
      return verdict(
        status === 'Active',
        `key ${key.accessKeyId} of ${who.Arn}: ${status} (user has ${keys.length} key(s))`,
      );
    } finally {
      sts.destroy();
    }
  }

  async function listWithSinkKey(input: S3ValidationInput) {
    const key = await sinkKey(input.secret);
    if (!key) return fail(`secret ${input.secret} lacks access-key-id/secret-access-key`);
    const { s3: s3Sdk } = await awsSdk();
    const s3 = new s3Sdk.S3Client({ ...client, credentials: key, maxAttempts: 1 });
    try {
      const out = await s3
        .send(new s3Sdk.ListObjectsV2Command({ Bucket: input.bucket, Prefix: input.prefix, MaxKeys: 10 }))
        .catch((e: unknown) => codeOf(e));
      if (typeof out === 'string') return fail(`signed with ${key.accessKeyId}: ${out}`);
      return verdict(
        true,
        `signed with ${key.accessKeyId}: HTTP 200, ${out.KeyCount ?? 0} key(s) in the first page${out.IsTruncated ? ' (more follow)' : ''}`,
      );
    } finally {
      s3.destroy();
    }
  }

  /** The SAMPLE newest objects, from the archive's newest folders only (see s3Archive.ts). */
  async function newestObjects(bucket: string, prefix: string): Promise<_Object[]> {
    const { s3: s3Sdk } = await awsSdk();
    const s3 = new s3Sdk.S3Client({ ...client, ...own });
    try {
      const all = await newestArchiveObjects(
        (p, opts) =>
          s3.send(
            new s3Sdk.ListObjectsV2Command({
              Bucket: bucket,
              Prefix: p,
              Delimiter: opts.delimiter,
              ContinuationToken: opts.token,
            }),
          ),
        prefix,
      );
      return all.sort((a, b) => (b.LastModified?.getTime() ?? 0) - (a.LastModified?.getTime() ?? 0)).slice(0, SAMPLE);
    } finally {
      s3.destroy();
    }
  }

  async function partitioning(input: S3ValidationInput) {
    const objects = await newestObjects(input.bucket, input.prefix);
    if (objects.length === 0) return fail(`no object under s3://${input.bucket}/${input.prefix}: nothing archived yet`);
    const layout = new RegExp(
      `^${escape(input.prefix)}([^/]+)/partition=(\\d+)/dt=(\\d{4}-\\d{2}-\\d{2})/hour=(\\d{2})/([^/+]+)\\+(\\d+)\\+(\\d+)\\.jsonl$`,
    );
    const wrong = objects.filter((o) => {
      const m = layout.exec(o.Key ?? '');
      // the topic and partition in the file name match the folders; dt/hour match the write time's day (UTC)
      return !m || m[1] !== m[5] || m[2] !== m[6];
    });
    const newest = objects[0]!;
    const saw = `${objects.length} newest object(s) checked, newest ${newest.Key} at ${newest.LastModified?.toISOString() ?? '?'}; not matching: ${list(wrong.map((o) => o.Key ?? '?').slice(0, 3))}`;
    return verdict(wrong.length === 0, saw);
  }

  async function validateS3(input: S3ValidationInput): Promise<CheckResult[]> {
    const where = `s3://${input.bucket}/${input.prefix}`;
    return [
      await runCheck(
        's3',
        lines.credentials,
        `secret ${input.secret}; STS GetCallerIdentity signed with its key; IAM ListAccessKeys of that user`,
        'both keys present, the key authenticates and is Active',
        () => credentialsConfigured(input.secret),
      ),
      await runCheck(
        's3',
        lines.list,
        `S3 ListObjectsV2 ${where} signed with the key in ${input.secret}`,
        'HTTP 200 (the key may list the bucket)',
        () => listWithSinkKey(input),
      ),
      await runCheck(
        's3',
        lines.partitioning,
        `S3 ListObjectsV2 ${where} (rekey's identity), the ${SAMPLE} newest keys`,
        `${input.prefix}<topic>/partition=<p>/dt=<YYYY-MM-DD>/hour=<HH>/<topic>+<p>+<offset>.jsonl`,
        () => partitioning(input),
      ),
    ];
  }

  return { validateS3 };
}
