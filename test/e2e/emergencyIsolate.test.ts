import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppsV1Api, CoreV1Api, NetworkingV1Api } from '@kubernetes/client-node';
import type { AuditLine } from '../../activities/audit.js';
import { embeddedWorkerConfig } from '../../scripts/lib/session.js';
import { repoRoot } from '../../scripts/stack/config.js';
import { adminKubeConfig, kubeNamespace as ns, serviceAccountKubeconfig } from '../../scripts/stack/kube.js';
import {
  isolationQuery,
  type IsolationResult,
  type IsolationState,
  isolationWorkflowId,
} from '../../workflows/emergency/definitions.js';
import { startTestWorker, type TestWorker } from '../helpers.js';
import { cfg } from './pipeline.js';

/**
 * `rekey emergency isolate|restore` against the real API server, as an operator runs it: the
 * CLI (a separate process) drives a worker that talks to the cluster as the rekey-worker
 * ServiceAccount (a real token), so deploy/rbac.yaml is what allows it. The victim is a
 * throwaway Deployment on the kwok node; everything is removed in afterAll.
 */
const exec = promisify(execFile);
const victim = 'rekey-e2e-victim';
const policyName = `rekey-emergency-isolate-${victim}`;
const workflowId = isolationWorkflowId(victim);
const kc = adminKubeConfig(cfg);
const apps = kc.makeApiClient(AppsV1Api);
const net = kc.makeApiClient(NetworkingV1Api);
const core = kc.makeApiClient(CoreV1Api);
let w: TestWorker;
let tmp: string;
let policiesBefore: Array<{ name: string; spec: string }>;

