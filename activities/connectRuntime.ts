import type { KubeConfig } from '@kubernetes/client-node';
import { createKubernetesActivities, type WorkloadKind } from './kubernetes.js';

/**
 * Restarting a workload on a cluster: a rollout restart (the pod-template annotation kubectl
 * uses), then wait until the controller observed it and every replica is updated and ready.
 * The stamp (`restartedAt`) comes from the workflow: a retried activity patches the same
 * annotation, which changes nothing, so it starts no second rollout and only waits (without a
 * stamp, e.g. from an older workflow, each attempt restarts again, which also converges). Used for `restart-worker` (Deployment
 * `kafka-connect`) and for the Schema Registry re-reading its users (StatefulSet `schema-registry`).
 */
export function kubernetesRolloutRestart(deps: {
  kubeConfig: KubeConfig;
  namespace: string;
  kind?: WorkloadKind;
  name?: string;
  deployment?: string;
  timeoutMs?: number;
}) {
  const kube = createKubernetesActivities({ kubeConfig: deps.kubeConfig, namespace: deps.namespace });
  const workload = {
    kind: deps.kind ?? ('Deployment' as const),
    name: deps.name ?? deps.deployment ?? 'kafka-connect',
  };
  const what = `${workload.kind === 'Deployment' ? 'deployments' : 'statefulsets'}/${workload.name}`;
  return {
    async restart(onProgress: (detail: string) => void, restartedAt?: string): Promise<void> {
      await kube.restartWorkload({ ...workload, restartedAt: restartedAt ?? new Date().toISOString() });
      onProgress(`rollout restart of ${what} requested`);
      await kube.waitWorkloadReady({ ...workload, timeoutMs: deps.timeoutMs ?? 300_000 });
    },
  };
}
