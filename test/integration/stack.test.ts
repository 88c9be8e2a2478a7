import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createCdcDecoder } from '../../scripts/lib/cdcDecode.js';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateAccessKeyCommand, DeleteAccessKeyCommand, IAMClient, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { Kafka, logLevel } from 'kafkajs';
import { loadStackConfig, pipeline } from '../../scripts/stack/config.js';
import { awsClientConfig } from '../../scripts/stack/moto.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { registryUrl } from '../../scripts/stack/registry.js';
import { status } from '../../scripts/stack/stack.js';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { startPostgresCdcRotation } from '../../workers/startRotation.js';
import { startTestWorker, type TestWorker } from '../helpers.js';

const cfg = loadStackConfig();

describe('embedded stack', () => {
  it('reports every service healthy', async () => {
    const list = await status(cfg);
    expect(list.map((s) => s.name).sort()).toEqual([
      'aws-emulator',
      'codec-server',
      'kafka',
      'kafka-connect',
      'kubelet',
      'kubernetes',
      'postgres',
      's3-sink',
      'schema-registry',
      'temporal',
    ]);
    for (const s of list) expect(s, s.name).toMatchObject({ healthy: true });
  });

  it('serves the Temporal Web UI', async () => {
    const res = await fetch(`http://127.0.0.1:${cfg.ports.temporalUi}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<html');
  });

  it('runs PostgreSQL with logical decoding and the Debezium parent role', async () => {
    const db = await adminClient(cfg, pipeline.database);
    try {
      expect((await db.query('SHOW wal_level')).rows[0].wal_level).toBe('logical');
      const role = await db.query('SELECT rolcanlogin FROM pg_roles WHERE rolname = $1', [pipeline.parentRole]);
      expect(role.rows[0]).toEqual({ rolcanlogin: false });
      const owner = await db.query('SELECT pg_get_userbyid(pubowner) AS owner FROM pg_publication WHERE pubname = $1', [
        pipeline.publication,
      ]);
      expect(owner.rows[0].owner).toBe(pipeline.parentRole);
    } finally {
      await db.end();
    }
  });

  it('delivers an inserted users row to Kafka through Debezium', async () => {
    const email = `stack-test-${randomBytes(4).toString('hex')}@example.invalid`;
    const kafka = new Kafka({
      clientId: 'rekey-test',
      brokers: [`127.0.0.1:${cfg.ports.kafka}`],
      logLevel: logLevel.NOTHING,
    });
    const consumer = kafka.consumer({ groupId: `rekey-test-${email}` });
    await consumer.connect();
    await consumer.subscribe({ topic: pipeline.usersTopic, fromBeginning: true });
    const decode = createCdcDecoder();
    const seen = new Promise<Record<string, unknown>>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          const event = await decode(message.value!);
          if (event.after?.email === email) resolve(event as Record<string, unknown>);
        },
      });
    });
    const db = await adminClient(cfg, pipeline.database);
    await db.query('INSERT INTO public.users (email, name) VALUES ($1, $2)', [email, 'stack test']);
    await db.end();
    const event = await Promise.race([
      seen,
      new Promise((_, reject) => setTimeout(() => reject(new Error('row not delivered within 60 s')), 60_000)),
    ]);
    expect(event).toMatchObject({ op: 'c', after: { email, name: 'stack test' } });
    await consumer.disconnect();
  });

  it('Schema Registry refuses a request without credentials and accepts one with them', async () => {
    const anonymous = await fetch(`${registryUrl(cfg)}/subjects`);
    expect(anonymous.status).toBe(401);
    const secret = (await new FileSecretStore(cfg.secretsDir).read(pipeline.registrySecret))!;
    const wrong = await fetch(`${registryUrl(cfg)}/subjects`, {
      headers: { authorization: `Basic ${Buffer.from('admin:not-the-password').toString('base64')}` },
    });
    expect(wrong.status).toBe(401);
    const auth = Buffer.from(`${secret.data['admin-user']}:${secret.data['admin-password']}`).toString('base64');
    const ok = await fetch(`${registryUrl(cfg)}/subjects`, { headers: { authorization: `Basic ${auth}` } });
    expect(ok.status).toBe(200);
    expect(Array.isArray(await ok.json())).toBe(true);
  });

  it('the AWS emulator creates and lists an IAM access key', async () => {
    const iam = new IAMClient(await awsClientConfig(cfg));
    const created = await iam.send(new CreateAccessKeyCommand({ UserName: pipeline.awsUser }));
    const id = created.AccessKey!.AccessKeyId!;
    try {
      const listed = await iam.send(new ListAccessKeysCommand({ UserName: pipeline.awsUser }));
      expect(listed.AccessKeyMetadata?.map((k) => k.AccessKeyId)).toContain(id);
    } finally {
      await iam.send(new DeleteAccessKeyCommand({ UserName: pipeline.awsUser, AccessKeyId: id }));
    }
  });
});

describe('the AWS emulator enforces authentication and the sink user`s policy', () => {
  const s3As = async (creds: { accessKeyId: string; secretAccessKey: string }) =>
    new S3Client({ ...(await awsClientConfig(cfg)), credentials: creds });
  const putAs = async (creds: { accessKeyId: string; secretAccessKey: string }, bucket: string) =>
    (await s3As(creds))
      .send(
        new PutObjectCommand({ Bucket: bucket, Key: `stack-test/${randomBytes(3).toString('hex')}.json`, Body: '{}' }),
      )
      .then(
        () => 'ok',
        (e: Error) => e.name,
      );

  it('a key moto never issued is refused; the sink user writes its bucket and nothing else', async () => {
    expect(await putAs({ accessKeyId: 'AKIAFORGEDFORGED0000', secretAccessKey: 'forged' }, pipeline.bucket)).toBe(
      'InvalidAccessKeyId',
    );
    const sink = (await new FileSecretStore(cfg.secretsDir).read(pipeline.awsSecret))!;
    const creds = { accessKeyId: sink.data['access-key-id']!, secretAccessKey: sink.data['secret-access-key']! };
    expect(await putAs(creds, pipeline.bucket)).toBe('ok');
    const admin = new S3Client(await awsClientConfig(cfg));
    await admin.send(new CreateBucketCommand({ Bucket: 'stack-test-other-bucket' })).catch(() => undefined);
    expect(await putAs(creds, 'stack-test-other-bucket')).toBe('AccessDenied');
  });
});

describe('worker on the dev server', () => {
  let w: TestWorker;
  beforeAll(async () => {
    w = await startTestWorker();
  });
  afterAll(async () => {
    await w?.stop();
  });

  it('runs a workflow end to end (a dry-run rotation: real pre-flight, no change)', async () => {
    const handle = await startPostgresCdcRotation(
      w.client,
      { target: `dry-${randomBytes(3).toString('hex')}`, dryRun: true, requestedBy: 'test' },
      { taskQueue: w.taskQueue },
    );
    const result = await handle.result();
    expect(result.status).toBe('dry-run');
    const current = (await new FileSecretStore(cfg.secretsDir).read(pipeline.cdcSecret))!;
    expect(result.from).toBe(current.data['db-username']);
    expect(result.to).toMatch(/^debezium_\d{8}_\d{4,6}$/);
    expect(result.workflowId).toMatch(/^rotate-postgresql-cdc\/debezium-credentials\/dry-run\//);
    const history = await handle.fetchHistory();
    // payloads are encrypted by the codec: the input's reason is not readable in history
    const raw = JSON.stringify(history);
    expect(raw).toContain('YmluYXJ5L2VuY3J5cHRlZA'); // base64 of "binary/encrypted"
  });

  it('the Web UI codec endpoint decrypts what the worker encrypted (and only for the UI origin)', async () => {
    const handle = await startPostgresCdcRotation(
      w.client,
      { target: `ui-${randomBytes(3).toString('hex')}`, dryRun: true, reason: 'codec-check' },
      { taskQueue: w.taskQueue },
    );
    await handle.result();
    const history = await handle.fetchHistory();
    const input = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    const body = JSON.stringify({
      payloads: [
        {
          metadata: Object.fromEntries(
            Object.entries(input.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
          ),
          data: Buffer.from(input.data!).toString('base64'),
        },
      ],
    });
    const ui = `http://127.0.0.1:${cfg.ports.temporalUi}`;
    const res = await fetch(`http://127.0.0.1:${cfg.ports.codec}/decode`, {
      method: 'POST',
      body,
      headers: { origin: ui, 'content-type': 'application/json' },
    });
    expect(res.headers.get('access-control-allow-origin')).toBe(ui);
    const decoded = (await res.json()) as { payloads: Array<{ data: string }> };
    expect(JSON.parse(Buffer.from(decoded.payloads[0]!.data, 'base64').toString())).toMatchObject({
      reason: 'codec-check',
      dryRun: true,
    });
    const foreign = await fetch(`http://127.0.0.1:${cfg.ports.codec}/decode`, {
      method: 'POST',
      body,
      headers: { origin: 'http://evil.example' },
    });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  });
});
