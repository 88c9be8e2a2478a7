import os from 'node:os';
import { ApplicationFailure } from '@temporalio/activity';
import type { KubeConfig } from '@kubernetes/client-node';
import { createAuditActivities } from './audit.js';
import { createStreamAuditActivities } from './auditStream.js';
import { type AwsCredentials, createAwsActivities } from './aws.js';
import { createAwsValidation } from './awsValidation.js';
import { createCredentialActivities } from './credentials.js';
import { createHostActivities } from './host.js';
import { createIsolationActivities } from './isolation.js';
import { createKafkaActivities, reloadListenerKeystore } from './kafka.js';
import { kafkaClientConfig, type KafkaDeps } from './kafkaClient.js';
import { createKafkaPrincipalActivities } from './kafkaPrincipals.js';
import { createKafkaAuthorizerLogActivities } from './kafkaAuthorizerLog.js';
import { createKafkaValidation } from './kafkaValidation.js';
import { createKafkaConnectActivities, type ConnectWorkerRuntime } from './kafkaConnect.js';
import { createKafkaConnectValidation } from './kafkaConnectValidation.js';
import { createConnectRestUserActivities } from './connectRestUsers.js';
import { createWorkloadActivities, type WorkloadRuntime } from './workloads.js';
import type { ConnectPodsMemory } from './kubernetes.js';
import { createKubernetesValidation } from './kubernetesValidation.js';
import { createNetworkValidation, endpointOf, type Endpoint } from './network.js';
import { createPlanActivities } from './plans.js';
import { createPostgresActivities } from './postgres/index.js';
import { registryApi, type RegistryFlavour } from './registryApi.js';
import { createSchemaRegistryActivities, type RegistryRuntime } from './schemaRegistry.js';
import { createSchemaRegistryValidation } from './schemaRegistryValidation.js';
import { createRegistryAccessLogActivities } from './registryAccessLog.js';
import { createSinkCanaryActivities } from './sinkCanary.js';
import type { SecretStore } from './secrets/store.js';
import { createTlsActivities, type TlsInstaller } from './tls/index.js';
import { fetchTrusting, httpsEndpoint, withBasicAuth } from './http.js';
import { credentialKeys } from './credentials.js';
import type { PostgresTls } from './postgres/connection.js';
import { createCertificateLifecycleActivities } from './tls/lifecycle.js';
import type { TlsService } from '../contracts/input/certificate.js';

/** This process as an audit writer: the pod (host) name, the pid and the start time, so a restarted container starts a chain of its own. */
const auditWriter = `${os.hostname()}#${process.pid}@${new Date().toISOString()}`;

export interface ActivityDeps {
  store: SecretStore;
  /** `ssl`: rekey's own connections over TLS (sslmode, root CA); absent: plaintext. */
  postgres: { host: string; port: number; database: string; adminSecret: string; ssl?: PostgresTls };
  /** `caPem`: the CA bundle trusted for an https:// URL, or a reader of it (re-read per request: a mounted Secret a CA rotation changes). */
  /** `auth.secret`: the REST API's basic-auth credential (username, password), re-read per request. */
  kafkaConnect: {
    url: string;
    worker?: ConnectWorkerRuntime;
    caPem?: string | (() => string);
    auth?: { secret: string };
  };
  /** The brokers rekey's clients use (their TLS and SASL), and Kafka's TLS listener for certificate rotation. */
  kafka: KafkaDeps;
  /** Apicurio's base URL (…/apis/… suffixes are stripped) and how to restart it. */
  /** `accessLog`: the registry's access log (the registry-side proof that clients moved), `file:<path>` or `pods:<namespace>/<selector>[:<container>]` (read through `kubernetes`). */
  /** `api`: the registry's API flavour (default apicurio: the URL may name Apicurio's root or any of its API paths). */
  schemaRegistry?: {
    url: string;
    api?: RegistryFlavour;
    runtime?: RegistryRuntime;
    caPem?: string | (() => string);
    accessLog?: string;
  };
  /** IAM and S3 (the S3 sink's access keys): `endpoint` for an emulator; `credentials` absent = the SDK's default chain. */
  aws?: { region: string; endpoint?: string; credentials?: AwsCredentials };
  /** `path`: the JSONL file, or `stdout` (REKEY_AUDIT_LOG=stdout). */
  audit: { path: string };
  /** Workers started for tests (REKEY_TEST_HOOKS) accept rollback drills (`injectFailure`). */
  testHooks?: boolean;
  /** When set (Kubernetes backends), the Kafka Connect pods' memory health feeds the pre-flight memory check. */
  connectPodsMemory?: () => Promise<ConnectPodsMemory>;
  /** The cluster the pipeline runs on: emergency isolation, and the validation's RBAC and network-policy checks (absent: isolation refuses, those checks are skipped). */
  kubernetes?: { kubeConfig: KubeConfig; namespace: string };
  /** Workloads rolled by something else than the cluster (`<Kind>/<name>`): the embedded stack's local processes. */
  workloads?: Record<string, WorkloadRuntime>;
  /** How each service's certificate reaches it (certificate rotation); absent: installing is refused with a reason. */
  tlsInstallers?: Partial<Record<TlsService, TlsInstaller>>;
}

