import { ApplicationFailure, sleep } from '@temporalio/activity';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { kubernetesClient, mergePatch } from './kubernetesClient.js';
import { explain } from './secrets/kubernetesStore.js';

const PODSET = { group: 'core.strimzi.io', version: 'v1beta2', plural: 'strimzipodsets' } as const;
/** Strimzi's own trigger: the operator rolls every pod of the set at its next reconciliation, then removes the annotation. */
export const MANUAL_ROLLING_UPDATE = 'strimzi.io/manual-rolling-update';
/** The pods the set had when rekey asked for the roll: done when none of them is left (kept on the set, so a retry knows). */
const PODS_BEFORE = 'rekey.dev/pods-before-rolling-update';

const podReady = (p: V1Pod) =>
  p.status?.phase === 'Running' && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/**
 * Restarting Kafka Connect run by Strimzi. Strimzi owns its pods through a StrimziPodSet (no
 * Deployment: a rollout-restart patch gets 404, and deleting pods fights the operator); its
 * documented way is the `strimzi.io/manual-rolling-update=true` annotation on the
 * StrimziPodSet (Strimzi docs, "Performing a rolling update using a pod management
 * annotation"). The operator acts at its next reconciliation (every 2 min by default), so the
 * wait is long. Idempotent: a retry finds its request on the set and only waits.
 */
export function strimziRollingRestart(deps: {
  kubeConfig: KubeConfig;
  namespace: string;
  podSet: string;
  selector: string;
  timeoutMs?: number;
}) {
  const { namespace, podSet } = deps;
  const custom = deps.kubeConfig.makeApiClient(kubernetesClient().CustomObjectsApi);
  const core = deps.kubeConfig.makeApiClient(kubernetesClient().CoreV1Api);
  const target = `strimzipodsets/${podSet}`;

  async function call<T>(verb: string, what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const e = explain(err, verb, what, namespace);
      if (/^(forbidden|unauthorized)|not found/.test(e.message))
        throw ApplicationFailure.nonRetryable(
          `${e.message} (is Kafka Connect run by Strimzi, as REKEY_CONNECT_WORKLOAD says?)`,
          'KubernetesAccess',
        );
      throw ApplicationFailure.retryable(e.message, 'KubernetesApi');
    }
  }
  const annotations = async () =>
    (
      (await call('get', target, () => custom.getNamespacedCustomObject({ ...PODSET, namespace, name: podSet }))) as {
        metadata?: { annotations?: Record<string, string> };
      }
    ).metadata?.annotations ?? {};
  const pods = async () =>
    (
      (
        await call('list', `pods -l ${deps.selector}`, () =>
          core.listNamespacedPod({ namespace, labelSelector: deps.selector }),
        )
      ).items ?? []
    ).filter((p) => !p.metadata?.deletionTimestamp);

  return {
    async restart(onProgress: (detail: string) => void): Promise<void> {
      let notes = await annotations();
      if (notes[PODS_BEFORE] === undefined) {
        const before = (await pods()).map((p) => p.metadata!.uid!);
        if (before.length === 0)
          throw ApplicationFailure.nonRetryable(
            `no pods match ${deps.selector} in namespace ${namespace}: set REKEY_CONNECT_POD_SELECTOR to the labels of ${podSet}'s pods`,
            'NoPods',
          );
        const body = {
          metadata: { annotations: { [MANUAL_ROLLING_UPDATE]: 'true', [PODS_BEFORE]: before.join(',') } },
        };
        await call('patch', target, () =>
          custom.patchNamespacedCustomObject({ ...PODSET, namespace, name: podSet, body }, mergePatch()),
        );
        onProgress(
          `${MANUAL_ROLLING_UPDATE}=true set on ${target}; the Strimzi operator rolls its ${before.length} pod(s) at its next reconciliation`,
        );
        notes = await annotations();
      }
      const before = new Set((notes[PODS_BEFORE] ?? '').split(',').filter(Boolean));
      const timeoutMs = deps.timeoutMs ?? 900_000;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const now = await pods();
        const old = now.filter((p) => before.has(p.metadata!.uid!)).length;
        const ready = now.filter((p) => !before.has(p.metadata!.uid!) && podReady(p)).length;
        const rolled = (await annotations())[MANUAL_ROLLING_UPDATE] === undefined;
        const seen = `${ready}/${before.size} new pod(s) ready, ${old} old left, annotation ${rolled ? 'removed by the operator' : 'still set'}`;
        if (rolled && old === 0 && ready >= before.size && ready === now.length) {
          // done: clear rekey's own note, so the next restart records its own pods
          await call('patch', target, () =>
            custom.patchNamespacedCustomObject(
              { ...PODSET, namespace, name: podSet, body: { metadata: { annotations: { [PODS_BEFORE]: null } } } },
              mergePatch(),
            ),
          );
          return;
        }
        if (Date.now() > deadline)
          throw ApplicationFailure.retryable(
            `${target} not rolled after ${timeoutMs / 1000} s (${seen}): is the Strimzi operator running?`,
            'WorkloadNotReady',
          );
        onProgress(seen);
        await sleep(2000);
      }
    },
  };
}
