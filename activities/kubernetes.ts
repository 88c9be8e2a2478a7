import { ApplicationFailure, heartbeat, sleep } from '@temporalio/activity';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { kubernetesClient, mergePatch } from './kubernetesClient.js';
import { explain } from './secrets/kubernetesStore.js';

export type WorkloadKind = 'Deployment' | 'StatefulSet';
export interface ConnectPodsMemory {
  pods: number;
  oomKilled: string[];
  evicted: string[];
  notReady: string[];
  memoryLimits: string[];
}
export interface WorkloadRef {
  kind: WorkloadKind;
  name: string;
}

const podReady = (p: V1Pod) =>
  p.status?.phase === 'Running' && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** What the runbook does with kubectl, through the Kubernetes API (namespace-scoped). */
export function createKubernetesActivities(deps: { kubeConfig: KubeConfig; namespace: string }) {
  const { namespace } = deps;
  const { AppsV1Api, CoreV1Api, NetworkingV1Api } = kubernetesClient();
  const apps = deps.kubeConfig.makeApiClient(AppsV1Api);
  const core = deps.kubeConfig.makeApiClient(CoreV1Api);
  const net = deps.kubeConfig.makeApiClient(NetworkingV1Api);
  const merge = mergePatch();
  const what = (w: WorkloadRef) => `${w.kind === 'Deployment' ? 'deployments' : 'statefulsets'}/${w.name}`;

  async function call<T>(verb: string, target: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const e = explain(err, verb, target, namespace);
      // forbidden and not-found will not fix themselves by retrying
      if (/^(forbidden|unauthorized)|not found/.test(e.message))
        throw ApplicationFailure.nonRetryable(e.message, 'KubernetesAccess');
      throw ApplicationFailure.retryable(e.message, 'KubernetesApi');
    }
  }

  async function readWorkload(w: WorkloadRef) {
    return call('get', what(w), () =>
      w.kind === 'Deployment'
        ? apps.readNamespacedDeployment({ name: w.name, namespace })
        : apps.readNamespacedStatefulSet({ name: w.name, namespace }),
    );
  }

  /** `kubectl rollout restart`: a new pod-template annotation makes the controller replace every pod. */
  async function restartWorkload(input: WorkloadRef & { restartedAt: string }): Promise<{ generation: number }> {
    const body = {
      spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': input.restartedAt } } } },
    };
    const res = await call('patch', what(input), () =>
      input.kind === 'Deployment'
        ? apps.patchNamespacedDeployment({ name: input.name, namespace, body }, merge)
        : apps.patchNamespacedStatefulSet({ name: input.name, namespace, body }, merge),
    );
    return { generation: res.metadata?.generation ?? 0 };
  }

  /** Waits until the controller observed the latest spec and every replica is updated and ready. */
  async function waitWorkloadReady(input: WorkloadRef & { timeoutMs?: number }): Promise<{ ready: number }> {
    const timeoutMs = input.timeoutMs ?? 300_000;
    const deadline = Date.now() + timeoutMs;
    let seen = '';
    for (;;) {
      const w = await readWorkload(input);
      const want = w.spec?.replicas ?? 1;
      const s = w.status ?? {};
      const observed = (s.observedGeneration ?? 0) >= (w.metadata?.generation ?? 0);
      const updated = s.updatedReplicas ?? 0;
      const ready = s.readyReplicas ?? 0;
      const total = s.replicas ?? 0;
      seen = `${ready}/${want} ready, ${updated} updated, ${total} total`;
      if (observed && updated === want && ready === want && total === want) return { ready };
      if (Date.now() > deadline)
        throw ApplicationFailure.retryable(
          `${what(input)} not ready after ${timeoutMs / 1000} s (${seen})`,
          'WorkloadNotReady',
        );
      heartbeat(seen);
      await sleep(1000);
    }
  }

  async function scaleWorkload(input: WorkloadRef & { replicas: number }): Promise<{ previous: number }> {
    const current = await readWorkload(input);
    const body = { spec: { replicas: input.replicas } };
    await call('patch', what(input), () =>
      input.kind === 'Deployment'
        ? apps.patchNamespacedDeployment({ name: input.name, namespace, body }, merge)
        : apps.patchNamespacedStatefulSet({ name: input.name, namespace, body }, merge),
    );
    return { previous: current.spec?.replicas ?? 1 };
  }

  /** Emergency isolation: deny all ingress and egress for pods matching the labels. Idempotent. */
  async function applyIsolationPolicy(input: { name: string; matchLabels: Record<string, string> }): Promise<void> {
    const body = {
      metadata: { name: input.name, labels: { 'app.kubernetes.io/managed-by': 'rekey' } },
      spec: {
        podSelector: { matchLabels: input.matchLabels },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [],
        egress: [],
      },
    };
    try {
      await net.createNamespacedNetworkPolicy({ namespace, body });
    } catch (err) {
      if ((err as { code?: number }).code === 409) return;
      const e = explain(err, 'create', `networkpolicies/${input.name}`, namespace);
      throw ApplicationFailure.nonRetryable(e.message, 'KubernetesAccess');
    }
  }

  async function removeIsolationPolicy(input: { name: string }): Promise<void> {
    try {
      await net.deleteNamespacedNetworkPolicy({ name: input.name, namespace });
    } catch (err) {
      if ((err as { code?: number }).code === 404) return;
      throw ApplicationFailure.retryable(
        explain(err, 'delete', `networkpolicies/${input.name}`, namespace).message,
        'KubernetesApi',
      );
    }
  }

  /**
   * The memory health of the Kafka Connect pods themselves (the pre-flight's memory check on a
   * cluster, namespaced: no node access): a container whose last run ended OOMKilled, a pod
   * the kubelet evicted (node memory pressure), a pod not Ready; and each container's memory limit.
   */
  async function connectPodsMemory(input: { selector: string }): Promise<ConnectPodsMemory> {
    const pods =
      (
        await call('list', `pods -l ${input.selector}`, () =>
          core.listNamespacedPod({ namespace, labelSelector: input.selector }),
        )
      ).items ?? [];
    const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
    const name = (p: V1Pod) => p.metadata!.name!;
    return {
      pods: live.length,
      oomKilled: live
        .filter((p) =>
          (p.status?.containerStatuses ?? []).some(
            (c) => c.lastState?.terminated?.reason === 'OOMKilled' || c.state?.terminated?.reason === 'OOMKilled',
          ),
        )
        .map(name),
      evicted: live.filter((p) => p.status?.reason === 'Evicted').map(name),
      notReady: live.filter((p) => !podReady(p)).map(name),
      memoryLimits: live.flatMap((p) =>
        (p.spec?.containers ?? []).map((c) => `${name(p)}/${c.name}=${c.resources?.limits?.memory ?? 'none'}`),
      ),
    };
  }

  return {
    restartWorkload,
    waitWorkloadReady,
    scaleWorkload,
    applyIsolationPolicy,
    removeIsolationPolicy,
    connectPodsMemory,
  };
}
