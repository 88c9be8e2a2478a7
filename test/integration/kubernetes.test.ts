import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
import { loadStackConfig, repoRoot } from '../../scripts/stack/config.js';
import { adminKubeConfig, kubectl, kubeNamespace } from '../../scripts/stack/kube.js';
import { isAlive, readPid } from '../../scripts/stack/proc.js';
import {
  KubernetesAccessError,
  KubernetesSecretStore,
  loadKubeConfig,
} from '../../activities/secrets/kubernetesStore.js';
import { SecretConflictError } from '../../activities/secrets/store.js';
import { createKubernetesActivities } from '../../activities/kubernetes.js';
import { connectFetch } from '../../scripts/stack/connectRest.js';

const cfg = loadStackConfig();
const kc = adminKubeConfig(cfg);
const ns = kubeNamespace;
const acts = createKubernetesActivities({ kubeConfig: kc, namespace: ns });
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const run = <F extends (...a: any[]) => Promise<unknown>>(fn: F, ...args: Parameters<F>) =>
  new MockActivityEnvironment().run(fn, ...args) as ReturnType<F>;
const podNames = async (selector: string) =>
  ((await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns, labelSelector: selector })).items ?? [])
    .filter((p) => !p.metadata?.deletionTimestamp)
    .map((p) => p.metadata!.name!)
    .sort();

/** A kubeconfig that authenticates as the rekey-worker ServiceAccount (a real token from the TokenRequest API). */
async function asWorker(): Promise<KubeConfig> {
  const { stdout } = await kubectl(cfg, ['-n', ns, 'create', 'token', 'rekey-worker', '--duration', '10m']);
  const sa = new KubeConfig();
  const cluster = kc.getCurrentCluster()!;
  sa.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'rekey-worker', token: stdout.trim() }],
    contexts: [{ name: 'sa', cluster: cluster.name, user: 'rekey-worker', namespace: ns }],
    currentContext: 'sa',
  });
  return sa;
}

describe('Kubernetes secret store against the real API server', () => {
  const store = new KubernetesSecretStore(kc, ns);

  it('writes current/pending versions as Secrets with rekey annotations, values base64 in data', async () => {
    const info = await store.write(
      'rekey-test-secret',
      { 'db-username': 'u1', 'db-password': 'p1' },
      { annotations: { rotationId: 'r1' } },
    );
    const raw = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ name: 'rekey-test-secret', namespace: ns });
    expect(raw.data).toEqual({
      'db-username': Buffer.from('u1').toString('base64'),
      'db-password': Buffer.from('p1').toString('base64'),
    });
    expect(raw.metadata?.annotations).toMatchObject({
      'rekey.dev/rotationId': 'r1',
      'rekey.dev/fingerprint': info.fingerprint,
    });
    expect((await store.read('rekey-test-secret'))?.data).toEqual({ 'db-username': 'u1', 'db-password': 'p1' });
  });

  it('catches a patch based on a stale resourceVersion and keeps the concurrent change', async () => {
    const v1 = await store.write('rekey-test-secret', { a: '1' });
    await store.write('rekey-test-secret', { a: '2' }); // someone else's change
    await expect(store.write('rekey-test-secret', { a: '3' }, { expectedVersion: v1.version })).rejects.toBeInstanceOf(
      SecretConflictError,
    );
    // and the API server itself refuses a merge patch carrying the old resourceVersion
    await expect(
      kubectl(cfg, [
        '-n',
        ns,
        'patch',
        'secret',
        'rekey-test-secret',
        '--type',
        'merge',
        '-p',
        JSON.stringify({ metadata: { resourceVersion: v1.version }, data: { a: 'NA==' } }),
      ]),
    ).rejects.toThrow(/Conflict|modified/);
    expect((await store.read('rekey-test-secret'))?.data).toEqual({ a: '2' });
    await store.remove('rekey-test-secret');
    expect(await store.read('rekey-test-secret')).toBeUndefined();
  });

  it('names the kubeconfig that cannot be loaded', () => {
    expect(() => loadKubeConfig({ kubeconfig: '/nonexistent/kubeconfig' })).toThrow(/\/nonexistent\/kubeconfig/);
  });
});

