import path from 'node:path';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  GetUserCommand,
  IAMClient,
  ListAccessKeysCommand,
  NoSuchEntityException,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { pipeline, type StackConfig } from './config.js';
import { runInstaller, spawnDetached, stopPid, waitFor } from './proc.js';
import { installScript, logPath, type Service } from './service.js';

// The SDK warns on every process that Node 20 support ends in 2027; the pinned versions here support it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const motoUrl = (cfg: StackConfig) => `http://127.0.0.1:${cfg.ports.moto}`;

/** The emulator's administrator (rekey's own IAM identity on the embedded stack), created at each start. */
export const awsAdminSecret = 'aws-admin';
/** Unauthenticated actions moto allows after a start: exactly the bootstrap below (create the admin, its policy, its key). */
const BOOTSTRAP_ACTIONS = 3;

/** Client settings for the emulator, signed with the admin's key (moto checks signatures and IAM policies). */
export async function awsClientConfig(cfg: StackConfig) {
  const admin = await new FileSecretStore(cfg.secretsDir).read(awsAdminSecret);
  if (!admin) throw new Error(`no ${awsAdminSecret} secret: start the aws-emulator with npm run stack:up`);
  return {
    endpoint: motoUrl(cfg),
    region: 'us-east-1',
    credentials: { accessKeyId: admin.data['access-key-id']!, secretAccessKey: admin.data['secret-access-key']! },
    forcePathStyle: true,
  };
}

const policy = (statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });

/** The first (and only) unauthenticated actions: an administrator and its key, kept in the file store. */
async function bootstrapAdmin(cfg: StackConfig): Promise<void> {
  const anonymous = new IAMClient({
    endpoint: motoUrl(cfg),
    region: 'us-east-1',
    credentials: { accessKeyId: 'bootstrap', secretAccessKey: 'bootstrap' },
  });
  await anonymous.send(new CreateUserCommand({ UserName: 'rekey-admin' }));
  await anonymous.send(
    new PutUserPolicyCommand({
      UserName: 'rekey-admin',
      PolicyName: 'administrator',
      PolicyDocument: policy([{ Effect: 'Allow', Action: '*', Resource: '*' }]),
    }),
  );
  const key = await anonymous.send(new CreateAccessKeyCommand({ UserName: 'rekey-admin' }));
  await new FileSecretStore(cfg.secretsDir).write(awsAdminSecret, {
    'access-key-id': key.AccessKey!.AccessKeyId!,
    'secret-access-key': key.AccessKey!.SecretAccessKey!,
  });
}

/**
 * moto server emulating IAM, STS and S3 with authentication enforced (its
 * INITIAL_NO_AUTH_ACTION_COUNT mode): requests must be signed by a key moto issued, and IAM
 * policies are checked. Its state is in memory: each start bootstraps an administrator, and
 * seed recreates the pipeline's user, its bucket-only policy, its key and the bucket.
 */
export const moto: Service = {
  name: 'aws-emulator',
  url: (cfg) => motoUrl(cfg),
  ports: (cfg) => [cfg.ports.moto],

  async install(cfg) {
    await runInstaller('aws-emulator', installScript('install-moto.sh'), { REKEY_CACHE: cfg.cache });
  },

  async start(cfg) {
    const log = logPath(cfg, 'aws-emulator');
    const pid = spawnDetached({
      name: 'aws-emulator',
      command: path.join(cfg.cache, `moto-${cfg.versions.moto}`, 'bin', 'moto_server'),
      args: ['-H', '127.0.0.1', '-p', String(cfg.ports.moto)],
      env: { INITIAL_NO_AUTH_ACTION_COUNT: String(BOOTSTRAP_ACTIONS) },
      runDir: cfg.runDir,
      logPath: log,
    });
    // moto's own API is not an AWS action: it does not use up the unauthenticated ones
    await waitFor(
      'aws-emulator',
      async () => (await fetch(`${motoUrl(cfg)}/moto-api/data.json`, { signal: AbortSignal.timeout(2000) })).ok,
      { timeoutMs: 60_000, logPath: log, pid },
    );
    await bootstrapAdmin(cfg);
  },

  async healthy(cfg) {
    const sts = new STSClient({ ...(await awsClientConfig(cfg)), maxAttempts: 1 });
    const id = await sts.send(new GetCallerIdentityCommand({}));
    return Boolean(id.Account);
  },

  async seed(cfg) {
    const iam = new IAMClient(await awsClientConfig(cfg));
    const s3 = new S3Client(await awsClientConfig(cfg));
    const store = new FileSecretStore(cfg.secretsDir);
    try {
      await iam.send(new GetUserCommand({ UserName: pipeline.awsUser }));
    } catch (err) {
      if (!(err instanceof NoSuchEntityException)) throw err;
      await iam.send(new CreateUserCommand({ UserName: pipeline.awsUser }));
    }
    // the sink's user may only write and read the archive bucket
    const bucketArn = `arn:aws:s3:::${pipeline.bucket}`;
    await iam.send(
      new PutUserPolicyCommand({
        UserName: pipeline.awsUser,
        PolicyName: 'archive-bucket-only',
        PolicyDocument: policy([
          {
            Effect: 'Allow',
            Action: ['s3:PutObject', 's3:GetObject', 's3:ListBucket', 's3:AbortMultipartUpload'],
            Resource: [bucketArn, `${bucketArn}/*`],
          },
        ]),
      }),
    );
    const keys = await iam.send(new ListAccessKeysCommand({ UserName: pipeline.awsUser }));
    const current = await store.read(pipeline.awsSecret);
    const known = keys.AccessKeyMetadata?.some((k) => k.AccessKeyId === current?.data['access-key-id']);
    if (!known) {
      const created = await iam.send(new CreateAccessKeyCommand({ UserName: pipeline.awsUser }));
      await store.write(pipeline.awsSecret, {
        'access-key-id': created.AccessKey!.AccessKeyId!,
        'secret-access-key': created.AccessKey!.SecretAccessKey!,
      });
    }
    try {
      await s3.send(new HeadBucketCommand({ Bucket: pipeline.bucket }));
    } catch {
      await s3.send(new CreateBucketCommand({ Bucket: pipeline.bucket }));
    }
  },

  async stop(cfg) {
    await stopPid(cfg.runDir, 'aws-emulator');
  },
};
