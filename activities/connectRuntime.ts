import type { KubeConfig } from '@kubernetes/client-node';
import type { ConnectWorkerRuntime } from './kafkaConnect.js';
import { createKubernetesActivities } from './kubernetes.js';

/**
 * `restart-worker` on a cluster: a rollout restart of the Kafka Connect Deployment (the
 * pod-template annotation kubectl uses), then wait until the controller observed it and
 * every replica is updated and ready. A retry restarts again, which converges.
 */
export function kubernetesRolloutRestart(deps: { kubeConfig: KubeConfig; namespace: string; deployment?: string; timeoutMs?: number }): ConnectWorkerRuntime {
  const kube = createKubernetesActivities({ kubeConfig: deps.kubeConfig, namespace: deps.namespace });
  const workload = { kind: 'Deployment' as const, name: deps.deployment ?? 'kafka-connect' };
  return {
    async restart(onProgress) {
      await kube.restartWorkload({ ...workload, restartedAt: new Date().toISOString() });
      onProgress(`rollout restart of deployments/${workload.name} requested`);
      await kube.waitWorkloadReady({ ...workload, timeoutMs: deps.timeoutMs ?? 300_000 });
    },
  };
}
