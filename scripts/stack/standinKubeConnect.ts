import type { KubeConfig } from '@kubernetes/client-node';
import type { ConnectWorkerRuntime } from '../../activities/kafkaConnect.js';
import { createKubernetesActivities } from '../../activities/kubernetes.js';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { KubernetesSecretStore } from '../../activities/secrets/kubernetesStore.js';
import { loadStackConfig, pipeline } from './config.js';
import { connect } from './connect.js';

/**
 * The embedded stack's stand-in for Kafka Connect pods on Kubernetes. Restarting the
 * worker deletes the real pods (`app=kafka-connect,component=worker`) through the API and
 * waits until their replacements are Ready; then, as a kubelet does when it starts a pod
 * with a secret volume, projects the Secret into the folder the local Connect process
 * mounts, and restarts that process.
 */
export function kubernetesConnectWorker(opts: { kubeConfig: KubeConfig; namespace: string; secret?: string; env?: NodeJS.ProcessEnv }): ConnectWorkerRuntime {
  const cfg = loadStackConfig(opts.env);
  const workloads = createKubernetesActivities({ kubeConfig: opts.kubeConfig, namespace: opts.namespace });
  const secrets = new KubernetesSecretStore(opts.kubeConfig, opts.namespace);
  const volume = new FileSecretStore(cfg.secretsDir);
  const name = opts.secret ?? pipeline.cdcSecret;
  return {
    async restart(onProgress) {
      onProgress('deleting kafka-connect pods');
      // called from the restartConnectWorker activity, so the helper heartbeats through it
      await workloads.restartPodsByLabel({ selector: 'app=kafka-connect,component=worker', timeoutMs: 300_000 });
      onProgress('projecting the secret volume');
      const secret = await secrets.read(name);
      if (!secret) throw new Error(`secrets/${name} not found in namespace ${opts.namespace}`);
      await volume.write(name, secret.data, { annotations: { projectedFrom: `${opts.namespace}/${name}`, resourceVersion: secret.info.version } });
      onProgress('restarting the Kafka Connect process');
      await connect.stop(cfg);
      await connect.start(cfg);
    },
  };
}
