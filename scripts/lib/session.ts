import fs from 'node:fs';
import path from 'node:path';
import type { NativeConnection } from '@temporalio/worker';
import { loadStackConfig, pipeline, type StackConfig } from '../stack/config.js';
import { ensureCodecKey } from '../stack/codec.js';
import { connectorStore } from '../stack/connect.js';
import { kubeconfigPath, kubeNamespace } from '../stack/kube.js';
import { localConnectWorker } from '../stack/standinLocalConnect.js';
import { awsAdminSecret } from '../stack/moto.js';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { localRegistry } from '../stack/standinLocalRegistry.js';
import { localSampleApp } from '../stack/standinSampleApp.js';
import { sampleApp } from '../stack/sampleAppDb.js';
import { loadWorkerConfig, productionDefaults, type WorkerConfig } from '../../workers/config.js';
import { createWorker, secretStoreFor } from '../../workers/worker.js';
import { localKafkaTls, localPostgresTls } from '../stack/tls.js';
import { KAFKA_TLS_LISTENER, kafkaAuthorizerLogPath } from '../stack/kafka.js';
import { kafkaCaFile, kafkaSaslBootstrap } from '../stack/kafkaPrincipals.js';
import { localHttpsTls } from '../stack/httpsTls.js';
import { faultHoldFromEnv } from '../stack/faultHold.js';

/**
 * The embedded stack's addresses as worker defaults (environment variables still win). The
 * secret store is the one the connector reads now (`demo --store kubernetes` moves it to
 * the Kubernetes Secrets), so `npm run worker` always rotates what the pipeline uses.
 */
export function stackWorkerDefaults(stack: StackConfig) {
  const onKubernetes = connectorStore(stack) !== 'file';
  return {
    ...productionDefaults,
    temporal: { address: `127.0.0.1:${stack.ports.temporal}`, namespace: 'default', taskQueue: 'rekey' },
    secrets: onKubernetes
      ? { kind: 'kubernetes', namespace: kubeNamespace, kubeconfig: kubeconfigPath(stack) }
      : { kind: 'file', dir: stack.secretsDir },
    postgres: {
      host: '127.0.0.1',
      port: stack.ports.postgres,
      database: pipeline.database,
      adminSecret: pipeline.adminSecret,
    },
    // Connect's REST API asks for basic authentication (the platform plan's KAFKA_CONNECT_PASSWORD)
    kafkaConnect: { url: `http://127.0.0.1:${stack.ports.connect}`, auth: { secret: pipeline.connectRestSecret } },
    // rekey's clients as the platform plan has them: SCRAM over TLS as its own principal, with only its ACLs
    kafka: {
      brokers: [kafkaSaslBootstrap(stack)],
      // written when Kafka starts: a checkout without a stack yet still loads its configuration
      ...(fs.existsSync(kafkaCaFile(stack)) ? { caFile: kafkaCaFile(stack) } : {}),
      sasl: { secret: pipeline.rekeySaslSecret, mechanism: 'SCRAM-SHA-512' },
      // the broker's authorizer decisions (scripts/stack/kafka.ts): the SCRAM rotation's broker-side proof
      authorizerLog: `file:${kafkaAuthorizerLogPath(stack)}`,
      tls: { brokers: [`127.0.0.1:${stack.ports.kafkaTls}`], listener: KAFKA_TLS_LISTENER },
    },
    // the stand-in's access log names the user of every request (scripts/stack/registry.ts)
    schemaRegistry: {
      url: `http://127.0.0.1:${stack.ports.registry}/apis/ccompat/v7`,
      accessLog: `file:${path.join(stack.logDir, 'schema-registry.log')}`,
    },
    aws: { endpoint: `http://127.0.0.1:${stack.ports.moto}`, region: 'us-east-1' },
    audit: { path: path.join(stack.dir, 'audit', 'rotations.jsonl') },
    // the access validation's RBAC and network-policy checks read the embedded control plane (when it was ever started)
    kubernetes: fs.existsSync(kubeconfigPath(stack))
      ? { namespace: kubeNamespace, kubeconfig: kubeconfigPath(stack) }
      : undefined,
    // many workers share one machine on the stack: metrics only when REKEY_METRICS_ADDRESS asks
    metrics: { address: 'off' },
    health: { address: 'off' },
  };
}

