import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { KubernetesSecretStore } from '../../activities/secrets/kubernetesStore.js';
import type { SecretStore } from '../../activities/secrets/store.js';
import { pipeline, type StackConfig } from './config.js';
import { connectorStore, useConnectorStore, type ConnectorStore } from './connect.js';
import { adminKubeConfig, kubeNamespace } from './kube.js';
import { s3Sink } from './s3Sink.js';
import { sampleApp } from './sampleAppDb.js';

/** The secret store a rotation on the embedded stack writes, as the worker config names it. */
export type PipelineStore = 'file' | 'kubernetes';

async function copySecrets(from: SecretStore, to: SecretStore): Promise<void> {
  // rekey's own Kafka principal and Connect REST credential too: the worker reads them from the store it is configured with
  for (const name of [
    pipeline.cdcSecret,
    pipeline.adminSecret,
    pipeline.registrySecret,
    pipeline.awsSecret,
    pipeline.rekeySaslSecret,
    pipeline.connectRestSecret,
    sampleApp.secret,
  ]) {
    const current = await from.read(name);
    if (!current) continue;
    const existing = await to.read(name);
    if (existing?.info.fingerprint !== current.info.fingerprint)
      await to.write(name, current.data, { expectedVersion: existing?.info.version ?? null });
  }
}

/**
 * Moves the embedded pipeline to another source of truth for its credentials (demo, bench
 * and test wiring): the current values are copied into that store, then the
 * connectors are pointed at it (the CDC connector and the S3 sink: `${dir:…}` for the file store; `${secrets:…}` through Strimzi's provider,
 * or the kubelet's projected volume, for Kubernetes). Switching to the store in use changes nothing.
 */
export async function usePipelineStore(
  cfg: StackConfig,
  store: PipelineStore,
  opts: { volume?: boolean } = {},
): Promise<ConnectorStore> {
  const target: ConnectorStore = store === 'file' ? 'file' : opts.volume ? 'kubernetes-volume' : 'kubernetes';
  const current = connectorStore(cfg);
  if (current === target) return target;
  const files = new FileSecretStore(cfg.secretsDir);
  const wasKube = current !== 'file';
  if (wasKube !== (store === 'kubernetes')) {
    const kube = new KubernetesSecretStore(adminKubeConfig(cfg), kubeNamespace);
    await (store === 'kubernetes' ? copySecrets(files, kube) : copySecrets(kube, files));
  }
  await useConnectorStore(cfg, target);
  // the S3 sink reads its AWS key and its registry account through the same store
  await s3Sink.seed?.(cfg);
  return target;
}
