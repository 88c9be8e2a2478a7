import path from 'node:path';
import { CreateAccessKeyCommand, CreateUserCommand, GetUserCommand, IAMClient, ListAccessKeysCommand, NoSuchEntityException } from '@aws-sdk/client-iam';
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { pipeline, type StackConfig } from './config.js';
import { runInstaller, spawnDetached, stopPid, waitFor } from './proc.js';
import { installScript, logPath, type Service } from './service.js';

// The SDK warns on every process that Node 20 support ends in 2027; the pinned versions here support it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const motoUrl = (cfg: StackConfig) => `http://127.0.0.1:${cfg.ports.moto}`;

/** Client settings for the emulator; moto accepts any key while auth is off. */
export const awsClientConfig = (cfg: StackConfig) => ({
  endpoint: motoUrl(cfg),
  region: 'us-east-1',
  credentials: { accessKeyId: 'rekey-admin', secretAccessKey: 'rekey-admin' },
  forcePathStyle: true,
});

/** moto server emulating IAM, STS and S3. Its state is in memory: seed recreates the user and key after a restart. */
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
      runDir: cfg.runDir,
      logPath: log,
    });
    await waitFor('aws-emulator', () => moto.healthy(cfg), { timeoutMs: 60_000, logPath: log, pid });
  },

  async healthy(cfg) {
    const sts = new STSClient({ ...awsClientConfig(cfg), maxAttempts: 1 });
    const id = await sts.send(new GetCallerIdentityCommand({}));
    return Boolean(id.Account);
  },

  async seed(cfg) {
    const iam = new IAMClient(awsClientConfig(cfg));
    const s3 = new S3Client(awsClientConfig(cfg));
    const store = new FileSecretStore(cfg.secretsDir);
    try {
      await iam.send(new GetUserCommand({ UserName: pipeline.awsUser }));
    } catch (err) {
      if (!(err instanceof NoSuchEntityException)) throw err;
      await iam.send(new CreateUserCommand({ UserName: pipeline.awsUser }));
    }
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
