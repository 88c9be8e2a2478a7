import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WorkflowHandle } from '@temporalio/client';
import { CoreV1Api } from '@kubernetes/client-node';
import { pipeline } from '../../scripts/stack/config.js';
import { connectUrl } from '../../scripts/stack/connect.js';
import { adminKubeConfig, kubeNamespace } from '../../scripts/stack/kube.js';
import { usePipelineStore } from '../../scripts/stack/pipelineStore.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { summarize, underLoad } from '../../scripts/lib/load.js';
import { KubernetesSecretStore } from '../../activities/secrets/kubernetesStore.js';
import { startPostgresCdcRotation } from '../../workers/startRotation.js';
import type { TestWorker } from '../helpers.js';
import { startServiceAccountWorker } from './rotationHarness.js';
import { cfg, onlyRoles, pipelineState, resumeIfPaused, stopLeftover } from './pipeline.js';
import { recordHistory } from './histories.js';
import { kafkaBootstrap } from '../../scripts/stack/kafka.js';
import { connectFetch } from '../../scripts/stack/connectRest.js';

/**
 * The production path on the embedded Kubernetes stack: the worker is the production one
 * (rollout restart through the API, Secrets through the API) and acts as its ServiceAccount, Connect reads the Secret with
 * Strimzi's provider (`${secrets:…}`), and the stack's kubelet turns a replaced pod into a
 * fresh Connect process.
 */
const k8s = new KubernetesSecretStore(adminKubeConfig(cfg), kubeNamespace);
const core = adminKubeConfig(cfg).makeApiClient(CoreV1Api);
let w: TestWorker;
let running: WorkflowHandle | undefined;

const connectPods = async () =>
  (await core.listNamespacedPod({ namespace: kubeNamespace, labelSelector: 'app=kafka-connect' })).items.map(
    (p) => p.metadata!.uid!,
  );
const connectorRefs = async () =>
  (
    (await (await connectFetch(`${connectUrl(cfg)}/connectors/${pipeline.connector}/config`)).json()) as Record<
      string,
      string
    >
  )['database.password'];

beforeAll(async () => {
  // the Secret is the source of truth from here on, read by Connect through the API
  await usePipelineStore(cfg, 'kubernetes');
  w = await startServiceAccountWorker();
});
afterAll(async () => {
  // a failed assertion must not leave a rotation holding the secret for the next test file
  await stopLeftover(running);
  await w?.stop();
  await resumeIfPaused();
  await usePipelineStore(cfg, 'file');
});

const start = async (strategy: 'reload-connector' | 'restart-worker', extra: Record<string, unknown>) =>
  (running = await startPostgresCdcRotation(
    w.client,
    { target: 'ecommerce', strategy, requestedBy: 'e2e-k8s', ...extra },
    { taskQueue: w.taskQueue },
  ));

/** Who streams and which CDC roles exist, with the Secret (not the file store) as what the pipeline should run with. */
async function kubeState() {
  const [state, secret] = await Promise.all([pipelineState(), k8s.read(pipeline.cdcSecret)]);
  return { ...state, secretUser: secret?.data['db-username'] ?? null, secret };
}

describe.each(['reload-connector', 'restart-worker'] as const)(
  'CDC rotation on Kubernetes (Strimzi provider) with %s',
  (strategy) => {
    it('rotates under insert load with zero lost events; the Secret holds the new user', async () => {
      expect(await connectorRefs()).toBe(`\${secrets:${kubeNamespace}/${pipeline.cdcSecret}:db-password}`);
      const before = await kubeState();
      const podsBefore = await connectPods();
      const db = await adminClient(cfg, pipeline.database);
      const { result, emails, deliveries } = await underLoad(
        { db, brokers: [kafkaBootstrap(cfg)], topic: pipeline.usersTopic, rate: 40 },
        async () => {
          const handle = await start(strategy, { gracePeriod: 'PT1S' });
          return { handle, ...(await handle.result()) };
        },
      ).finally(() => db.end());
      expect(result.status).toBe('completed');
      expect(result.from).toBe(before.secretUser);
      expect(result.steps.filter((s) => s.outcome !== 'ok')).toEqual([]);
      if (strategy === 'restart-worker') {
        // paused around a rollout restart: the kafka-connect pod was replaced through the API
        expect(result.steps.map((s) => s.name)).toEqual(
          expect.arrayContaining(['pause', 'promote', 'apply:restart-worker', 'resume']),
        );
        expect((await connectPods()).some((uid) => podsBefore.includes(uid))).toBe(false);
      } else {
        // the tasks re-read the Secret from the API: same pod, no projection wait
        expect(result.steps.map((s) => s.name)).toContain('apply:reload-connector');
        expect(await connectPods()).toEqual(podsBefore);
      }
      const events = summarize(emails, deliveries);
      expect(emails.length).toBeGreaterThan(20);
      expect(events.lost).toBe(0);
      const secret = await k8s.read(pipeline.cdcSecret);
      expect(secret?.data['db-username']).toBe(result.to);
      expect(secret?.info.annotations.rotationId).toBe(`${result.workflowId}/${result.handle.firstExecutionRunId}`);
      expect(await k8s.read(`${pipeline.cdcSecret}-backup`)).toBeUndefined();
      expect(await k8s.read(`${pipeline.cdcSecret}-pending`)).toBeUndefined();
      const after = await pipelineState();
      expect(after.streamingUser).toBe(result.to);
      expect(after.cdcRoles).toEqual(onlyRoles(result.to));
      await recordHistory(result.handle, `v5-kit-completed-${strategy}-kubernetes`);
    });

    // a real CDC rollback: rotation.test.ts (canary-read-back drill); restoring a Secret exactly on this store: integration/secretBytes.test.ts
  },
);
