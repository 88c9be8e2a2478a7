import type * as K8s from '@kubernetes/client-node';

export type KubernetesClient = typeof K8s;

let loaded: KubernetesClient | undefined;

/**
 * @kubernetes/client-node (~70 MB of RSS once imported) is loaded by a process whose
 * configuration names a cluster, before it builds anything that talks to one; a worker with the
 * file store and no cluster never carries it (the fleet's memory budget). The package is ESM
 * only, hence a dynamic import rather than a lazy require.
 */
export async function loadKubernetesClient(): Promise<KubernetesClient> {
  loaded ??= await import('@kubernetes/client-node');
  return loaded;
}

/** The loaded client module; building a cluster-bound object before `loadKubernetesClient()` is a programming error. */
export function kubernetesClient(): KubernetesClient {
  if (!loaded)
    throw new Error(
      'the Kubernetes client is not loaded: await loadKubernetesClient() before building Kubernetes activities or stores',
    );
  return loaded;
}

/** Whether `err` is the client's HTTP error (status in `code`); false when no client was ever loaded. */
export function isKubernetesApiError(err: unknown): err is K8s.ApiException<unknown> {
  return Boolean(loaded && err instanceof loaded.ApiException);
}

/** The merge-patch content type for the client's patch calls. */
export const mergePatch = () => {
  const k8s = kubernetesClient();
  return k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
};

/**
 * An equality-based label selector (`key=value`, `==`, `!=`, comma-joined; not the set-based
 * `in (…)` forms), as the worker's settings accept one. Here rather than in workers/config.ts so
 * the activities that parse a setting (REKEY_REGISTRY_ACCESS_LOG) check it the same way.
 */
export const labelSelectorPattern =
  /^[A-Za-z0-9./_-]+(=|==|!=)[A-Za-z0-9._-]*(,[A-Za-z0-9./_-]+(=|==|!=)[A-Za-z0-9._-]*)*$/;