/**
 * Worker configuration for the embedded stack: the payload codec key is generated
 * once into the stack folder (mode 0600) unless REKEY_CODEC_KEY is set.
 */
export function embeddedWorkerConfig(env: NodeJS.ProcessEnv = process.env): {
  stack: StackConfig;
  config: WorkerConfig;
} {
  const stack = loadStackConfig(env);
  const keyFile =
    env.REKEY_CODEC_KEY || env.REKEY_CODEC_KEY_FILE ? path.join(stack.dir, 'codec.key') : ensureCodecKey(stack);
  const config = loadWorkerConfig(
    { REKEY_CODEC_KEY_FILE: env.REKEY_CODEC_KEY ? undefined : keyFile, ...env },
    stackWorkerDefaults(stack),
  );
  return { stack, config };
}

/**
 * A worker on the embedded stack. With the file store (no Kubernetes) the Kafka Connect
 * "pod" restart is the local process restarted by a stand-in; with the Kubernetes store the
 * worker is the production one (a rollout restart through the API), and the stack's
 * kubelet (scripts/stack/kubelet.ts) turns the new pod into a fresh Connect process.
 */
export async function createEmbeddedWorker(
  config: WorkerConfig,
  opts: { connection?: NativeConnection; quiet?: boolean } = {},
) {
  const local = config.secrets.kind !== 'kubernetes';
  // rekey's own AWS identity on the stack: the emulator's administrator, re-read per call (a restarted moto issues a new key)
  const admins = new FileSecretStore(loadStackConfig().secretsDir);
  const awsCredentials = async () => {
    const admin = await admins.read(awsAdminSecret);
    if (!admin) throw new Error(`no ${awsAdminSecret} secret: start the aws-emulator with npm run stack:up`);
    return { accessKeyId: admin.data['access-key-id']!, secretAccessKey: admin.data['secret-access-key']! };
  };
  const holdHook = config.testHooks ? faultHoldFromEnv() : undefined;
  return createWorker(config, {
    connectWorker: local ? localConnectWorker() : undefined,
    // the stack's PostgreSQL, Kafka, Connect and registry are local processes: their certificate files are written, whichever store holds the secret
    tlsInstallers: await tlsInstallersFor(config),
    // the stack's registry is always local processes (no StatefulSet runs it), whichever store holds its users
    registryRuntime: localRegistry(),
    // the stack's sample application (rotate-postgres-app) is local processes too
    workloads: { [sampleApp.workload]: localSampleApp() },
    awsCredentials,
    // the fault matrix parks a named activity so it can kill the worker inside it (test workers only)
    activityInterceptors: holdHook ? [holdHook] : undefined,
    connection: opts.connection,
    quiet: opts.quiet,
    workflowBundlePath: devWorkflowBundle(config),
  });
}

/**
 * REKEY_DEV_WORKFLOW_BUNDLE: workflow code bundled once (with the failure converter) for many
 * development workers, as the stack lane's global setup does — each worker would otherwise
 * bundle for ~5 s at start. Only for encrypting workers: the bundle carries the encoding
 * failure converter, which a worker recording unencrypted histories must not use.
 */
function devWorkflowBundle(config: WorkerConfig): string | undefined {
  const file = process.env.REKEY_DEV_WORKFLOW_BUNDLE;
  return file && !config.codec.insecureNoEncryption && fs.existsSync(file) ? file : undefined;
}

/** The stack's services are local processes: a certificate is installed by writing its files, whichever store holds the secret. */
async function tlsInstallersFor(config: WorkerConfig) {
  const stack = loadStackConfig();
  const store = await secretStoreFor(config);
  return {
    postgresql: localPostgresTls(stack, store),
    kafka: localKafkaTls(stack, store),
    'kafka-connect': localHttpsTls(stack, 'kafka-connect', store),
    'schema-registry': localHttpsTls(stack, 'schema-registry', store),
  };
}

export const uiLink = (stack: StackConfig, workflowId: string) =>
  `http://127.0.0.1:${stack.ports.temporalUi}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`;
