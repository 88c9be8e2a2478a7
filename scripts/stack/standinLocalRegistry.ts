import type { RegistryRuntime } from '../../activities/schemaRegistry.js';
import { loadStackConfig } from './config.js';
import { replicaSpec } from './registry.js';
import { rollReplicas } from './registryReplicas.js';

/**
 * The embedded stack's Schema Registry: two local replicas that read their users from the
 * file store when they start, restarted one at a time behind one address, as a StatefulSet
 * rollout does on Kubernetes.
 */
export function localRegistry(env: NodeJS.ProcessEnv = process.env): RegistryRuntime {
  const cfg = loadStackConfig(env);
  return {
    async restart(onProgress) {
      const beat = setInterval(() => onProgress('waiting for the Schema Registry replica'), 5000);
      try {
        await rollReplicas(cfg, await replicaSpec(cfg), onProgress);
      } finally {
        clearInterval(beat);
      }
    },
  };
}
