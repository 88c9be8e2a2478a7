import fs from 'node:fs';
import { z } from 'zod';
import { pemFile, sslmodes, TemporalTlsSchema, tlsFromEnv } from './tlsConfig.js';
import { codecFromEnv, ConfigError, fromEnv, type Json, merge } from './configEnv.js';

export { ConfigError, type Json };
import { registryFlavours } from '../activities/registryApi.js';
import { kafkaSaslMechanisms } from '../activities/kafkaClient.js';
import { labelSelectorPattern } from '../activities/kubernetesClient.js';
import { parseAccessLogSource } from '../activities/registryAccessLogSource.js';
import { registryReloads } from '../activities/registryReload.js';

const url = z.string().url();

/** `host:port` (IPv6 in brackets) to bind the metrics endpoint on, or `off`. */
const listenAddress = (what: string, example: string) =>
  z
    .string()
    .regex(
      /^(off|(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5})$/,
      `must be host:port to bind ${what} on (e.g. ${example}), or off`,
    )
    .refine((a) => a === 'off' || Number(a.slice(a.lastIndexOf(':') + 1)) <= 65535, 'port must be 0-65535');
const metricsAddress = listenAddress('the Prometheus endpoint', '0.0.0.0:9464');

const keyId = (hint = '') =>
  z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, `must be a key id: 1-64 characters of A-Z a-z 0-9 . _ -${hint}`);
const codecKey = z
  .string()
  .refine(
    (k) => Buffer.from(k, 'base64').length === 32,
    'must be base64 of exactly 32 bytes (openssl rand -base64 32)',
  );

/**
 * Payload codec keyring: `key`/`keyId` encrypt (current); `previousKeys` only decrypt
 * payloads sealed before a rotation of the codec key. Env: REKEY_CODEC_KEY (or
 * REKEY_CODEC_KEY_FILE), REKEY_CODEC_KEY_ID, REKEY_CODEC_PREVIOUS_KEYS=id:base64key,…
 */
export const CodecConfigSchema = z
  .object({
    /** base64 of 32 random bytes (AES-256-GCM). */
    key: codecKey.optional(),
    keyId: keyId().default('rekey-1'),
    previousKeys: z
      .array(z.object({ id: keyId(' (REKEY_CODEC_PREVIOUS_KEYS is a comma list of id:base64key)'), key: codecKey }))
      .optional(),
    insecureNoEncryption: z.boolean().default(false),
  })
  .superRefine((c, ctx) => {
    const seen = new Set([c.keyId]);
    (c.previousKeys ?? []).forEach((k, i) => {
      if (seen.has(k.id))
        ctx.addIssue({
          code: 'custom',
          path: ['previousKeys', i, 'id'],
          message: `key id "${k.id}" is already in the keyring (ids must be unique; the current key is keyId)`,
        });
      seen.add(k.id);
    });
  });

export type CodecConfig = z.infer<typeof CodecConfigSchema>;

/** Everything the worker needs, validated at start: REKEY_* variables or a JSON file named by REKEY_CONFIG. */
const workloadRef = (kinds: string[]) =>
  z
    .string()
    .regex(
      new RegExp(`^(${kinds.join('|')})/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`),
      `must be Kind/name with Kind one of ${kinds.join(', ')} (e.g. ${kinds[0]}/kafka-connect)`,
    );
const labelSelector = z
  .string()
  .regex(
    labelSelectorPattern,
    'must be a label selector such as app=kafka-connect or strimzi.io/name=my-connect-connect',
  );

/** REKEY_REGISTRY_ACCESS_LOG: the activities' own parser decides, so the worker never starts with a value they would refuse. */
const accessLogSource = z.string().superRefine((v, ctx) => {
  const parsed = parseAccessLogSource(v);
  if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
});

/** A `Kind/name` workload reference, split. */
export function parseWorkload(ref: string): { kind: 'Deployment' | 'StatefulSet' | 'StrimziPodSet'; name: string } {
  const [kind, name] = ref.split('/') as ['Deployment' | 'StatefulSet' | 'StrimziPodSet', string];
  return { kind, name };
}

