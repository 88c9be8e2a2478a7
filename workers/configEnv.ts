import fs from 'node:fs';

/**
 * Where the worker's configuration comes from, before validation (workers/config.ts validates):
 * REKEY_* variables, the JSON file REKEY_CONFIG names, and the defaults under them.
 */

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type Json = Record<string, unknown>;
export function merge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && typeof base[k] === 'object'
        ? merge(base[k] as Json, v as Json)
        : v;
  }
  return out;
}

export function fromEnv(env: NodeJS.ProcessEnv): Json {
  return {
    temporal: {
      address: env.REKEY_TEMPORAL_ADDRESS,
      namespace: env.REKEY_TEMPORAL_NAMESPACE,
      taskQueue: env.REKEY_TASK_QUEUE,
    },
    codec: codecFromEnv(env),
    secrets:
      env.REKEY_SECRET_STORE === 'kubernetes'
        ? {
            kind: 'kubernetes',
            namespace: env.REKEY_K8S_NAMESPACE ?? 'data-ingestion',
            kubeconfig: env.KUBECONFIG,
            dir: undefined,
          }
        : { kind: env.REKEY_SECRET_STORE, dir: env.REKEY_SECRETS_DIR },
    kubernetes:
      env.REKEY_K8S_NAMESPACE && env.REKEY_SECRET_STORE !== 'kubernetes'
        ? { namespace: env.REKEY_K8S_NAMESPACE, kubeconfig: env.KUBECONFIG }
        : undefined,
    workloads: {
      connect: env.REKEY_CONNECT_WORKLOAD,
      connectPodSelector: env.REKEY_CONNECT_POD_SELECTOR,
      registry: env.REKEY_REGISTRY_WORKLOAD,
    },
    postgres: {
      host: env.REKEY_PG_HOST,
      port: env.REKEY_PG_PORT,
      database: env.REKEY_PG_DATABASE,
      adminSecret: env.REKEY_PG_ADMIN_SECRET,
    },
    kafkaConnect: {
      url: env.REKEY_CONNECT_URL,
      auth: env.REKEY_CONNECT_AUTH_SECRET ? { secret: env.REKEY_CONNECT_AUTH_SECRET } : undefined,
    },
    kafka: {
      brokers: env.REKEY_KAFKA_BROKERS?.split(','),
      ssl:
        env.REKEY_KAFKA_SSL === undefined
          ? undefined
          : ['1', 'true', 'yes'].includes(env.REKEY_KAFKA_SSL.toLowerCase()),
      caFile: env.REKEY_KAFKA_CA_FILE,
      authorizerLog: env.REKEY_KAFKA_AUTHORIZER_LOG?.trim() || undefined,
      sasl: env.REKEY_KAFKA_SASL_SECRET
        ? { secret: env.REKEY_KAFKA_SASL_SECRET, mechanism: env.REKEY_KAFKA_SASL_MECHANISM }
        : undefined,
      tls: env.REKEY_KAFKA_TLS_BROKERS
        ? { brokers: env.REKEY_KAFKA_TLS_BROKERS.split(','), listener: env.REKEY_KAFKA_TLS_LISTENER }
        : undefined,
    },
    schemaRegistry: {
      url: env.REKEY_REGISTRY_URL,
      api: env.REKEY_REGISTRY_API,
      accessLog: env.REKEY_REGISTRY_ACCESS_LOG,
      reload: env.REKEY_REGISTRY_RELOAD?.trim() || undefined,
    },
    aws: { endpoint: env.REKEY_AWS_ENDPOINT, region: env.AWS_REGION },
    audit: { path: env.REKEY_AUDIT_LOG },
    metrics: { address: env.REKEY_METRICS_ADDRESS?.trim() || undefined },
    health: { address: env.REKEY_HEALTH_ADDRESS?.trim() || undefined },
    worker: {
      maxConcurrentActivities: env.REKEY_MAX_CONCURRENT_ACTIVITIES,
      maxConcurrentWorkflowTasks: env.REKEY_MAX_CONCURRENT_WORKFLOW_TASKS,
      maxCachedWorkflows: env.REKEY_MAX_CACHED_WORKFLOWS,
    },
    testHooks:
      env.REKEY_TEST_HOOKS === undefined
        ? undefined
        : ['1', 'true', 'yes'].includes(env.REKEY_TEST_HOOKS.toLowerCase()),
  };
}

export function codecFromEnv(env: NodeJS.ProcessEnv): Json {
  const bool = (v: string | undefined) =>
    v === undefined ? undefined : ['1', 'true', 'yes'].includes(v.toLowerCase());
  return {
    key: env.REKEY_CODEC_KEY ?? readKeyFile(env.REKEY_CODEC_KEY_FILE),
    keyId: env.REKEY_CODEC_KEY_ID,
    previousKeys: parsePreviousKeys(env.REKEY_CODEC_PREVIOUS_KEYS),
    insecureNoEncryption: bool(env.REKEY_INSECURE_NO_ENCRYPTION),
  };
}

/** `id:base64key,id:base64key` → [{id, key}]; an entry without `:` gets an empty id, which the schema names. */
function parsePreviousKeys(list: string | undefined): Array<{ id: string; key: string }> | undefined {
  if (list === undefined || list.trim() === '') return undefined;
  return list
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.indexOf(':');
      return at < 0 ? { id: '', key: '' } : { id: entry.slice(0, at).trim(), key: entry.slice(at + 1).trim() };
    });
}

function readKeyFile(file: string | undefined): string | undefined {
  if (!file) return undefined;
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`cannot read REKEY_CODEC_KEY_FILE=${file}: ${(err as Error).message}`);
  }
}