/** The CLI as an operator runs it, on this file's task queue; resolves with its exit code and output. */
async function rekey(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return exec(process.execPath, ['--import', 'tsx', 'scripts/rekey.ts', ...args], {
    cwd: repoRoot,
    env: { ...process.env, REKEY_TASK_QUEUE: w.taskQueue },
    maxBuffer: 16 << 20,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}
const lastJson = <T>(out: string) => JSON.parse(out.trim().split('\n').pop()!) as T;

/** A kubeconfig file that authenticates as the rekey-worker ServiceAccount. */
const workerKubeconfig = () => serviceAccountKubeconfig(cfg, 'rekey-worker', 30);

const policies = async () =>
  ((await net.listNamespacedNetworkPolicy({ namespace: ns })).items ?? [])
    // by content: the stack lane's validation test deletes and re-creates default-deny-ingress as it was
    .map((p) => ({ name: p.metadata!.name!, spec: JSON.stringify(p.spec) }))
    .sort((a, b) => a.name.localeCompare(b.name));
const specReplicas = async () => (await apps.readNamespacedDeployment({ name: victim, namespace: ns })).spec?.replicas;
const livePods = async () =>
  ((await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${victim}` })).items ?? []).filter(
    (p) => !p.metadata?.deletionTimestamp,
  );

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v = await read();
  while (!ok(v)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 500));
    v = await read();
  }
  return v;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-isolate-'));
  await apps.deleteNamespacedDeployment({ name: victim, namespace: ns }).catch(() => undefined);
  await net.deleteNamespacedNetworkPolicy({ name: policyName, namespace: ns }).catch(() => undefined);
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name: victim, labels: { app: victim } },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: victim } },
        template: {
          metadata: { labels: { app: victim } },
          // on the kwok node (its pods become Ready without running anything), not on the stack's kubelet
          spec: {
            nodeSelector: { type: 'kwok' },
            automountServiceAccountToken: false,
            containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }],
          },
        },
      },
    },
  });
  await until(
    'the victim to be ready',
    async () => (await apps.readNamespacedDeployment({ name: victim, namespace: ns })).status?.readyReplicas ?? 0,
    (n) => n === 2,
  );
  policiesBefore = await policies();
  const base = embeddedWorkerConfig().config;
  const asWorker = await workerKubeconfig();
  w = await startTestWorker({
    kubernetes: { namespace: ns, kubeconfig: asWorker },
    ...(base.secrets.kind === 'kubernetes' ? { secrets: { ...base.secrets, kubeconfig: asWorker } } : {}),
  });
});

afterAll(async () => {
  await w?.client.workflow
    .getHandle(workflowId)
    .terminate('test cleanup')
    .catch(() => undefined);
  await w?.stop();
  await apps.deleteNamespacedDeployment({ name: victim, namespace: ns }).catch(() => undefined);
  await net.deleteNamespacedNetworkPolicy({ name: policyName, namespace: ns }).catch(() => undefined);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('rekey emergency isolate / restore against the API server', () => {
  // bad input (no or short --reason, a bad peer) is refused by the command's parser before anything runs: test/unit/cliEmergency.test.ts

  it('isolate: the emergency policy (deny all but the listed peers) selects its pods, it is scaled to 0, the record is held', async () => {
    const out = await rekey(
      'emergency',
      'isolate',
      victim,
      '--reason',
      'e2e: suspected compromise of the victim',
      '--allow-ingress-from',
      'app=forensics,team=sec:8080',
      '--allow-egress-to',
      '10.0.0.0/8:443',
      '--json',
    );
    expect(out.code, out.stderr).toBe(0);
    const state = lastJson<IsolationState>(out.stdout);
    expect(state).toMatchObject({
      phase: 'isolated',
      deployment: victim,
      record: { replicas: 2, matchLabels: { app: victim }, policy: policyName, namespace: ns },
    });

    expect(await specReplicas()).toBe(0);
    await until('the victim`s pods to be gone', livePods, (p) => p.length === 0);
    const policy = await net.readNamespacedNetworkPolicy({ name: policyName, namespace: ns });
    expect(policy.spec?.podSelector).toEqual({ matchLabels: { app: victim } });
    expect(policy.spec?.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec?.ingress).toEqual([
      {
        _from: [{ podSelector: { matchLabels: { app: 'forensics', team: 'sec' } } }],
        ports: [{ port: 8080, protocol: 'TCP' }],
      },
    ]);
    expect(policy.spec?.egress).toEqual([
      { to: [{ ipBlock: { cidr: '10.0.0.0/8' } }], ports: [{ port: 443, protocol: 'TCP' }] },
    ]);
    expect(policy.metadata?.annotations).toMatchObject({
      'rekey.dev/replicas-before': '2',
      'rekey.dev/workflow-id': workflowId,
    });
    // the query is what `emergency status` prints
    expect((await w.client.workflow.getHandle(workflowId).query(isolationQuery)).phase).toBe('isolated');
    const status = await rekey('emergency', 'status', victim);
    expect(status.stdout).toMatch(
      /isolated: deployments\/rekey-e2e-victim .*\n\s+recorded:\s+2 replica\(s\), selector app=rekey-e2e-victim/,
    );

    // a second isolate is refused while the first holds
    const again = await rekey('emergency', 'isolate', victim, '--reason', 'e2e: isolating it a second time');
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(
      /deployments\/rekey-e2e-victim is already isolated by emergency-isolate\/rekey-e2e-victim.*rekey emergency restore rekey-e2e-victim/,
    );
    expect(await specReplicas()).toBe(0);
  });

  it('restore: the recorded replicas are back, the emergency policy is gone, the other policies are untouched', async () => {
    const out = await rekey('emergency', 'restore', victim, '--reason', 'e2e: forensics done', '--json');
    expect(out.code, out.stderr).toBe(0);
    expect(lastJson<IsolationResult>(out.stdout)).toMatchObject({
      status: 'restored',
      record: { replicas: 2 },
      restoreReason: 'e2e: forensics done',
    });
    expect(await specReplicas()).toBe(2);
    await until(
      'the victim ready again',
      async () => (await apps.readNamespacedDeployment({ name: victim, namespace: ns })).status?.readyReplicas ?? 0,
      (n) => n === 2,
    );
    expect(await policies()).toEqual(policiesBefore);
    expect(policiesBefore.map((p) => p.name)).toEqual(
      expect.arrayContaining(['default-deny-ingress', 'allow-kafka-connect', 'allow-schema-registry']),
    );
    const twice = await rekey('emergency', 'restore', victim);
    expect(twice.code).not.toBe(0);
    expect(twice.stderr).toMatch(
      /not isolated by rekey: emergency-isolate\/rekey-e2e-victim ended \(completed, phase restored\)/,
    );
  });

  // a policy left from an earlier isolation is refused: emergencyIsolate.test.ts (stub world); applying/removing the policy for real: integration/kubernetes.test.ts

  it('every step is in the audit log (component emergency, who and why)', async () => {
    const lines = fs
      .readFileSync(w.config.audit.path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditLine);
    const ours = lines.filter((l) => l.workflow_id === workflowId && l.component === 'emergency');
    const actions = ours.map((l) => l.action);
    for (const a of [
      'isolation_started',
      'record_deployment',
      'apply_emergency_policy',
      'scale_to_zero',
      'isolated',
      'restore',
      'restore_replicas',
      'remove_emergency_policy',
      'restored',
    ])
      expect(actions).toContain(a);
    expect(ours.find((l) => l.action === 'isolation_started')?.detail).toMatch(
      /e2e: suspected compromise of the victim/,
    );
    expect(ours.find((l) => l.action === 'restore')?.detail).toMatch(/e2e: forensics done \(by .+\)/);
  });

  it('a StatefulSet (the registry, PostgreSQL) is isolated and restored the same way, through the worker ServiceAccount (statefulsets/scale)', async () => {
    const sts = 'rekey-e2e-victim-db';
    const stsPolicy = `rekey-emergency-isolate-sts-${sts}`;
    const stsReplicas = async () => (await apps.readNamespacedStatefulSet({ name: sts, namespace: ns })).spec?.replicas;
    await apps.deleteNamespacedStatefulSet({ name: sts, namespace: ns }).catch(() => undefined);
    await apps.createNamespacedStatefulSet({
      namespace: ns,
      body: {
        metadata: { name: sts, labels: { app: sts } },
        spec: {
          replicas: 2,
          serviceName: sts,
          selector: { matchLabels: { app: sts } },
          template: {
            metadata: { labels: { app: sts } },
            spec: {
              nodeSelector: { type: 'kwok' },
              automountServiceAccountToken: false,
              containers: [{ name: 'db', image: 'registry.k8s.io/pause:3.10' }],
            },
          },
        },
      },
    });
    try {
      const out = await rekey(
        'emergency',
        'isolate',
        sts,
        '--statefulset',
        '--reason',
        'e2e: suspected compromise of the database',
        '--json',
      );
      expect(out.code, out.stderr).toBe(0);
      expect(lastJson<IsolationState>(out.stdout)).toMatchObject({
        phase: 'isolated',
        record: { deployment: sts, kind: 'StatefulSet', replicas: 2, matchLabels: { app: sts }, policy: stsPolicy },
      });
      expect(await stsReplicas()).toBe(0);
      expect((await net.readNamespacedNetworkPolicy({ name: stsPolicy, namespace: ns })).spec?.podSelector).toEqual({
        matchLabels: { app: sts },
      });
      expect((await rekey('emergency', 'status', sts, '--statefulset')).stdout).toMatch(
        /isolated: statefulsets\/rekey-e2e-victim-db /,
      );

      const restored = await rekey('emergency', 'restore', sts, '--statefulset', '--reason', 'e2e: forensics done');
      expect(restored.code, restored.stderr).toBe(0);
      expect(restored.stdout).toMatch(/^restored statefulsets\/rekey-e2e-victim-db: 2 replica\(s\)/);
      expect(await stsReplicas()).toBe(2);
      expect((await policies()).map((p) => p.name)).not.toContain(stsPolicy);
    } finally {
      await w.client.workflow
        .getHandle(isolationWorkflowId(sts, 'StatefulSet'))
        .terminate('test cleanup')
        .catch(() => undefined);
      await apps.deleteNamespacedStatefulSet({ name: sts, namespace: ns }).catch(() => undefined);
      await net.deleteNamespacedNetworkPolicy({ name: stsPolicy, namespace: ns }).catch(() => undefined);
    }
  });
});
