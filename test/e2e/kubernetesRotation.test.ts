import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WorkflowFailedError } from '@temporalio/client';
import { pipeline } from '../../scripts/stack/config.js';
import { adminKubeConfig, kubeconfigPath, kubeNamespace } from '../../scripts/stack/kube.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { summarize, underLoad } from '../../scripts/lib/load.js';
import { KubernetesSecretStore } from '../../activities/secrets/kubernetesStore.js';
import { startPostgresCdcRotation } from '../../workers/startRotation.js';
import { startTestWorker, type TestWorker } from '../helpers.js';
import { cfg, pipelineState, store as fileStore, waitStreaming } from './pipeline.js';

const k8s = new KubernetesSecretStore(adminKubeConfig(cfg), kubeNamespace);
let w: TestWorker;

beforeAll(async () => {
  // the Secret is the source of truth from here on: start it from what Connect runs with now
  for (const name of [pipeline.cdcSecret, pipeline.adminSecret]) {
    const current = (await fileStore.read(name))!;
    const existing = await k8s.read(name);
    if (existing?.info.fingerprint !== current.info.fingerprint) await k8s.write(name, current.data, { expectedVersion: existing?.info.version ?? null });
  }
  w = await startTestWorker({ secrets: { kind: 'kubernetes', namespace: kubeNamespace, kubeconfig: kubeconfigPath(cfg) } });
});
afterAll(async () => {
  await w?.stop();
});

const start = (extra: Record<string, unknown>) =>
  startPostgresCdcRotation(w.client, { target: 'ecommerce', strategy: 'restart-worker', requestedBy: 'e2e-k8s', ...extra }, { taskQueue: w.taskQueue });

describe('CDC rotation with Kubernetes Secrets and the restart-worker strategy', () => {
  it('rotates under insert load with zero lost events; the Secret holds the new user', async () => {
    const before = await pipelineState();
    const db = await adminClient(cfg, pipeline.database);
    const { result, emails, deliveries } = await underLoad({ db, brokers: w.config.kafka.brokers, topic: pipeline.usersTopic, rate: 40 }, async () =>
      (await start({ gracePeriod: 'PT2S' })).result(),
    ).finally(() => db.end());
    expect(result.status).toBe('completed');
    expect(summarize(emails, deliveries).lost).toBe(0);
    const secret = await k8s.read(pipeline.cdcSecret);
    expect(secret?.data['db-username']).toBe(result.newUser);
    expect(secret?.info.annotations.rotationId).toBe(result.workflowId);
    expect(await k8s.read(`${pipeline.cdcSecret}-backup`)).toBeUndefined();
    expect(await k8s.read(`${pipeline.cdcSecret}-pending`)).toBeUndefined();
    const after = await pipelineState();
    expect(after.streamingUser).toBe(result.newUser);
    expect(after.cdcRoles).not.toContain(before.streamingUser);
  });

  it('rolls back by restoring the Secret from its backup when verification fails', async () => {
    const before = await k8s.read(pipeline.cdcSecret);
    const handle = await start({ gracePeriod: 'PT1H', injectFailure: 'verify' });
    const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect((err.cause as { type?: string }).type).toBe('RotationRolledBack');
    const after = await k8s.read(pipeline.cdcSecret);
    expect(after?.info.fingerprint).toBe(before?.info.fingerprint);
    expect(after?.info.annotations.stage).toBe('restored');
    const state = await waitStreaming(before!.data['db-username']!);
    expect(state.streamingUser).toBe(before!.data['db-username']);
    expect(await k8s.read(`${pipeline.cdcSecret}-backup`)).toBeUndefined();
  });
});
