import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** Repository root, derived from this file so scripts work from any cwd. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const port = (fallback: number) => z.coerce.number().int().min(1024).max(65535).default(fallback);

const EnvSchema = z.object({
  REKEY_STACK_DIR: z.string().default(path.join(repoRoot, '.rekey')),
  REKEY_CACHE: z.string().default(path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'rekey')),
  REKEY_TEMPORAL_PORT: port(17233),
  REKEY_TEMPORAL_UI_PORT: port(18233),
  REKEY_POSTGRES_PORT: port(15432),
  REKEY_KAFKA_PORT: port(19092),
  REKEY_KAFKA_CONTROLLER_PORT: port(19093),
  REKEY_CONNECT_PORT: port(18083),
  /** Kafka Connect's JMX exporter agent (deploy/monitoring/kafka-connect-metrics.yaml) */
  REKEY_CONNECT_METRICS_PORT: port(19404),
  REKEY_CODEC_SERVER_PORT: port(18084),
  REKEY_REGISTRY_PORT: port(18081),
  REKEY_REGISTRY_MANAGEMENT_PORT: port(18082),
  REKEY_MOTO_PORT: port(15000),
  REKEY_KUBE_APISERVER_PORT: port(16443),
  /** etcd client port; peer and kwok-controller use the next two */
  REKEY_ETCD_PORT: port(16379),
  /** Kafka's TLS listener, beside the plaintext one */
  REKEY_KAFKA_TLS_PORT: port(19094),
  /** Kafka's SASL_SSL listener (SCRAM-SHA-512, ACLs): the one Connect and rekey's worker use */
  REKEY_KAFKA_SASL_PORT: port(19095),
  /** HTTPS listeners of Kafka Connect's REST API and the registry, beside their HTTP ones */
  REKEY_CONNECT_HTTPS_PORT: port(18443),
  REKEY_REGISTRY_HTTPS_PORT: port(18444),
  /** First port of the fault proxies (one per proxied service, consecutive) */
  REKEY_PROXY_BASE_PORT: port(18500),
});

export type StackConfig = ReturnType<typeof loadStackConfig>;

/** Reads the stack's ports and folders from the environment; a bad value names its variable. */
export function loadStackConfig(env: NodeJS.ProcessEnv = process.env) {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid stack configuration: ${issues}`);
  }
  const e = parsed.data;
  const dir = path.resolve(e.REKEY_STACK_DIR);
  return {
    dir,
    cache: e.REKEY_CACHE,
    dataDir: path.join(dir, 'data'),
    logDir: path.join(dir, 'logs'),
    runDir: path.join(dir, 'run'),
    secretsDir: path.join(dir, 'secrets'),
    ports: {
      temporal: e.REKEY_TEMPORAL_PORT,
      temporalUi: e.REKEY_TEMPORAL_UI_PORT,
      postgres: e.REKEY_POSTGRES_PORT,
      kafka: e.REKEY_KAFKA_PORT,
      kafkaController: e.REKEY_KAFKA_CONTROLLER_PORT,
      connect: e.REKEY_CONNECT_PORT,
      connectMetrics: e.REKEY_CONNECT_METRICS_PORT,
      codec: e.REKEY_CODEC_SERVER_PORT,
      registry: e.REKEY_REGISTRY_PORT,
      registryManagement: e.REKEY_REGISTRY_MANAGEMENT_PORT,
      moto: e.REKEY_MOTO_PORT,
      kubeApiserver: e.REKEY_KUBE_APISERVER_PORT,
      etcd: e.REKEY_ETCD_PORT,
      kafkaTls: e.REKEY_KAFKA_TLS_PORT,
      kafkaSasl: e.REKEY_KAFKA_SASL_PORT,
      connectHttps: e.REKEY_CONNECT_HTTPS_PORT,
      registryHttps: e.REKEY_REGISTRY_HTTPS_PORT,
      proxyBase: e.REKEY_PROXY_BASE_PORT,
    },
    versions: {
      temporalCli: 'v1.5.1',
      kafka: '4.3.1',
      debezium: '3.6.3.Final',
      apicurio: '3.3.3',
      moto: '5.2.5',
      strimziProvider: '1.2.0',
      jmxExporter: '1.0.1',
      apicurioConverter: '2.6.13.Final',
    },
  } as const;
}

/** Names shared by the stack, the demo and the tests. */
export const pipeline = {
  database: 'ecommerce',
  parentRole: 'debezium_parent',
  publication: 'dbz_publication',
  slot: 'debezium_slot',
  connector: 'postgres-cdc-users-connector',
  topicPrefix: 'ecommerce',
  usersTopic: 'ecommerce.public.users',
  /** Where Debezium writes public.rekey_canary: the CDC rotation reads its canary back here, and the sink archives it (the AWS rotation's canary). */
  canaryTopic: 'ecommerce.public.rekey_canary',
  cdcSecret: 'debezium-credentials',
  adminSecret: 'postgres-admin',
  registrySecret: 'schema-registry-auth',
  awsSecret: 'aws-credentials',
  awsUser: 'datapipe-s3-user',
  bucket: 'datapipe-archive',
  /** The stack's CA (ca.crt, ca.key) and PostgreSQL's server certificate (tls.crt, tls.key, ca.crt). */
  caSecret: 'rekey-ca',
  postgresTlsSecret: 'postgres-tls',
  /** The broker's TLS listener certificate (tls.crt, tls.key, ca.crt, and keystore.pem: key + certificate, Kafka's PEM keystore). */
  kafkaTlsSecret: 'kafka-tls',
  /** The Kafka Connect worker's SCRAM principal (username, password): rotated by rotate-kafka-scram. */
  connectSaslSecret: 'kafka-connect-sasl',
  /** Kafka Connect's REST API credential (username, password, users.properties): the platform plan's KAFKA_CONNECT_PASSWORD. */
  connectRestSecret: 'kafka-connect-rest',
  /** rekey's own SCRAM principal on the SASL_SSL listener (username, password). */
  rekeySaslSecret: 'kafka-rekey-sasl',
} as const;

/**
 * The services the fault matrix puts a proxy in front of, in port order: service i listens on
 * `ports.proxyBase + i` (scripts/stack/faultProxy.ts). Keys are `ports` names.
 */
export const proxiedServices = ['postgres', 'connect', 'registry', 'moto', 'kubeApiserver'] as const;
export type ProxiedService = (typeof proxiedServices)[number];

export const searchAttributes = ['RotationComponent', 'RotationTarget', 'RotationPhase'] as const;
