import type { RegistryRuntime } from './schemaRegistry.js';

/**
 * REKEY_REGISTRY_RELOAD: how the Schema Registry comes to accept the users rekey wrote.
 * - `restart` (default): a rollout restart (the registry reads its users at start: Apicurio, or
 *   a Confluent registry without hot reload).
 * - `file-watch`: the registry re-reads its users file by itself: a Confluent registry whose JAAS
 *   `PropertyFileLoginModule` has `hotReload="true"`, reading `user-info` from the secret mounted
 *   as a volume (the kubelet updates it; a subPath mount is never updated).
 */
export const registryReloads = ['restart', 'file-watch'] as const;
export type RegistryReload = (typeof registryReloads)[number];

/**
 * The runtime for `file-watch`: restarts nothing. The registry picks the users up once the kubelet
 * has synced the volume (about a minute) and its watcher has fired; the workflow's next step
 * (`waitRegistryAuth`) polls until the registry answers as expected, so that wait is the proof,
 * bounded by the plan's `registryWaitSeconds`.
 */
export function registryFileWatch(): RegistryRuntime {
  return {
    async restart(onProgress) {
      onProgress(
        'no restart (REKEY_REGISTRY_RELOAD=file-watch): the registry re-reads its users file once the kubelet has updated the mounted secret; the next step waits for its answer',
      );
    },
  };
}
