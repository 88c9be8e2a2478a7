import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import {
  type ActivityInterceptorsFactory,
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  makeTelemetryFilterString,
} from '@temporalio/worker';
import { kubernetesRolloutRestart } from '../activities/connectRuntime.js';
import { strimziRollingRestart } from '../activities/strimzi.js';
import type { RegistryRuntime } from '../activities/schemaRegistry.js';
import { registryFileWatch } from '../activities/registryReload.js';
import type { AwsCredentials } from '../activities/aws.js';
import { createActivities } from '../activities/index.js';
import type { ConnectWorkerRuntime } from '../activities/kafkaConnect.js';
import type { WorkloadRuntime } from '../activities/workloads.js';
import { createKubernetesActivities } from '../activities/kubernetes.js';
import { FileSecretStore } from '../activities/secrets/fileStore.js';
import { projectedSecretVolume, type TlsInstaller } from '../activities/tls/index.js';
import type { TlsService } from '../contracts/input/certificate.js';
import { KubernetesSecretStore, loadKubeConfig } from '../activities/secrets/kubernetesStore.js';
import { loadKubernetesClient } from '../activities/kubernetesClient.js';
import type { SecretStore } from '../activities/secrets/store.js';
import { metricNames, stepDurationBuckets } from '../workflows/rotation/metricNames.js';
import { dataConverter } from './codec.js';
import { parseWorkload, type WorkerConfig } from './config.js';
import { logger } from './logger.js';
import { caBundleReader, postgresTls, temporalConnectionOptions } from './tlsConfig.js';
import { kafkaClientDeps } from './kafkaDeps.js';

const workflowsIndex = (ext: string) => fileURLToPath(new URL(`../workflows/index.${ext}`, import.meta.url));
/** Source checkout: workflows/index.ts; compiled (dist/): workflows/index.js. */
export const workflowsPath = fs.existsSync(workflowsIndex('ts')) ? workflowsIndex('ts') : workflowsIndex('js');
/**
 * The image pre-bundles the workflows at build time (scripts/build-worker.ts writes
 * dist/workflow-bundle.js next to dist/workers/): no bundler or compiler runs in production.
 */
const prebuiltBundle = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));

let runtimeInstalled = false;
/**
 * Routes the SDK's logs (bundler output included) into rekey's JSON logger; `quiet` keeps
 * only warnings. With a metrics address, the SDK's Prometheus exporter serves `/metrics`:
 * its own worker metrics (`temporal_…`) and rekey's (`rekey_…`, see workflows/rotation/metricNames.ts).
 * The Runtime is per process: the first worker's settings hold for every later one.
 */
function installRuntime(quiet: boolean, metricsAddress: string) {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const sdkLog = logger.child({ component: 'temporal-sdk' });
  Runtime.install({
    logger: new DefaultLogger(quiet ? 'WARN' : 'INFO', (entry) => {
      const level =
        entry.level === 'TRACE'
          ? 'trace'
          : entry.level === 'DEBUG'
            ? 'debug'
            : entry.level === 'WARN'
              ? 'warn'
              : entry.level === 'ERROR'
                ? 'error'
                : 'info';
      sdkLog[level]({ ...entry.meta }, entry.message);
    }),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      ...(metricsAddress === 'off' ? {} : { metrics: prometheusExporter(metricsAddress) }),
    },
  });
  if (metricsAddress !== 'off') logger.info({ address: metricsAddress }, 'Prometheus metrics on /metrics');
}

/** Prometheus naming conventions: counters end in _total, durations in seconds. */
function prometheusExporter(bindAddress: string) {
  return {
    prometheus: {
      bindAddress,
      countersTotalSuffix: true,
      useSecondsForDurations: true,
      // rotation steps run from under a second (a query) to many minutes (waiting for a connector)
      histogramBucketOverrides: { [metricNames.stepDuration]: stepDurationBuckets },
    },
  };
}

export async function secretStoreFor(config: WorkerConfig, kubeConfig?: KubeConfig): Promise<SecretStore> {
  if (config.secrets.kind === 'file') return new FileSecretStore(config.secrets.dir);
  await loadKubernetesClient();
  return new KubernetesSecretStore(
    kubeConfig ?? loadKubeConfig({ kubeconfig: config.secrets.kubeconfig }),
    config.secrets.namespace,
  );
}

export interface WorkerOverrides {
  /** A pre-bundled workflow code file, as build-worker makes. Default: dist/workflow-bundle.js beside the compiled worker, else bundled at start. */
  workflowBundlePath?: string;
  /** How `restart-worker` restarts Kafka Connect. Default: a rollout restart on Kubernetes; none with the file store. */
  connectWorker?: ConnectWorkerRuntime;
  /** How the Schema Registry is restarted to re-read its users. Default: a rollout restart of the StatefulSet on Kubernetes. */
  registryRuntime?: RegistryRuntime;
  /** What IAM and S3 calls are signed with (the embedded stack: the emulator's admin key). Default: the AWS SDK's credential chain. */
  awsCredentials?: AwsCredentials;
  /** How a service's certificate files are installed. Default on Kubernetes: the Secret volume the kubelet projects (then the service is reloaded); none with the file store. */
  tlsInstallers?: Partial<Record<TlsService, TlsInstaller>>;
  /** Workloads rolled by a stand-in instead of the cluster (`<Kind>/<name>`: the embedded stack's sample application). */
  workloads?: Record<string, WorkloadRuntime>;
  /** Activity interceptors (the development worker's fault-matrix hooks); none in production. */
  activityInterceptors?: ActivityInterceptorsFactory[];
  connection?: NativeConnection;
  quiet?: boolean;
}