/** The Temporal frontend the worker and the CLI connect to. */
const TemporalConfigSchema = z.object({
  address: z.string().min(1),
  namespace: z.string().min(1).default('default'),
  taskQueue: z.string().min(1).default('rekey'),
  /** TLS to the frontend (mTLS with a client certificate); set with no fields: server TLS with the system roots. */
  tls: TemporalTlsSchema.optional(),
  /** Temporal Cloud API key (implies TLS). Env: REKEY_TEMPORAL_API_KEY or REKEY_TEMPORAL_API_KEY_FILE. Never logged. */
  apiKey: z.string().min(1, 'is empty (REKEY_TEMPORAL_API_KEY_FILE unreadable or blank?)').optional(),
});

export const WorkerConfigSchema = z
  .object({
    temporal: TemporalConfigSchema,
    codec: CodecConfigSchema,
    secrets: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('file'), dir: z.string().min(1) }),
      z.object({ kind: z.literal('kubernetes'), namespace: z.string().min(1), kubeconfig: z.string().optional() }),
    ]),
    /**
     * The cluster the pipeline runs on (emergency isolation; the validation checks): the
     * namespace and an optional kubeconfig (absent: in-cluster). Defaults to the secret
     * store's when that is Kubernetes.
     */
    kubernetes: z.object({ namespace: z.string().min(1), kubeconfig: z.string().optional() }).optional(),
    /**
     * The workloads rekey restarts on a cluster, as `Kind/name` (env REKEY_CONNECT_WORKLOAD,
     * REKEY_CONNECT_POD_SELECTOR, REKEY_REGISTRY_WORKLOAD). Kafka Connect run by Strimzi is
     * `StrimziPodSet/<cluster>-connect` (rolled by Strimzi's manual-rolling-update annotation).
     */
    workloads: z
      .object({
        connect: workloadRef(['Deployment', 'StatefulSet', 'StrimziPodSet']).default('Deployment/kafka-connect'),
        connectPodSelector: labelSelector.optional(),
        registry: workloadRef(['Deployment', 'StatefulSet']).default('StatefulSet/schema-registry'),
      })
      .default({ connect: 'Deployment/kafka-connect', registry: 'StatefulSet/schema-registry' }),
    postgres: z.object({
      host: z.string().min(1),
      port: z.coerce.number().int().min(1).max(65535),
      database: z.string().min(1),
      adminSecret: z.string().min(1),
      /** rekey's own connections: libpq's sslmode (verify-full checks chain and host name). */
      sslmode: z.enum(sslmodes, { error: () => `must be one of: ${sslmodes.join(', ')}` }).default('disable'),
      /** CA file verify-ca/verify-full trust (default: the system roots). */
      sslRootCert: pemFile('CA certificate').optional(),
    }),
    /** `caFile`: the CA bundle trusted for an https:// URL (instead of the system roots). */
    /** `auth.secret`: Connect's REST basic-auth credential (username, password), re-read per request. Env: REKEY_CONNECT_AUTH_SECRET. */
    kafkaConnect: z.object({
      url,
      caFile: pemFile('CA bundle').optional(),
      auth: z
        .object({
          secret: z
            .string()
            .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'must be a secret name (lowercase, digits, "-", ".")'),
        })
        .optional(),
    }),
    /**
     * rekey's own Kafka clients. `ssl`: TLS to the brokers (`caFile`: the CA bundle, else the
     * system roots). `sasl`: SCRAM as the principal whose username/password the secret `secret`
     * holds (re-read for each new connection); it implies TLS: rekey never sends a SCRAM
     * exchange in the clear. Env: REKEY_KAFKA_SSL, REKEY_KAFKA_CA_FILE, REKEY_KAFKA_SASL_SECRET,
     * REKEY_KAFKA_SASL_MECHANISM.
     */
    kafka: z.object({
      brokers: z.array(z.string().min(1)).min(1),
      ssl: z.boolean().default(false),
      caFile: pemFile('CA bundle').optional(),
      sasl: z
        .object({
          secret: z
            .string()
            .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'must be a secret name (lowercase, digits, "-", ".")'),
          mechanism: z
            .enum(kafkaSaslMechanisms, { error: () => `must be one of: ${kafkaSaslMechanisms.join(', ')}` })
            .default('SCRAM-SHA-512'),
        })
        .optional(),
      /** The brokers' authorizer log, the SCRAM rotation's broker-side proof: `file:<path>` or `pods:<ns>/<selector>[:<container>]`. Env: REKEY_KAFKA_AUTHORIZER_LOG. */
      authorizerLog: accessLogSource.optional(),
      /** Kafka's TLS listener (certificate rotation): its brokers (host:port) and listener name. Env: REKEY_KAFKA_TLS_BROKERS, REKEY_KAFKA_TLS_LISTENER. */
      tls: z
        .object({
          brokers: z
            .array(z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port'))
            .min(1),
          listener: z
            .string()
            .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be the listener name of listeners= (e.g. SSL)')
            .default('SSL'),
        })
        .optional(),
    }),
    /**
     * `accessLog`: where the registry's access log is read, for the registry-side proof that clients
     * moved: `file:<absolute path>`, or `pods:<namespace>/<label selector>[:<container>]` (the pods'
     * stdout through the Kubernetes API). Env: REKEY_REGISTRY_ACCESS_LOG.
     */
    /** `api`: the API the registry speaks, apicurio (default) or confluent (the URL is then the Confluent root). Env: REKEY_REGISTRY_API. */
    /** `reload`: restart (unset: a rollout restart makes the registry read its users) or file-watch (it re-reads its users file by itself). Env: REKEY_REGISTRY_RELOAD. */
    schemaRegistry: z.object({
      url,
      api: z
        .enum(registryFlavours, { error: () => `must be one of: ${registryFlavours.join(', ')}` })
        .default('apicurio'),
      caFile: pemFile('CA bundle').optional(),
      accessLog: accessLogSource.optional(),
      // optional rather than defaulted: configs built in code (tests, tools) need not name it; unset is restart
      reload: z.enum(registryReloads, { error: () => `must be one of: ${registryReloads.join(', ')}` }).optional(),
    }),
    aws: z.object({ endpoint: url.optional(), region: z.string().min(1).default('us-east-1') }),
    audit: z.object({ path: z.string().min(1) }),
    /**
     * Prometheus endpoint (`/metrics`) of the SDK's runtime: the SDK's own worker metrics and
     * rekey's rotation metrics. `host:port`, or `off`. Env: REKEY_METRICS_ADDRESS.
     */
    metrics: z.object({ address: metricsAddress }),
    /**
     * The worker's health endpoint for Kubernetes probes (`/livez`, `/readyz`: workers/health.ts).
     * `host:port`, or `off`. Env: REKEY_HEALTH_ADDRESS.
     */
    health: z.object({ address: listenAddress('the health endpoint', '0.0.0.0:8080') }).default({ address: 'off' }),
    /**
     * Worker slots and cache (the SDK's WorkerOptions); unset = the SDK's defaults. Measured by
     * bench:fleet (README, "Fleet"). Env: REKEY_MAX_CONCURRENT_ACTIVITIES,
     * REKEY_MAX_CONCURRENT_WORKFLOW_TASKS, REKEY_MAX_CACHED_WORKFLOWS.
     */
    worker: z
      .object({
        maxConcurrentActivities: z.coerce.number().int().min(1).max(1000).optional(),
        maxConcurrentWorkflowTasks: z.coerce.number().int().min(2).max(1000).optional(),
        maxCachedWorkflows: z.coerce.number().int().min(0).max(100_000).optional(),
      })
      .default({}),
    /** Accept rollback drills (`injectFailure`): test and drill workers only, never production. */
    testHooks: z.boolean().default(false),
  })
  .superRefine((c, ctx) => {
    if (c.kafka.caFile && !c.kafka.ssl && !c.kafka.sasl)
      ctx.addIssue({
        code: 'custom',
        path: ['kafka', 'caFile'],
        message: 'is set but neither kafka.ssl nor kafka.sasl is (the CA would never be used)',
      });
    for (const part of ['kafkaConnect', 'schemaRegistry'] as const) {
      if (c[part].caFile && !c[part].url.startsWith('https://'))
        ctx.addIssue({
          code: 'custom',
          path: [part, 'caFile'],
          message: `is set but ${part}.url is not https:// (the CA would never be used)`,
        });
    }
    // the pods' logs are read through the cluster's API: without one the proof could only fail mid-rotation
    for (const [part, field] of [
      ['schemaRegistry', 'accessLog'],
      ['kafka', 'authorizerLog'],
    ] as const) {
      const value = part === 'kafka' ? c.kafka.authorizerLog : c.schemaRegistry.accessLog;
      if (!value?.startsWith('pods:') || c.secrets.kind === 'kubernetes' || c.kubernetes) continue;
      ctx.addIssue({
        code: 'custom',
        path: [part, field],
        message:
          'pods:… reads the pods through the Kubernetes API: set REKEY_K8S_NAMESPACE (and KUBECONFIG, or run in-cluster) or REKEY_SECRET_STORE=kubernetes',
      });
    }
  })
  .refine((c) => c.codec.key !== undefined || c.codec.insecureNoEncryption, {
    message:
      'no payload codec key: set REKEY_CODEC_KEY (base64, 32 bytes) or, for local development only, REKEY_INSECURE_NO_ENCRYPTION=true',
    path: ['codec', 'key'],
  });