describe('Kubernetes workloads', () => {
  it('rollout-restarts a Deployment and waits until every new pod is ready (the kubelet restarted Connect for it)', async () => {
    const before = await podNames('app=kafka-connect,component=worker');
    const connectPid = readPid(cfg.runDir, 'kafka-connect');
    const restartedAt = new Date().toISOString();
    const { generation } = await run(acts.restartWorkload, { kind: 'Deployment', name: 'kafka-connect', restartedAt });
    const res = await run(acts.waitWorkloadReady, { kind: 'Deployment', name: 'kafka-connect', timeoutMs: 120_000 });
    expect(res.ready).toBe(1);
    const after = await podNames('app=kafka-connect,component=worker');
    // a retried activity carries the workflow's same stamp: the patch changes nothing, no second rollout
    expect(
      (await run(acts.restartWorkload, { kind: 'Deployment', name: 'kafka-connect', restartedAt })).generation,
    ).toBe(generation);
    expect(await podNames('app=kafka-connect,component=worker')).toEqual(after);
    expect(after).toHaveLength(1);
    expect(after.filter((p) => before.includes(p))).toEqual([]);
    // Ready only once the new "container" answers: a new Connect process serves the REST API
    expect(readPid(cfg.runDir, 'kafka-connect')).not.toBe(connectPid);
    expect((await connectFetch(`http://127.0.0.1:${cfg.ports.connect}/`)).ok).toBe(true);
  });

  it('times out with a clear error when pods never become ready', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    await apps.deleteNamespacedDeployment({ name: 'never-ready', namespace: ns }).catch(() => undefined);
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'never-ready' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'never-ready' } },
          // no node has this label: the pod stays Pending
          template: {
            metadata: { labels: { app: 'never-ready' } },
            spec: { nodeSelector: { 'rekey.dev/none': 'true' }, containers: [{ name: 'c', image: 'x' }] },
          },
        },
      },
    });
    await expect(
      run(acts.waitWorkloadReady, { kind: 'Deployment', name: 'never-ready', timeoutMs: 3000 }),
    ).rejects.toThrow(/deployments\/never-ready not ready after 3 s \(0\/1 ready/);
    await apps.deleteNamespacedDeployment({ name: 'never-ready', namespace: ns });
  });

  it('applies and removes the emergency isolation NetworkPolicy', async () => {
    const net = kc.makeApiClient(NetworkingV1Api);
    await run(acts.applyIsolationPolicy, {
      name: 'rekey-isolate-schema-registry',
      matchLabels: { app: 'schema-registry' },
    });
    await run(acts.applyIsolationPolicy, {
      name: 'rekey-isolate-schema-registry',
      matchLabels: { app: 'schema-registry' },
    }); // idempotent
    const policy = await net.readNamespacedNetworkPolicy({ name: 'rekey-isolate-schema-registry', namespace: ns });
    expect(policy.spec).toMatchObject({
      podSelector: { matchLabels: { app: 'schema-registry' } },
      policyTypes: ['Ingress', 'Egress'],
    });
    await run(acts.removeIsolationPolicy, { name: 'rekey-isolate-schema-registry' });
    await expect(
      net.readNamespacedNetworkPolicy({ name: 'rekey-isolate-schema-registry', namespace: ns }),
    ).rejects.toMatchObject({ code: 404 });
  });

  it('scales to zero (Connect stops with its last pod) and back', async () => {
    const { previous } = await run(acts.scaleWorkload, { kind: 'Deployment', name: 'kafka-connect', replicas: 0 });
    expect(previous).toBe(1);
    const deadline = Date.now() + 60_000;
    while (isAlive(readPid(cfg.runDir, 'kafka-connect')) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 500));
    expect(isAlive(readPid(cfg.runDir, 'kafka-connect'))).toBe(false);
    await run(acts.scaleWorkload, { kind: 'Deployment', name: 'kafka-connect', replicas: previous });
    expect(
      (await run(acts.waitWorkloadReady, { kind: 'Deployment', name: 'kafka-connect', timeoutMs: 120_000 })).ready,
    ).toBe(1);
    expect((await connectFetch(`http://127.0.0.1:${cfg.ports.connect}/`)).ok).toBe(true);
  });

  it('reads the Kafka Connect pods` memory health (OOMKilled, evicted, not Ready), namespaced', async () => {
    const healthy = await run(acts.connectPodsMemory, { selector: 'app=kafka-connect' });
    expect(healthy).toMatchObject({ pods: 1, oomKilled: [], evicted: [], notReady: [] });
    // what the kubelet reports after the JVM was killed for memory
    const core = kc.makeApiClient(CoreV1Api);
    const [pod] = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=kafka-connect' })).items;
    const statuses = (lastState: object) => ({
      status: { containerStatuses: pod!.status!.containerStatuses!.map((c) => ({ ...c, lastState })) },
    });
    await core.patchNamespacedPodStatus(
      {
        name: pod!.metadata!.name!,
        namespace: ns,
        body: statuses({ terminated: { reason: 'OOMKilled', exitCode: 137 } }),
      },
      mergePatch,
    );
    try {
      expect((await run(acts.connectPodsMemory, { selector: 'app=kafka-connect' })).oomKilled).toEqual([
        pod!.metadata!.name,
      ]);
    } finally {
      await core.patchNamespacedPodStatus(
        { name: pod!.metadata!.name!, namespace: ns, body: statuses({}) },
        mergePatch,
      );
    }
    expect((await run(acts.connectPodsMemory, { selector: 'app=kafka-connect' })).oomKilled).toEqual([]);
  });
});