/** The pods of Kafka Connect: the configured selector, else Strimzi's label for its pod set, else the runbook's app=kafka-connect. */
function connectPodSelector(w: WorkerConfig['workloads']): string {
  const { kind, name } = parseWorkload(w.connect);
  return w.connectPodSelector ?? (kind === 'StrimziPodSet' ? `strimzi.io/name=${name}` : 'app=kafka-connect');
}

/** Restarting Kafka Connect on a cluster: a rollout restart of its Deployment/StatefulSet, or Strimzi's manual rolling update. */
function connectRestart(kube: { kubeConfig: KubeConfig; namespace: string }, w: WorkerConfig['workloads']) {
  const { kind, name } = parseWorkload(w.connect);
  if (kind === 'StrimziPodSet')
    return strimziRollingRestart({ ...kube, podSet: name, selector: connectPodSelector(w) });
  return kubernetesRolloutRestart({ ...kube, kind, name });
}

/**
 * How the registry comes to re-read its users. `file-watch` is the operator's explicit choice and
 * wins over the embedded stack's stand-in (whose Apicurio reads users only at start, so there a
 * rotation then waits in vain and rolls back). Else the caller's runtime, else a rollout restart
 * of the registry's workload on a cluster; none with the file store.
 */
function registryRuntime(
  config: WorkerConfig,
  override: RegistryRuntime | undefined,
  kube: { kubeConfig: KubeConfig; namespace: string } | undefined,
): RegistryRuntime | undefined {
  if (config.schemaRegistry.reload === 'file-watch') return registryFileWatch();
  if (override) return override;
  return kube
    ? kubernetesRolloutRestart({
        ...kube,
        ...(parseWorkload(config.workloads.registry) as { kind: 'Deployment' | 'StatefulSet'; name: string }),
      })
    : undefined;
}

/** Builds a worker for task queue `config.temporal.taskQueue` with every rekey workflow and activity. */
export async function createWorker(config: WorkerConfig, overrides: WorkerOverrides = {}) {
  installRuntime(overrides.quiet ?? false, config.metrics.address);
  const connection =
    overrides.connection ?? (await NativeConnection.connect(temporalConnectionOptions(config.temporal)));
  // the Kubernetes client is loaded only when a cluster is configured (a file-store worker never carries its ~70 MB)
  if (config.secrets.kind === 'kubernetes' || config.kubernetes) await loadKubernetesClient();
  // one kubeconfig for the store, the workload activities and the Connect worker runtime
  const kube =
    config.secrets.kind === 'kubernetes'
      ? { kubeConfig: loadKubeConfig({ kubeconfig: config.secrets.kubeconfig }), namespace: config.secrets.namespace }
      : undefined;
  const nodes = kube ? createKubernetesActivities(kube) : undefined;
  const cluster =
    kube ??
    (config.kubernetes
      ? {
          kubeConfig: loadKubeConfig({ kubeconfig: config.kubernetes.kubeconfig }),
          namespace: config.kubernetes.namespace,
        }
      : undefined);
  const activities = createActivities({
    store: await secretStoreFor(config, kube?.kubeConfig),
    postgres: {
      host: config.postgres.host,
      port: config.postgres.port,
      database: config.postgres.database,
      adminSecret: config.postgres.adminSecret,
      ssl: postgresTls(config.postgres),
    },
    kafkaConnect: {
      url: config.kafkaConnect.url,
      caPem: caBundleReader(config.kafkaConnect.caFile),
      auth: config.kafkaConnect.auth,
      worker: overrides.connectWorker ?? (kube ? connectRestart(kube, config.workloads) : undefined),
    },
    kafka: kafkaClientDeps(config.kafka),
    schemaRegistry: {
      url: config.schemaRegistry.url,
      api: config.schemaRegistry.api,
      caPem: caBundleReader(config.schemaRegistry.caFile),
      accessLog: config.schemaRegistry.accessLog,
      runtime: registryRuntime(config, overrides.registryRuntime, kube),
    },
    aws: { region: config.aws.region, endpoint: config.aws.endpoint, credentials: overrides.awsCredentials },
    audit: config.audit,
    testHooks: config.testHooks,
    connectPodsMemory: nodes
      ? () => nodes.connectPodsMemory({ selector: connectPodSelector(config.workloads) })
      : undefined,
    kubernetes: cluster,
    workloads: overrides.workloads,
    // on Kubernetes each service's certificate is a Secret volume; Connect and the registry then take a rollout restart
    tlsInstallers:
      overrides.tlsInstallers ??
      (kube
        ? {
            postgresql: projectedSecretVolume,
            kafka: projectedSecretVolume,
            'kafka-connect': projectedSecretVolume,
            'schema-registry': projectedSecretVolume,
          }
        : undefined),
  });
  const bundle = overrides.workflowBundlePath ?? (fs.existsSync(prebuiltBundle) ? prebuiltBundle : undefined);
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...(bundle ? { workflowBundle: { codePath: bundle } } : { workflowsPath }),
    activities,
    dataConverter: dataConverter(config.codec),
    shutdownGraceTime: '30s',
    maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
    maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks,
    maxCachedWorkflows: config.worker.maxCachedWorkflows,
    ...(overrides.activityInterceptors ? { interceptors: { activity: overrides.activityInterceptors } } : {}),
  });
  return { worker, connection };
}