export type WorkerConfig = z.infer<typeof WorkerConfigSchema>;

/**
 * Production defaults: only what is safe to assume anywhere. Everything that names a
 * system (PostgreSQL, Kafka Connect, brokers…) must be configured; the embedded stack's
 * development wiring (scripts/lib/session.ts) passes its own defaults instead.
 */
export const productionDefaults = {
  temporal: { address: 'localhost:7233', namespace: 'default', taskQueue: 'rekey' },
  codec: { keyId: 'rekey-1', insecureNoEncryption: false },
  secrets: { kind: 'kubernetes', namespace: 'data-ingestion' },
  aws: { region: 'us-east-1' },
  // for the log shipper: a worker needs no volume (activities/auditStream.ts)
  audit: { path: 'stdout' },
  // a worker in production is meant to be scraped (deploy/worker.yaml declares the port)
  metrics: { address: '0.0.0.0:9464' },
  // deploy/worker.yaml's probes ask it
  health: { address: '0.0.0.0:8080' },
  testHooks: false,
};

/** Only the codec part (for the codec server): same sources and errors as the worker's `codec`. */
export function loadCodecConfig(env: NodeJS.ProcessEnv = process.env): CodecConfig {
  const parsed = CodecConfigSchema.safeParse(
    merge({ keyId: 'rekey-1', insecureNoEncryption: false }, codecFromEnv(env)),
  );
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  codec.${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid codec configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** Defaults ← config file (REKEY_CONFIG) ← environment, before validation. */
function configSources(env: NodeJS.ProcessEnv, defaults: Json): Json {
  let file: Json = {};
  if (env.REKEY_CONFIG) {
    try {
      file = JSON.parse(fs.readFileSync(env.REKEY_CONFIG, 'utf8')) as Json;
    } catch (err) {
      // a JSON syntax error quotes the text around it, which may hold a key: say where, never what
      const why =
        err instanceof SyntaxError
          ? `not valid JSON${/position \d+/.exec(err.message)?.[0].replace(/^/, ' at ') ?? ''}`
          : (err as Error).message;
      throw new ConfigError(`cannot read config file REKEY_CONFIG=${env.REKEY_CONFIG}: ${why}`);
    }
  }
  return merge(merge(merge(defaults, file), fromEnv(env)), tlsFromEnv(env));
}

function parseConfig<T extends z.ZodType>(schema: T, what: string, input: Json): z.infer<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid ${what} configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** Defaults ← config file (REKEY_CONFIG) ← environment. A wrong value names its field. */
export function loadWorkerConfig(
  env: NodeJS.ProcessEnv = process.env,
  defaults: Json = productionDefaults,
): WorkerConfig {
  return parseConfig(WorkerConfigSchema, 'worker', configSources(env, defaults));
}

/** What a Temporal client needs (the CLI): the same sources, only the frontend and the payload codec validated. */
export const ClientConfigSchema = z.object({ temporal: TemporalConfigSchema, codec: CodecConfigSchema });
export type ClientConfig = z.infer<typeof ClientConfigSchema>;
export function loadClientConfig(
  env: NodeJS.ProcessEnv = process.env,
  defaults: Json = productionDefaults,
): ClientConfig {
  return parseConfig(ClientConfigSchema, 'client', configSources(env, defaults));
}
