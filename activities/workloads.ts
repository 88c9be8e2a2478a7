import { ApplicationFailure } from '@temporalio/activity';
import type { KubeConfig } from '@kubernetes/client-node';
import { createKubernetesActivities, type WorkloadKind } from './kubernetes.js';

/**
 * The consumers of a credential that read it only when they start, rolled after a switch:
 * `kubectl rollout restart` with the workflow's stamp (a retry re-applies the same annotation and
 * only waits), then every replica updated and ready.
 */
export function createWorkloadActivities(deps: { kubernetes?: { kubeConfig: KubeConfig; namespace: string } }) {
  async function rollWorkload(input: {
    kind: WorkloadKind;
    name: string;
    restartedAt: string;
    timeoutMs: number;
  }): Promise<{ ready: number }> {
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