/** Registered even without a cluster, so a workflow that needs one fails with a clear reason instead of an unknown activity. */
function withoutCluster<T extends Record<string, unknown>>(names: Array<keyof T>): T {
  const refuse = () => {
    throw ApplicationFailure.nonRetryable(
      'this worker has no Kubernetes API configured (set REKEY_K8S_NAMESPACE and KUBECONFIG, or run in-cluster)',
      'NoKubernetes',
    );
  };
  return Object.fromEntries(names.map((n) => [n, refuse])) as unknown as T;
}

/** Every address the worker is configured with: what the network validation connects to and resolves. */
function configuredEndpoints(deps: ActivityDeps): Endpoint[] {
  const kubeServer = deps.kubernetes?.kubeConfig.getCurrentCluster()?.server;
  return [
    endpointOf('postgresql', `${deps.postgres.host}:${deps.postgres.port}`),
    ...deps.kafka.brokers.map((b) => endpointOf('kafka', b)),
    endpointOf('kafka-connect', deps.kafkaConnect.url),
    ...(deps.schemaRegistry ? [endpointOf('schema-registry', deps.schemaRegistry.url)] : []),
    ...(deps.aws?.endpoint ? [endpointOf('aws', deps.aws.endpoint)] : []),
    ...(kubeServer ? [endpointOf('kubernetes', kubeServer)] : []),
  ];
}

/** Kafka's TLS listener for certificate rotation: reached on its brokers, reloaded through the Admin API on rekey's brokers. */
function kafkaTls(deps: ActivityDeps) {
  const tls = deps.kafka.tls;
  return tls
    ? {
        brokers: tls.brokers,
        listener: tls.listener,
        reloadKeystore: () => reloadListenerKeystore(kafkaClientConfig(deps.kafka, deps.store), tls.listener),
      }
    : undefined;
}

/** The HTTPS endpoints whose certificates a rotation checks, and the restarts that make Connect and the registry read a new one. */
function tlsRuntimes(deps: ActivityDeps, registryUrl: string) {
  const connect = httpsEndpoint(deps.kafkaConnect.url);
  const registry = httpsEndpoint(registryUrl);
  return {
    endpoints: {
      ...(connect ? { 'kafka-connect': connect } : {}),
      ...(registry ? { 'schema-registry': registry } : {}),
    },
    restarts: { 'kafka-connect': deps.kafkaConnect.worker, 'schema-registry': deps.schemaRegistry?.runtime },
  };
}

/** Kafka Connect's REST client: the configured CA, and basic auth from the secret store when configured. */
function connectFetch(deps: ActivityDeps) {
  const trusting = fetchTrusting(deps.kafkaConnect.caPem);
  const secret = deps.kafkaConnect.auth?.secret;
  if (!secret) return trusting;
  return withBasicAuth(trusting, async () => {
    const s = await deps.store.read(secret).catch((err: Error) => {
      // the request is never sent: say why, a forbidden read (RBAC) for good, an API hiccup for a retry
      const text = `reading secret ${secret} (Kafka Connect's REST credential, kafkaConnect.auth.secret) failed: ${err.message}`;
      throw err.name === 'KubernetesAccessError'
        ? ApplicationFailure.nonRetryable(text, 'ConnectCredentialUnreadable')
        : ApplicationFailure.retryable(text, 'SecretStoreUnavailable');
    });
    const { user, password } = credentialKeys.sasl;
    if (!s?.data[user] || !s.data[password])
      throw ApplicationFailure.nonRetryable(
        `secret ${secret} ${s ? `lacks ${user} or ${password}` : 'does not exist'} (Kafka Connect's REST credential, kafkaConnect.auth.secret)`,
        'ConnectCredentialMissing',
      );
    return { username: s.data[user]!, password: s.data[password]! };
  });
}

