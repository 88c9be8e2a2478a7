import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  IAMClient,
  ListAccessKeysCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import { createAwsActivities } from '../../activities/aws.js';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { siblings } from '../../activities/secrets/store.js';
import { awsClientConfig } from '../../scripts/stack/moto.js';
import { pipeline } from '../../scripts/stack/config.js';
import { cfg, failure, run } from './pgActivities.js';

/**
 * The IAM key activities against the AWS emulator, on a user of their own: which keys a
 * retry may delete, and S3's own answer to a new and a deleted key.
 */
const user = `rekey-it-${randomBytes(3).toString('hex')}`;
const secret = 'aws-it';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-aws-it-'));
const store = new FileSecretStore(dir);
let iam: IAMClient;
let aws: ReturnType<typeof createAwsActivities>;
let bucket: string;

const keysOf = async () =>
  ((await iam.send(new ListAccessKeysCommand({ UserName: user }))).AccessKeyMetadata ?? [])
    .map((k) => k.AccessKeyId!)
    .sort();
const newKey = async () => (await iam.send(new CreateAccessKeyCommand({ UserName: user }))).AccessKey!;

beforeAll(async () => {
  const client = await awsClientConfig(cfg);
  iam = new IAMClient(client);
  aws = createAwsActivities({
    store,
    region: client.region,
    endpoint: client.endpoint,
    credentials: client.credentials,
  });
  bucket = pipeline.bucket;
  await iam.send(new CreateUserCommand({ UserName: user }));
  await iam.send(
    new PutUserPolicyCommand({
      UserName: user,
      PolicyName: 'list',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 's3:ListBucket', Resource: '*' }],
      }),
    }),
  );
  const live = await newKey();
  await store.write(secret, { 'access-key-id': live.AccessKeyId!, 'secret-access-key': live.SecretAccessKey! });
});
afterAll(() => {
  iam?.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('IAM access keys on the emulator', () => {
  it('a retry after a lost CreateAccessKey answer deletes no key it did not record, names it, and converges once an operator removed it', async () => {
    const rotationId = 'rotate-aws-keys/aws-it/run-1';
    const live = (await store.read(secret))!.data['access-key-id']!;
    // the first attempt's marker, then its key: IAM created it, the answer never came back
    await store.write(
      siblings(secret).pending,
      {},
      { annotations: { rotationId, stage: 'creating', user, keysBefore: live } },
    );
    const foreign = (await newKey()).AccessKeyId!;

    const retry = await failure(run(aws.createStagedAccessKey, { user, secret, rotationId }));
    expect(retry.type).toBe('UnrecordedAccessKey');
    expect(retry.message).toContain(foreign);
    const undo = await failure(run(aws.discardStagedAccessKey, { user, secret, rotationId }));
    expect(undo.type).toBe('UnrecordedAccessKey');
    expect(await keysOf()).toEqual([live, foreign].sort());

    // the operator deletes it; the retry creates and records a key, which S3 accepts and the undo deletes
    await iam.send(new DeleteAccessKeyCommand({ UserName: user, AccessKeyId: foreign }));
    const staged = await run(aws.createStagedAccessKey, { user, secret, rotationId });
    expect(await keysOf()).toEqual([live, staged.accessKeyId].sort());
    const accepted = await run(aws.waitAccessKeyAccepted, {
      secret: siblings(secret).pending,
      bucket,
      timeoutMs: 30_000,
    });
    expect(accepted).toMatchObject({ accessKeyId: staged.accessKeyId, code: 'accepted (HTTP 200)' });
    expect(await run(aws.discardStagedAccessKey, { user, secret, rotationId })).toEqual({
      deleted: [staged.accessKeyId],
    });
    expect(await keysOf()).toEqual([live]);
    expect(await store.read(siblings(secret).pending)).toBeUndefined();
  });

  it("S3's answer to a key: waitAccessKeyAccepted fails naming a key S3 refuses", async () => {
    const k = await newKey();
    await store.write('aws-it-gone', { 'access-key-id': k.AccessKeyId!, 'secret-access-key': k.SecretAccessKey! });
    await iam.send(new DeleteAccessKeyCommand({ UserName: user, AccessKeyId: k.AccessKeyId! }));
    const refused = await run(aws.waitAccessKeyRefused, { secret: 'aws-it-gone', bucket, timeoutMs: 30_000 });
    expect(refused.code).toMatch(/InvalidAccessKeyId|InvalidClientTokenId/);
    const notAccepted = await failure(run(aws.waitAccessKeyAccepted, { secret: 'aws-it-gone', bucket, timeoutMs: 1 }));
    expect(notAccepted.type).toBe('NewKeyNotAccepted');
    expect(notAccepted.message).toContain(k.AccessKeyId!);
    expect(notAccepted.message).not.toContain(k.SecretAccessKey!);
  });
});
