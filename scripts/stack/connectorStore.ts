import fs from 'node:fs';
import path from 'node:path';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { KubernetesSecretStore } from '../../activities/secrets/kubernetesStore.js';
import type { SecretStore } from '../../activities/secrets/store.js';
import type { StackConfig } from './config.js';
import { adminKubeConfig, kubeNamespace } from './kube.js';

/**
 * Where the connector's credential comes from:
 * - `file`: `${dir:…}` into the file store (the stack's default, no Kubernetes);
 * - `kubernetes`: `${secrets:data-ingestion/<secret>:key}`, read from the API by Strimzi's provider on every (re)start;
 * - `kubernetes-volume`: `${dir:…}` into the Secret volume the kubelet projects (refreshed on its own clock).
 */
export const connectorStores = ['file', 'kubernetes', 'kubernetes-volume'] as const;
export type ConnectorStore = (typeof connectorStores)[number];
const storeFile = (cfg: StackConfig) => path.join(cfg.dataDir, 'connect', 'credential-store');

export function connectorStore(cfg: StackConfig): ConnectorStore {
  try {
    const v = fs.readFileSync(storeFile(cfg), 'utf8').trim();
    return (connectorStores as readonly string[]).includes(v) ? (v as ConnectorStore) : 'file';
  } catch {
    return 'file';
  }
}

export function rememberConnectorStore(cfg: StackConfig, store: ConnectorStore): void {
  fs.mkdirSync(path.dirname(storeFile(cfg)), { recursive: true });
  fs.writeFileSync(storeFile(cfg), `${store}\n`);
}

/** The store the pipeline's secrets live in now: the file store, or the cluster's Secrets (as the Connect pod mounts them). */
export function pipelineSecrets(cfg: StackConfig): SecretStore {
  return connectorStore(cfg) === 'file'
    ? new FileSecretStore(cfg.secretsDir)
    : new KubernetesSecretStore(adminKubeConfig(cfg), kubeNamespace);
}