/** The object the worker registers: every activity, built from injected clients and settings. */
export function createActivities(deps: ActivityDeps) {
  const flavour = deps.schemaRegistry?.api ?? 'apicurio';
  // Apicurio's root, whichever of its APIs the URL names; a Confluent registry's URL is its root as given
  const registryUrl = (deps.schemaRegistry?.url ?? 'http://schema-registry:8080').replace(
    flavour === 'apicurio' ? /\/apis\/.*$/ : /\/+$/,
    '',
  );
  const connect = { ...deps.kafkaConnect, fetch: connectFetch(deps) };
  const registry = { url: registryUrl, api: registryApi(flavour), fetch: fetchTrusting(deps.schemaRegistry?.caPem) };
  const aws = {
    store: deps.store,
    region: deps.aws?.region ?? 'us-east-1',
    endpoint: deps.aws?.endpoint,
    credentials: deps.aws?.credentials,
  };
  const postgres = createPostgresActivities({ store: deps.store, ...deps.postgres });
  const awsActivities = createAwsActivities(aws);
  const kafkaPrincipals = createKafkaPrincipalActivities({ store: deps.store, kafka: deps.kafka });
  return {
    ...postgres,
    ...createKafkaConnectActivities(connect),
    ...createConnectRestUserActivities({
      store: deps.store,
      url: deps.kafkaConnect.url,
      fetch: fetchTrusting(deps.kafkaConnect.caPem),
      rekeyFetch: connect.fetch,
      rekeyAuthSecret: deps.kafkaConnect.auth?.secret,
    }),
    ...createKafkaActivities(kafkaClientConfig(deps.kafka, deps.store)),
    ...kafkaPrincipals,
    ...createKafkaAuthorizerLogActivities({
      authorizerLog: deps.kafka.authorizerLog,
      kubeConfig: deps.kubernetes?.kubeConfig,
    }),
    ...createSchemaRegistryActivities({ store: deps.store, ...registry, runtime: deps.schemaRegistry?.runtime }),
    // a pods: access log is read through the cluster's API (list pods, get pods/log)
    ...createRegistryAccessLogActivities({
      accessLog: deps.schemaRegistry?.accessLog,
      kubeConfig: deps.kubernetes?.kubeConfig,
    }),
    ...createCredentialActivities({ store: deps.store }),
    ...createTlsActivities({
      store: deps.store,
      postgres: { store: deps.store, ...deps.postgres },
      installers: deps.tlsInstallers,
      kafka: kafkaTls(deps),
      ...tlsRuntimes(deps, registryUrl),
    }),
    ...createCertificateLifecycleActivities({ store: deps.store }),
    ...createWorkloadActivities({ kubernetes: deps.kubernetes, runtimes: deps.workloads }),
    ...awsActivities,
    ...createSinkCanaryActivities({ writeCanary: postgres.writeCanary, archivedMarker: awsActivities.archivedMarker }),
    ...createHostActivities({ connectPodsMemory: deps.connectPodsMemory }),
    // `stdout`: one hash chain per worker process, for the log shipper (no shared volume); else a JSONL file
    ...(deps.audit.path === 'stdout'
      ? createStreamAuditActivities({ writer: auditWriter })
      : createAuditActivities(deps.audit)),
    ...createPlanActivities({ testHooks: deps.testHooks ?? false }),
    // access validation (`rekey validate`): read-only checks, one module per system
    ...createKafkaConnectValidation(connect),
    ...createKafkaValidation({ store: deps.store, kafka: deps.kafka, ...kafkaPrincipals }),
    ...createSchemaRegistryValidation({
      store: deps.store,
      ...registry,
      kafka: kafkaClientConfig(deps.kafka, deps.store, 'rekey-validate'),
      brokers: deps.kafka.brokers,
    }),
    ...createAwsValidation(aws),
    ...createKubernetesValidation({ kubernetes: deps.kubernetes }),
    ...createNetworkValidation({ endpoints: () => configuredEndpoints(deps) }),
    ...(deps.kubernetes
      ? createIsolationActivities(deps.kubernetes)
      : withoutCluster<ReturnType<typeof createIsolationActivities>>([
          'inspectDeployment',
          'applyEmergencyPolicy',
          'removeEmergencyPolicy',
          'scaleDeployment',
        ])),
  };
}

export type Activities = ReturnType<typeof createActivities>;
