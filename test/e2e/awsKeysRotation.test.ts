import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { IAMClient, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { adminClient } from '../../scripts/stack/postgres.js';
import { startAwsKeysRotation } from '../../workers/startRotation.js';
import type { RotationResult } from '../../workflows/rotation/index.js';
import { pipeline } from '../../scripts/stack/config.js';
import { awsClientConfig } from '../../scripts/stack/moto.js';
import { rotateAwsUnderLoad } from '../../scripts/lib/awsMeasure.js';
import type { TestWorker } from '../helpers.js';
import { startServiceAccountWorker } from './rotationHarness.js';
import { cfg, stopLeftover } from './pipeline.js';
import { adminKubeConfig, kubeNamespace } from '../../scripts/stack/kube.js';
import { usePipelineStore } from '../../scripts/stack/pipelineStore.js';
import { KubernetesSecretStore } from '../../activities/secrets/kubernetesStore.js';
import { recordHistory } from './histories.js';
import { kafkaBootstrap } from '../../scripts/stack/kafka.js';
import { connectFetch } from '../../scripts/stack/connectRest.js';

/**
 * The AWS key rotation with S3 in the data path, as production runs it: the key in the
 * Kubernetes Secret `aws-credentials`, read by the S3 sink through Strimzi's provider, and the
 * worker acting as the rekey-worker ServiceAccount (deploy/rbac.yaml, the admission policy).
 * The stack's S3 sink archives the CDC topic, moto checks every signature. Measured as an auditor
 * would: the archive against the rows inserted (0 lost), the sink's task never FAILED
 * (no AccessDenied/InvalidAccessKeyId), and at the end the old key is gone and refused.
 */
let w: TestWorker;
let running: WorkflowHandle | undefined;
const store = new KubernetesSecretStore(adminKubeConfig(cfg), kubeNamespace);
beforeAll(async () => {
  // start from a running sink: a task an earlier file's registry restart failed is not this file's subject
  await connectFetch(
    `http://127.0.0.1:${cfg.ports.connect}/connectors/s3-sink-connector/restart?includeTasks=true&onlyFailed=true`,
    { method: 'POST' },
  );
  await usePipelineStore(cfg, 'kubernetes');
  w = await startServiceAccountWorker();
});
afterAll(async () => {
  await stopLeftover(running);
  await w?.stop();
  await usePipelineStore(cfg, 'file');
});

const sinkKey = async () => {
  const s = (await store.read(pipeline.awsSecret))!;
  return { accessKeyId: s.data['access-key-id']!, secretAccessKey: s.data['secret-access-key']! };
};
const keysOfUser = async () => {
  const iam = new IAMClient(await awsClientConfig(cfg));
  return ((await iam.send(new ListAccessKeysCommand({ UserName: pipeline.awsUser }))).AccessKeyMetadata ?? []).map(
    (k) => ({ id: k.AccessKeyId!, status: k.Status! }),
  );
};
/** PutObject into the archive bucket signed with `creds`: 'ok' or the S3 error name. */
const putWith = async (creds: { accessKeyId: string; secretAccessKey: string }) =>
  new S3Client({ ...(await awsClientConfig(cfg)), credentials: creds })
    .send(new PutObjectCommand({ Bucket: pipeline.bucket, Key: `e2e-probe/${Date.now()}.json`, Body: '{}' }))
    .then(
      () => 'ok',
      (e: Error) => e.name,
    );

const rotateUnderLoad = (input: Record<string, unknown>) =>
  rotateAwsUnderLoad({
    client: w.client,
    stack: cfg,
    brokers: [kafkaBootstrap(cfg)],
    taskQueue: w.taskQueue,
    input,
    rate: 40,
    onStart: (h) => (running = h),
  }).finally(() => (running = undefined));

describe('AWS access-key rotation with S3 in the data path', () => {
  it('rotates under CDC load: 0 lost in the archive, the sink never refused, the old key deleted and refused', async () => {
    const old = await sinkKey();
    expect(await putWith(old)).toBe('ok');
    const r = await rotateUnderLoad({ gracePeriod: 'PT1S', watchSeconds: 10 });
    console.info(
      `aws rotation: ${JSON.stringify({ archive: r.archive, sinkTaskStates: r.sinkTaskStates, steps: r.result?.steps.map((s) => `${s.name}:${s.outcome}`) })}`,
    );
    expect(r.error).toBeUndefined();
    expect(r.result!.status).toBe('completed');
    expect(r.archive.lost).toBe(0);
    expect(r.archive.inserted).toBeGreaterThan(20);
    expect(r.sinkTaskStates.FAILED ?? 0).toBe(0);
    const now = await sinkKey();
    expect(now.accessKeyId).not.toBe(old.accessKeyId);
    expect(await keysOfUser()).toEqual([{ id: now.accessKeyId, status: 'Active' }]);
    // deleted means refused, on moto as on AWS
    expect(await putWith(old)).toBe('InvalidAccessKeyId');
    expect(await putWith(now)).toBe('ok');
    expect(await store.read(`${pipeline.awsSecret}-pending`)).toBeUndefined();
    expect(await store.read(`${pipeline.awsSecret}-backup`)).toBeUndefined();
    await recordHistory(r.handle, 'v8-kit-aws-keys-completed');
  });

  it('on a quiet pipeline (no change events at all) a canary row through the sink proves the switch: its object holds the marker, the row is gone after', async () => {
    const old = await sinkKey();
    const handle = await startAwsKeysRotation(
      w.client,
      { target: 'datapipe-archive', requestedBy: 'e2e', gracePeriod: 'PT1S', watchSeconds: 10 },
      { taskQueue: w.taskQueue },
    );
    running = handle;
    const result = (await handle.result()) as RotationResult;
    running = undefined;
    expect(result.status).toBe('completed');
    const archived = result.steps.find((s) => s.name === 'canary-archived')!;
    expect(archived.outcome).toBe('ok');
    const key = /^(topics\/ecommerce\.public\.rekey_canary\/\S+)/.exec(archived.detail ?? '')?.[1];
    expect(key, archived.detail).toBeDefined();
    // read back as an auditor would, with the new key: the object the sink wrote holds this run's marker
    const now = await sinkKey();
    expect(now.accessKeyId).not.toBe(old.accessKeyId);
    const s3 = new S3Client({ ...(await awsClientConfig(cfg)), credentials: now });
    const body = await (
      await s3.send(new GetObjectCommand({ Bucket: pipeline.bucket, Key: key! }))
    ).Body!.transformToString();
    expect(body).toContain(`rekey-${handle.firstExecutionRunId}`);
    const db = await adminClient(cfg, pipeline.database);
    try {
      expect(
        (
          await db.query('SELECT count(*)::int AS n FROM public.rekey_canary WHERE marker = $1', [
            `rekey-${handle.firstExecutionRunId}`,
          ])
        ).rows[0].n,
      ).toBe(0);
    } finally {
      await db.end();
    }
  });

  it('rolls back when a drill fails it after the old key was deactivated: old key active and in the secret, new key deleted, 0 lost', async () => {
    const old = await sinkKey();
    const r = await rotateUnderLoad({ gracePeriod: 'PT1H', watchSeconds: 10, injectFailure: 'old-key-unused' });
    expect((r.error?.cause as { type?: string } | undefined)?.type).toBe('RotationRolledBack');
    expect(r.archive.lost).toBe(0);
    expect(r.sinkTaskStates.FAILED ?? 0).toBe(0);
    expect((await sinkKey()).accessKeyId).toBe(old.accessKeyId);
    expect(await keysOfUser()).toEqual([{ id: old.accessKeyId, status: 'Active' }]);
    expect(await putWith(old)).toBe('ok');
    expect(await store.read(`${pipeline.awsSecret}-pending`)).toBeUndefined();
    expect(await store.read(`${pipeline.awsSecret}-backup`)).toBeUndefined();
  });

  // the rollback signal's undo chain (reactivate, restore, delete the new key) is the drill's above; the signal itself: awsKeys.test.ts (stub world)
});