describe('deploy/ manifests and least privilege', () => {
  it('apply cleanly (server-side dry run)', async () => {
    const files = [
      'rbac.yaml',
      'admission-policy.yaml',
      'worker.yaml',
      'kafka-connect.yaml',
      'network-policies.yaml',
    ].flatMap((f) => ['-f', path.join(repoRoot, 'deploy', f)]);
    const { stdout } = await kubectl(cfg, ['apply', '--dry-run=server', ...files]);
    expect(stdout).toMatch(/deployment.apps\/rekey-worker (created|configured|unchanged) \(server dry run\)/);
    expect(stdout).toMatch(
      /validatingadmissionpolicy.admissionregistration.k8s.io\/rekey-worker-limits .*\(server dry run\)/,
    );
    expect(stdout).toMatch(/role.rbac.authorization.k8s.io\/rekey-worker .*\(server dry run\)/);
  });

  const sa = 'system:serviceaccount:data-ingestion:rekey-worker';
  const canI = async (...args: string[]) => {
    try {
      await kubectl(cfg, ['auth', 'can-i', '--as', sa, ...args]);
      return true;
    } catch {
      return false;
    }
  };

  it('allows every verb rekey uses', async () => {
    const allowed = [
      ['get', 'secrets/debezium-credentials', '-n', ns],
      ['patch', 'secrets/debezium-credentials-pending', '-n', ns],
      ['delete', 'secrets/debezium-credentials-backup', '-n', ns],
      // certificates and their CA (cert rotate, renew, rotate-ca)
      ...['rekey-ca', 'postgres-tls', 'kafka-tls', 'connect-tls', 'registry-tls'].flatMap((n) => [
        ['get', `secrets/${n}`, '-n', ns],
        ['patch', `secrets/${n}-pending`, '-n', ns],
        ['delete', `secrets/${n}-backup`, '-n', ns],
      ]),
      ['create', 'secrets', '-n', ns],
      ['patch', 'deployments/kafka-connect', '-n', ns],
      ['get', 'statefulsets/schema-registry', '-n', ns],
      ['list', 'pods', '-n', ns],
      // the registry's access log read from its pods (REKEY_REGISTRY_ACCESS_LOG=pods:…)
      ['get', 'pods/schema-registry-0', '--subresource', 'log', '-n', ns],
      ['get', 'deployments/kafka-connect', '-n', ns],
      ['patch', 'statefulsets/schema-registry', '-n', ns],
      ['create', 'networkpolicies', '-n', ns],
      // emergency isolation: any deployment read and scaled (the scale subresource), its policy created, read, deleted
      ['get', 'deployments/some-other-app', '-n', ns],
      ['get', 'deployments/some-other-app', '--subresource', 'scale', '-n', ns],
      ['patch', 'deployments/some-other-app', '--subresource', 'scale', '-n', ns],
      // …and a StatefulSet (the registry, PostgreSQL): read and scaled, never its spec
      ['get', 'statefulsets/some-other-db', '-n', ns],
      ['patch', 'statefulsets/some-other-db', '--subresource', 'scale', '-n', ns],
      ['get', 'networkpolicies/rekey-emergency-isolate-some-other-app', '-n', ns],
      ['delete', 'networkpolicies/rekey-emergency-isolate-some-other-app', '-n', ns],
      // the access validation (rekey validate), read only
      ['list', 'networkpolicies', '-n', ns],
      ['get', 'serviceaccounts/kafka-connect', '-n', ns],
      ['list', 'services', '-n', ns],
    ];
    for (const a of allowed) expect(await canI(...a), a.join(' ')).toBe(true);
  });

  it('refuses other namespaces, cluster-wide secret listing, other secrets and RBAC changes', async () => {
    const refused = [
      ['get', 'secrets/other-team-secret', '-n', 'other-team'],
      ['list', 'secrets', '--all-namespaces'],
      ['list', 'secrets', '-n', ns],
      ['get', 'secrets/postgres-superuser', '-n', ns],
      ['create', 'roles', '-n', ns],
      ['create', 'rolebindings', '-n', ns],
      ['create', 'clusterrolebindings'],
      ['delete', 'deployments/kafka-connect', '-n', ns],
      // workloads only by name, pods read only
      ['patch', 'deployments/some-other-app', '-n', ns],
      ['update', 'deployments/some-other-app', '-n', ns],
      ['delete', 'deployments/some-other-app', '-n', ns],
      ['list', 'deployments', '-n', ns],
      ['patch', 'networkpolicies/default-deny-ingress', '-n', ns],
      ['patch', 'statefulsets/some-other-db', '-n', ns],
      ['delete', 'statefulsets/some-other-db', '-n', ns],
      ['delete', 'pods', '-n', ns],
      ['create', 'pods', '-n', ns],
      // pods' logs, never a shell in them
      ['create', 'pods/schema-registry-0', '--subresource', 'exec', '-n', ns],
      // nothing it does not use: a pod by name, every ServiceAccount, a Service by name
      ['get', 'pods/kafka-connect-0', '-n', ns],
      ['list', 'serviceaccounts', '-n', ns],
      ['get', 'services/kafka-connect', '-n', ns],
      // nothing cluster-scoped
      ['list', 'nodes'],
      ['get', 'nodes/rekey-local'],
    ];
    for (const r of refused) expect(await canI(...r), r.join(' ')).toBe(false);
  });

  it('acting with the ServiceAccount token: its secrets are readable, another team`s are refused with the object and the verb named', async () => {
    const worker = await asWorker();
    const own = await new KubernetesSecretStore(worker, ns).read('debezium-credentials');
    expect(own?.info.keys).toEqual(['db-password', 'db-username']);
    const err = await new KubernetesSecretStore(worker, 'other-team')
      .read('other-team-secret')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubernetesAccessError);
    expect((err as Error).message).toBe(
      'forbidden: cannot get secrets/other-team-secret in namespace other-team; grant verb "get" on that resource to the worker\'s ServiceAccount',
    );
  });

  it('the admission policy refuses, as the worker, what RBAC cannot name: a token Secret under a rotated name, a Secret it does not rotate, a policy not its own', async () => {
    const worker = await asWorker();
    const core = worker.makeApiClient(CoreV1Api);
    const net = worker.makeApiClient(NetworkingV1Api);
    const dryRun = 'All'; // admission runs on dry runs: nothing is written
    const refusal = (p: Promise<unknown>) =>
      p.then(
        () => 'allowed',
        (e: { code?: number; body?: string }) => `${e.code}: ${JSON.parse(e.body ?? '{}').message ?? ''}`,
      );
    const tokenSecret = {
      metadata: {
        name: 'debezium-credentials-pending',
        annotations: { 'kubernetes.io/service-account.name': 'kafka-connect' },
      },
      type: 'kubernetes.io/service-account-token',
    };
    expect(await refusal(core.createNamespacedSecret({ namespace: ns, body: tokenSecret, dryRun }))).toMatch(
      /^403: .*rekey-worker may only write Opaque Secrets it rotates; refused kubernetes.io\/service-account-token Secret debezium-credentials-pending/,
    );
    expect(
      await refusal(
        core.createNamespacedSecret({
          namespace: ns,
          body: { metadata: { name: 'someone-elses-secret' }, stringData: { a: 'b' } },
          dryRun,
        }),
      ),
    ).toMatch(/^403: .*refused Opaque Secret someone-elses-secret/);
    expect(
      await refusal(net.deleteNamespacedNetworkPolicy({ name: 'default-deny-ingress', namespace: ns, dryRun })),
    ).toMatch(
      /^403: .*may only create or delete rekey-emergency-\* NetworkPolicies; refused DELETE of default-deny-ingress/,
    );
    const allowAll = {
      metadata: { name: 'allow-everything' },
      spec: { podSelector: {}, ingress: [{}], policyTypes: ['Ingress'] },
    };
    expect(await refusal(net.createNamespacedNetworkPolicy({ namespace: ns, body: allowAll, dryRun }))).toMatch(
      /^403: .*refused CREATE of allow-everything/,
    );
    // what rekey does itself still passes (the test has teeth): a staged Opaque Secret, an emergency policy
    expect(
      await refusal(
        core.createNamespacedSecret({
          namespace: ns,
          body: { metadata: { name: 'rekey-ca-pending' }, stringData: { a: 'b' } },
          dryRun,
        }),
      ),
    ).toMatch(/^(allowed|409: .*already exists)$/);
    expect(
      await refusal(
        net.createNamespacedNetworkPolicy({
          namespace: ns,
          body: { ...allowAll, metadata: { name: 'rekey-emergency-isolate-x' } },
          dryRun,
        }),
      ),
    ).toBe('allowed');
    // ...and the admin is not matched
    expect(
      await refusal(
        kc
          .makeApiClient(NetworkingV1Api)
          .deleteNamespacedNetworkPolicy({ name: 'default-deny-ingress', namespace: ns, dryRun }),
      ),
    ).toBe('allowed');
  });

  it('Kafka Connect`s ServiceAccount (Strimzi provider) may get the rotated Secrets by name, nothing else', async () => {
    const connectSa = 'system:serviceaccount:data-ingestion:kafka-connect';
    const can = async (...args: string[]) =>
      kubectl(cfg, ['auth', 'can-i', '--as', connectSa, ...args]).then(
        () => true,
        () => false,
      );
    for (const name of ['debezium-credentials', 'schema-registry-auth', 'aws-credentials'])
      expect(await can('get', `secrets/${name}`, '-n', ns), name).toBe(true);
    for (const r of [
      ['get', 'secrets/postgres-admin', '-n', ns],
      ['list', 'secrets', '-n', ns],
      ['patch', 'secrets/debezium-credentials', '-n', ns],
      ['get', 'secrets/other-team-secret', '-n', 'other-team'],
    ]) {
      expect(await can(...r), r.join(' ')).toBe(false);
    }
  });
});
