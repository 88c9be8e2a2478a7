import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import type { KubeConfig } from '@kubernetes/client-node';
import { createKubernetesActivities, type WorkloadKind } from './kubernetes.js';

/** How one workload is rolled when it is not a cluster's (the embedded stack's local processes). */
export interface WorkloadRuntime {
  roll(restartedAt: string, onProgress: (detail: string) => void): Promise<{ ready: number }>;
}

/**
 * The consumers of a credential that read it only when they start, rolled after a switch:
 * `kubectl rollout restart` with the workflow's stamp (a retry re-applies the same annotation and
 * only waits), then every replica updated and ready. `runtimes` (keyed `<Kind>/<name>`) replace
 * the cluster for the workloads they name: test and demo wiring only.
 */
export function createWorkloadActivities(deps: {
  kubernetes?: { kubeConfig: KubeConfig; namespace: string };
  runtimes?: Record<string, WorkloadRuntime>;
}) {
  async function rollWorkload(input: {
    kind: WorkloadKind;
    name: string;
    restartedAt: string;
    timeoutMs: number;
  }): Promise<{ ready: number }> {
    const runtime = deps.runtimes?.[`${input.kind}/${input.name}`];
    if (runtime) return runtime.roll(input.restartedAt, (detail) => heartbeat(detail));
    if (!deps.kubernetes)
      throw ApplicationFailure.nonRetryable(
        `cannot roll ${input.kind}/${input.name}: this worker has no Kubernetes API configured (REKEY_KUBECONFIG or in-cluster)`,
        'NoCluster',
      );
    const kube = createKubernetesActivities(deps.kubernetes);
    await kube.restartWorkload({ kind: input.kind, name: input.name, restartedAt: input.restartedAt });
    return kube.waitWorkloadReady({ kind: input.kind, name: input.name, timeoutMs: input.timeoutMs });
  }
  return { rollWorkload };
}
