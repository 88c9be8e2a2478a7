import { fileURLToPath } from 'node:url';
import { DefaultLogger, NativeConnection, Runtime, Worker, makeTelemetryFilterString } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import type { ConnectWorkerRuntime } from '../activities/kafkaConnect.js';
import { FileSecretStore } from '../activities/secrets/fileStore.js';
import type { SecretStore } from '../activities/secrets/store.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubernetesSecretStore, loadKubeConfig } from '../activities/secrets/kubernetesStore.js';
import { dataConverter } from './codec.js';
import type { WorkerConfig } from './config.js';
import { localConnectWorker } from './localConnectWorker.js';
import { kubernetesConnectWorker } from './kubeConnectWorker.js';
import { createKubernetesActivities } from '../activities/kubernetes.js';
import { logger } from './logger.js';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

let runtimeInstalled = false;
function installRuntime() {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const sdkLog = logger.child({ component: 'temporal-sdk' });
  Runtime.install({
    logger: new DefaultLogger('INFO', (entry) => {
      const level = entry.level === 'TRACE' ? 'trace' : entry.level === 'DEBUG' ? 'debug' : entry.level === 'WARN' ? 'warn' : entry.level === 'ERROR' ? 'error' : 'info';
      sdkLog[level]({ ...entry.meta }, entry.message);
    }),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } },
  });
}

export function secretStoreFor(config: WorkerConfig, kubeConfig?: KubeConfig): SecretStore {
  if (config.secrets.kind === 'file') return new FileSecretStore(config.secrets.dir);
  return new KubernetesSecretStore(kubeConfig ?? loadKubeConfig({ kubeconfig: config.secrets.kubeconfig }), config.secrets.namespace);
}

/** Builds a worker for task queue `config.temporal.taskQueue` with every rekey workflow and activity. */
export async function createWorker(config: WorkerConfig, overrides: { connectWorker?: ConnectWorkerRuntime; connection?: NativeConnection } = {}) {
  installRuntime();
  const connection = overrides.connection ?? (await NativeConnection.connect({ address: config.temporal.address }));
  // one kubeconfig for the store, the workload activities and the Connect worker runtime
  const kubeConfig = config.secrets.kind === 'kubernetes' ? loadKubeConfig({ kubeconfig: config.secrets.kubeconfig }) : undefined;
  const store = secretStoreFor(config, kubeConfig);
  const kube = kubeConfig && config.secrets.kind === 'kubernetes' ? createKubernetesActivities({ kubeConfig, namespace: config.secrets.namespace }) : undefined;
  const connectWorker =
    overrides.connectWorker ??
    (kubeConfig && config.secrets.kind === 'kubernetes' ? kubernetesConnectWorker({ kubeConfig, namespace: config.secrets.namespace }) : localConnectWorker());
  const activities = createActivities({
    store,
    postgres: config.postgres,
    kafkaConnect: { url: config.kafkaConnect.url, worker: connectWorker },
    kafka: config.kafka,
    audit: config.audit,
    nodesUnderMemoryPressure: kube ? async () => (await kube.nodeMemoryPressure()).underPressure : undefined,
  });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowsPath,
    activities,
    dataConverter: dataConverter(config.codec),
    shutdownGraceTime: '30s',
  });
  return { worker, connection };
}
