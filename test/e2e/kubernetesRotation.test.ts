import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WorkflowFailedError } from '@temporalio/client';
import { pipeline } from '../../scripts/stack/config.js';
import { adminKubeConfig, kubeconfigPath, kubeNamespace } from '../../scripts/stack/kube.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { summarize, underLoad } from '../../scripts/lib/load.js';
import { KubernetesSecretStore } from '../../activities/secrets/kubernetesStore.js';
import { startPostgresCdcRotation } from '../../workers/startRotation.js';
import { startTestWorker, type TestWorker } from '../helpers.js';
import { cfg, onlyRoles, pipelineState, roleValidUntil, store as fileStore, waitStreaming } from './pipeline.js';
import { recordHistory, recording } from './histories.js';

const k8s = new KubernetesSecretStore(adminKubeConfig(cfg), kubeNamespace);
let w: TestWorker;

beforeAll(async () => {
  // the Secret is the source of truth from here on: start it from what Connect runs with now
  for (const name of [pipeline.cdcSecret, pipeline.adminSecret]) {
    const current = (await fileStore.read(name))!;
    const existing = await k8s.read(name);
    if (existing?.info.fingerprint !== current.info.fingerprint) await k8s.write(name, current.data, { expectedVersion: existing?.info.version ?? null });
  }
  w = await startTestWorker({
    secrets: { kind: 'kubernetes', namespace: kubeNamespace, kubeconfig: kubeconfigPath(cfg) },
    // recorded histories are replayed in CI without the codec key: record them unencrypted
    ...(recording ? { codec: { keyId: 'none', insecureNoEncryption: true } } : {}),
  });
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
    const { result, emails, deliveries } = await underLoad({ db, brokers: w.config.kafka.brokers, topic: pipeline.usersTopic, rate: 40 }, async () => {
      const handle = await start({ gracePeriod: 'PT2S' });
      return { handle, ...(await handle.result()) };
    }).finally(() => db.end());
    expect(result.status).toBe('completed');
    expect(result.from).toBe(before.secretUser);
    // the connector was paused around the Connect worker restart, each step ran once
    expect(result.steps.map((s) => s.name)).toEqual(expect.arrayContaining(['pause', 'promote', 'apply:restart-worker', 'resume']));
    expect(result.steps.filter((s) => s.outcome !== 'ok')).toEqual([]);
    expect(summarize(emails, deliveries).lost).toBe(0);
    const secret = await k8s.read(pipeline.cdcSecret);
    expect(secret?.data['db-username']).toBe(result.to);
    expect(secret?.info.annotations.rotationId).toBe(`${result.workflowId}/${result.handle.firstExecutionRunId}`);
    expect(await k8s.read(`${pipeline.cdcSecret}-backup`)).toBeUndefined();
    expect(await k8s.read(`${pipeline.cdcSecret}-pending`)).toBeUndefined();
    const after = await pipelineState();
    expect(after.streamingUser).toBe(result.to);
    expect(after.cdcRoles).toEqual(onlyRoles(result.to));
    await recordHistory(result.handle, 'v3-kit-completed-restart-worker');
  });

  it('rolls back by restoring the Secret from its backup when verification fails', async () => {
    const before = await k8s.read(pipeline.cdcSecret);
    const roles = (await pipelineState()).cdcRoles;
    const handle = await start({ gracePeriod: 'PT1H', injectFailure: 'canary-read-back' });
    const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect((err.cause as { type?: string }).type).toBe('RotationRolledBack');
    expect(err.cause?.message).toContain('failure injected after step canary-read-back');
    const after = await k8s.read(pipeline.cdcSecret);
    expect(after?.info.fingerprint).toBe(before?.info.fingerprint);
    expect(after?.info.annotations.stage).toBe('restored');
    const state = await waitStreaming(before!.data['db-username']!);
    expect(state.streamingUser).toBe(before!.data['db-username']);
    expect(await k8s.read(`${pipeline.cdcSecret}-backup`)).toBeUndefined();
    expect(await k8s.read(`${pipeline.cdcSecret}-pending`)).toBeUndefined();
    expect(state.cdcRoles).toEqual(roles);
    expect(await roleValidUntil(before!.data['db-username']!)).toBe('never');
  });
});
