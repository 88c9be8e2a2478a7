import type { RegistryRuntime } from '../../activities/schemaRegistry.js';
import { loadStackConfig } from './config.js';
import { registry } from './registry.js';

/**
 * The embedded stack's Schema Registry is a local process that reads its users from the
 * file store when it starts: restarting it is what a StatefulSet rollout does on Kubernetes.
 */
export function localRegistry(env: NodeJS.ProcessEnv = process.env): RegistryRuntime {
  const cfg = loadStackConfig(env);
  return {
    async restart(onProgress) {
      onProgress('stopping the Schema Registry');
      await registry.stop(cfg);
      onProgress('starting the Schema Registry with the users in the secret');
      const beat = setInterval(() => onProgress('waiting for the Schema Registry'), 5000);
      try {
        await registry.start(cfg);
      } finally {
        clearInterval(beat);
      }
    },
  };
}
