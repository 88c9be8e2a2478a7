import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { pipeline } from '../../scripts/stack/config.js';
import { rotateRegistryUnderLoad } from '../../scripts/lib/registryMeasure.js';
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
 * The Schema Registry rotation on the real stack, with the registry in the data path (the
 * CDC connector's Avro converter authenticates as the rotated account): measured from the
 * clients' side (a probe re-reading the secret, the connector's task state) and from the
 * registry's side (its access log), under CDC load. As production runs it: the accounts in the
 * Kubernetes Secret (the registry's replicas and the converter read it there), the worker acting
 * as the rekey-worker ServiceAccount.
 */
let w: TestWorker;
let running: WorkflowHandle | undefined;
const store = new KubernetesSecretStore(adminKubeConfig(cfg), kubeNamespace);
beforeAll(async () => {
  await usePipelineStore(cfg, 'kubernetes');
  w = await startServiceAccountWorker();
});
afterAll(async () => {
  await stopLeftover(running);
  await w?.stop();
  await usePipelineStore(cfg, 'file');
});

const account = 'developer';
const registryStatus = async (user: string, password: string) =>
  (
    await fetch(`http://127.0.0.1:${cfg.ports.registry}/apis/ccompat/v7/subjects`, {
      headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
    })
  ).status;
const clientCredential = async () => {
  const s = (await store.read(pipeline.registrySecret))!;
  return { user: s.data[`${account}-user`]!, password: s.data[`${account}-password`]! };
};
const connectorTasks = async () =>
  (
    (await (
      await connectFetch(`http://127.0.0.1:${cfg.ports.connect}/connectors/${pipeline.connector}/status`)
    ).json()) as {
      tasks: Array<{ state: string }>;
    }
  ).tasks.map((t) => t.state);
const rotatedKeys = async () =>
  Object.keys((await store.read(pipeline.registrySecret))!.data).filter((k) => /-(next|previous)-/.test(k));

const rotate = (input: Record<string, unknown>) =>
  rotateRegistryUnderLoad({
    client: w.client,
    stack: cfg,
    brokers: [kafkaBootstrap(cfg)],
    taskQueue: w.taskQueue,
    input,
    rate: 40,
    onStart: (h) => (running = h),
  }).finally(() => (running = undefined));

describe('Schema Registry rotation (dual users, three phases) with the registry in the data path', () => {
  it('rotates under CDC load with 0 × 401 and 0 lost events; afterwards the old user is refused and the new one accepted', async () => {
    const old = await clientCredential();
    expect(await registryStatus(old.user, old.password)).toBe(200);
    const r = await rotate({ gracePeriod: 'PT1S', clientWatch: 'PT3S' });
    const { events, probe } = r;
    console.info(`registry rotation: ${JSON.stringify({ ...probe, events })}`);
    expect(r.error).toBeUndefined();
    const result = r.result!;
    expect(result.status).toBe('completed');
    expect(result.from).toBe(old.user);
    expect(result.to).toMatch(new RegExp(`^${account}_\\d{8}_\\d{4}`));
    // the target: no client was ever refused, no change event lost
    expect(probe.client401).toBe(0);
    expect(probe.registry401).toBe(0);
    // a task restarted with a cold schema cache may fail on a lookup during a registry restart;
    // the workflow restarts it once the registry is back: what counts is no 401 and nothing lost
    expect(events.lost).toBe(0);
    expect(await connectorTasks()).toEqual(['RUNNING']);
    expect(events.inserted).toBeGreaterThan(20);
    // the registry's own access log: after the tasks restarted, no request as the old user; the converter on the new one
    expect(result.steps.find((s) => s.name === 'registry-saw-switch')?.detail).toMatch(
      new RegExp(
        `^0 request\\(s\\) as ${old.user} since the switch, [1-9]\\d* as ${result.to} while the canary passed$`,
      ),
    );
    // the registry was restarted twice (add, remove), replica by replica behind one address: the probe never lost it
    expect(
      result.steps.filter((s) => s.name.startsWith('restart-registry:')).map((s) => `${s.name}:${s.outcome}`),
    ).toEqual(['restart-registry:add:ok', 'restart-registry:remove:ok']);
    expect(probe.registryUnreachableMs).toEqual([]);
    // end state as an operator checks it with curl: new user 200, old user 401, no leftovers
    const now = await clientCredential();
    expect(now.user).toBe(result.to);
    expect(await registryStatus(now.user, now.password)).toBe(200);
    expect(await registryStatus(old.user, old.password)).toBe(401);
    expect(await rotatedKeys()).toEqual([]);
    // the runbook's layout: the Jetty users file the registry reads names the new user (its role kept), not the old one
    const userInfo = (await store.read(pipeline.registrySecret))!.data['user-info']!;
    expect(userInfo).toMatch(new RegExp(`^${result.to}: \\S+,developer$`, 'm'));
    expect(userInfo).not.toMatch(new RegExp(`^${old.user}:`, 'm'));
    expect(await store.read(`${pipeline.registrySecret}-pending`)).toBeUndefined();
    expect(await store.read(`${pipeline.registrySecret}-backup`)).toBeUndefined();
    await recordHistory(r.handle, 'v5-kit-schema-registry-completed');
  });

  // the rollback signal's undo chain is the drill's below (same steps undone); the signal itself: schemaRegistry.test.ts (stub world)
  it('rolls back when a drill fails it after the switch, and the connector keeps its tasks RUNNING', async () => {
    const old = await clientCredential();
    const { error, events, probe } = await rotate({
      gracePeriod: 'PT1H',
      injectFailure: 'canary-read-back',
      clientWatch: 'PT3S',
    });
    expect((error?.cause as { type?: string } | undefined)?.type).toBe('RotationRolledBack');
    expect(probe.client401).toBe(0);
    expect(events.lost).toBe(0);
    expect((await clientCredential()).user).toBe(old.user);
    expect(await registryStatus(old.user, old.password)).toBe(200);
    expect(await rotatedKeys()).toEqual([]);
    expect(await connectorTasks()).toEqual(['RUNNING']);
  });
});
