import fs from 'node:fs';
import path from 'node:path';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { pipeline, type StackConfig } from './config.js';
import { javaArgs } from './kafka.js';
import { kafkaCaFile, kafkaSaslBootstrap } from './kafkaPrincipals.js';
import { spawnDetached, stopPid, waitFor } from './proc.js';
import { logPath, type Service } from './service.js';
import { prepareHttpsTls } from './httpsTls.js';
import { connectPluginSettings } from './connectPlugins.js';
import { fastJvmStart } from './jvmStart.js';
import { connectMetricsAgent } from './connectMetrics.js';
import { connectFetch, connectRestJaasFile, writeConnectRestAuthFiles } from './connectRest.js';
import { connectorStore, type ConnectorStore, rememberConnectorStore } from './connectorStore.js';

export const connectUrl = (cfg: StackConfig) => `http://127.0.0.1:${cfg.ports.connect}`;
/** The kubeconfig Strimzi's provider reads (the kafka-connect ServiceAccount's token, written by the kubelet when it starts the pod). */
export const connectKubeconfigPath = (cfg: StackConfig) => path.join(cfg.dataDir, 'connect', 'kubeconfig');
/** Where the embedded kubelet projects the Connect pod's Secret volumes. */
export const projectedVolumesDir = (cfg: StackConfig) => path.join(cfg.dataDir, 'kubelet', 'volumes');

export { connectorStore, connectorStores, type ConnectorStore } from './connectorStore.js';

/** A config-provider reference to one key of a secret, in the form the store needs. */
export function ref(cfg: StackConfig, store: ConnectorStore, secret: string, key: string): string {
  if (store === 'kubernetes') return `\${secrets:data-ingestion/${secret}:${key}}`;
  const dir =
    store === 'file' ? new FileSecretStore(cfg.secretsDir).pathOf(secret) : path.join(projectedVolumesDir(cfg), secret);
  return `\${dir:${dir}:${key}}`;
}

/** The Schema Registry account the connector's Avro converter uses (rotated by rotate-schema-registry). */
export const registryClientAccount = 'developer';

/**
 * Values are Avro through Apicurio's converter (Confluent wire format, so any Confluent-style
 * consumer decodes them through the registry's ccompat API); schemas are registered by the
 * connector itself, so a registry outage or a 401 shows as a failed or stalled task. Keys stay JSON.
 */
function avroValues(cfg: StackConfig, store: ConnectorStore): Record<string, string> {
  const c = 'value.converter';
  return {
    [c]: 'io.apicurio.registry.utils.converter.AvroConverter',
    [`${c}.apicurio.registry.url`]: `http://127.0.0.1:${cfg.ports.registry}/apis/registry/v2`,
    [`${c}.apicurio.registry.auto-register`]: 'true',
    [`${c}.apicurio.registry.find-latest`]: 'true',
    [`${c}.apicurio.registry.as-confluent`]: 'true',
    [`${c}.apicurio.registry.use-id`]: 'contentId',
    [`${c}.apicurio.registry.headers.enabled`]: 'false',
    [`${c}.apicurio.auth.username`]: ref(cfg, store, pipeline.registrySecret, `${registryClientAccount}-user`),
    [`${c}.apicurio.auth.password`]: ref(cfg, store, pipeline.registrySecret, `${registryClientAccount}-password`),
  };
}

/** The Debezium connector's config: credentials are config-provider references, resolved by the worker. */
export function connectorConfig(cfg: StackConfig, store: ConnectorStore = connectorStore(cfg)): Record<string, string> {
  return {
    'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
    'tasks.max': '1',
    'database.hostname': '127.0.0.1',
    'database.port': String(cfg.ports.postgres),
    'database.user': ref(cfg, store, pipeline.cdcSecret, 'db-username'),
    'database.password': ref(cfg, store, pipeline.cdcSecret, 'db-password'),
    'database.dbname': pipeline.database,
    'topic.prefix': pipeline.topicPrefix,
    'plugin.name': 'pgoutput',
    'slot.name': pipeline.slot,
    'publication.name': pipeline.publication,
    'publication.autocreate.mode': 'disabled',
    // public.rekey_canary: the rotation canary's own table (also in the publication)
    'table.include.list': 'public.users,public.orders,public.rekey_canary',
    'snapshot.mode': 'initial',
    'heartbeat.interval.ms': '2000',
    'heartbeat.action.query':
      'INSERT INTO public.debezium_heartbeat (id, ts) VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET ts = EXCLUDED.ts',
    'offset.flush.interval.ms': '1000',
    // Debezium waits poll.interval.ms (default 500 ms) whenever its queue is empty: that wait,
    // not the pipeline, was most of what a consumer saw (bench:blackout baseline p99 ≈ 800 ms)
    'poll.interval.ms': '50',
    ...avroValues(cfg, store),
  };
}

/**
 * Points the connector at another credential store (demo/bench/test wiring) and waits until
 * its tasks run with the new references. Remembered, so `stack:up` keeps it.
 */
export async function useConnectorStore(cfg: StackConfig, store: ConnectorStore): Promise<void> {
  rememberConnectorStore(cfg, store);
  await connect.seed!(cfg);
}

/**
 * A Connect REST call that waits out a rebalance: a worker restarted with many connectors (a
 * fifty-target fleet) answers 409 or "500 Request timed out … currently starting" for minutes.
 */
export async function connectCall(url: string, init: RequestInit = {}, timeoutMs = 300_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await connectFetch(url, { ...init, signal: AbortSignal.timeout(90_000) }).catch((err: unknown) => {
      if (Date.now() > deadline) throw err;
      return undefined; // no answer within 90 s: still starting
    });
    const busy =
      !res ||
      res.status === 409 ||
      (res.status === 500 && /rebalanc|currently starting|timed out/i.test(await res.clone().text()));
    if (res && (!busy || Date.now() > deadline)) return res;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** True once the connector and every task run, and the tasks were given `desired`'s include list. */
async function runningWith(url: string, desired: Record<string, string>): Promise<boolean> {
  const res = await connectFetch(`${url}/status`);
  if (!res.ok) return false;
  const s = (await res.json()) as { connector: { state: string }; tasks: Array<{ state: string; trace?: string }> };
  const failed = s.tasks.find((t) => t.state === 'FAILED');
  if (failed) throw new Error(`task FAILED: ${failed.trace?.split('\n')[0]}`);
  if (!(s.connector.state === 'RUNNING' && s.tasks.length > 0 && s.tasks.every((t) => t.state === 'RUNNING')))
    return false;
  const tasks = await connectFetch(`${url}/tasks`);
  if (!tasks.ok) return false;
  const configs = (await tasks.json()) as Array<{ config: Record<string, string> }>;
  return (
    configs.length > 0 &&
    configs.every(
      (t) =>
        t.config['table.include.list'] === desired['table.include.list'] &&
        t.config['database.password'] === desired['database.password'],
    )
  );
}

/**
 * The worker's Kafka clients (its own, and every connector's producer, consumer and admin:
 * Connect gives them only their `producer.`/`consumer.`/`admin.` settings) authenticate on the
 * SASL_SSL listener as the principal in secret kafka-connect-sasl. The worker resolves the
 * `${dir:…}` references itself (KIP-421) when it starts: a new password takes a restart,
 * which is what rotate-kafka-scram does.
 */
export function connectKafkaClientSettings(cfg: StackConfig): string[] {
  const secret = new FileSecretStore(cfg.secretsDir).pathOf(pipeline.connectSaslSecret);
  const client = [
    'security.protocol=SASL_SSL',
    'sasl.mechanism=SCRAM-SHA-512',
    `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="\${dir:${secret}:username}" password="\${dir:${secret}:password}";`,
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${kafkaCaFile(cfg)}`,
  ];
  return [
    `bootstrap.servers=${kafkaSaslBootstrap(cfg)}`,
    ...client,
    ...['producer.', 'consumer.', 'admin.'].flatMap((prefix) => client.map((line) => prefix + line)),
  ];
}

/** Kafka Connect in distributed mode with the Debezium PostgreSQL plugin and the file/dir config providers. */
export const connect: Service = {
  name: 'kafka-connect',
  url: (cfg) => connectUrl(cfg),
  ports: (cfg) => [cfg.ports.connect, cfg.ports.connectHttps, cfg.ports.connectMetrics],
  extra: () => ({ connector: pipeline.connector }),

  async install() {
    // resolved together with Kafka by install-jvm.sh
  },

  async start(cfg) {
    const dir = path.join(cfg.dataDir, 'connect');
    fs.mkdirSync(dir, { recursive: true });
    const props = path.join(dir, 'worker.properties');
    // the HTTPS listener's keystore, from secret connect-tls (read at start: a new certificate takes a restart)
    const tls = await prepareHttpsTls(cfg, 'kafka-connect');
    // the REST API's users (secret kafka-connect-rest), read once per JVM by the basic-auth extension
    await writeConnectRestAuthFiles(cfg);
    fs.writeFileSync(
      props,
      [
        ...connectKafkaClientSettings(cfg),
        'group.id=rekey-connect',
        'key.converter=org.apache.kafka.connect.json.JsonConverter',
        'value.converter=org.apache.kafka.connect.json.JsonConverter',
        'key.converter.schemas.enable=false',
        'value.converter.schemas.enable=false',
        'config.storage.topic=rekey-connect-configs',
        'offset.storage.topic=rekey-connect-offsets',
        'status.storage.topic=rekey-connect-status',
        'config.storage.replication.factor=1',
        'offset.storage.replication.factor=1',
        'status.storage.replication.factor=1',
        'offset.flush.interval.ms=1000',
        'scheduled.rebalance.max.delay.ms=0',
        // a stopping worker waits this long for each task to stop and commit its offsets (default
        // 5 s): a Debezium task on a busy machine may take longer, and what it sent after its last
        // commit is sent again after the restart (duplicates). Kubernetes' grace period must exceed it.
        'task.shutdown.graceful.timeout.ms=25000',
        `listeners=http://127.0.0.1:${cfg.ports.connect},https://127.0.0.1:${cfg.ports.connectHttps}`,
        'listeners.https.ssl.keystore.type=PKCS12',
        `listeners.https.ssl.keystore.location=${tls.keystore}`,
        `listeners.https.ssl.keystore.password=${tls.keystorePassword}`,
        'listeners.https.ssl.client.auth=none',
        // the advertised listener (how workers forward requests to each other) stays HTTP
        'rest.advertised.listener=http',
        // basic authentication on every listener (Kafka's extension and its JAAS property file; internal requests are exempt)
        'rest.extension.classes=org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension',
        `rest.advertised.host.name=127.0.0.1`,
        ...connectPluginSettings(cfg),
        'config.providers=file,dir,secrets',
        'config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider',
        'config.providers.dir.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider',
        // Strimzi's provider reads Secrets from the API (as the kafka-connect ServiceAccount) each time a task starts
        'config.providers.secrets.class=io.strimzi.kafka.KubernetesSecretConfigProvider',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    fs.chmodSync(props, 0o600);
    const classpath = [
      path.join(cfg.cache, `connect-${cfg.versions.kafka}-r2`, 'libs', '*'),
      path.join(cfg.cache, `connect-basic-auth-${cfg.versions.kafka}`, 'libs', '*'),
    ].join(path.delimiter);
    const log = logPath(cfg, 'kafka-connect');
    const pid = spawnDetached({
      name: 'kafka-connect',
      command: 'java',
      args: [
        // the archive's name follows the classpath (the basic-auth extension joined it)
        ...fastJvmStart(cfg, `kafka-connect-${cfg.versions.kafka}-auth`, 'java', { javaAgent: true }),
        connectMetricsAgent(cfg, dir),
        `-Djava.security.auth.login.config=${connectRestJaasFile(cfg)}`,
        ...javaArgs(cfg, 'kafka-connect', '768m', classpath),
        'org.apache.kafka.connect.cli.ConnectDistributed',
        props,
      ],
      // fabric8 (in Strimzi's provider) reads KUBECONFIG; the file exists once the kubelet has started the pod
      env: { KUBECONFIG: connectKubeconfigPath(cfg) },
      runDir: cfg.runDir,
      logPath: log,
    });
    await waitFor('kafka-connect', () => connect.healthy(cfg), { timeoutMs: 120_000, logPath: log, pid });
  },

  async healthy(cfg) {
    const res = await connectFetch(`${connectUrl(cfg)}/connector-plugins`, { signal: AbortSignal.timeout(3000) }, cfg);
    if (!res.ok) return false;
    const plugins = (await res.json()) as Array<{ class: string }>;
    return plugins.some((p) => p.class === 'io.debezium.connector.postgresql.PostgresConnector');
  },

  /**
   * Creates the connector, or updates a running one whose config differs from
   * connectorConfig() (e.g. a table added to the include list by a newer version), then
   * waits until its tasks run with that config. An unchanged config is left alone, so
   * `stack:up` on a running stack does not restart the connector.
   */
  async seed(cfg) {
    const url = `${connectUrl(cfg)}/connectors/${pipeline.connector}`;
    const desired = connectorConfig(cfg);
    const current = await connectCall(`${url}/config`);
    const live = current.ok ? ((await current.json()) as Record<string, string>) : undefined;
    const differs =
      !live ||
      Object.keys(desired).some((k) => live[k] !== desired[k]) ||
      Object.keys(live).some((k) => k !== 'name' && !(k in desired));
    if (differs) {
      const put = await connectCall(`${url}/config`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(desired),
      });
      if (!put.ok)
        throw new Error(
          `${live ? 'updating' : 'creating'} connector ${pipeline.connector} failed: HTTP ${put.status} ${await put.text()}`,
        );
    }
    // a task left FAILED (e.g. by an outage while the stack was down) is restarted once: stack:up heals
    const status = await connectFetch(`${url}/status`, {}, cfg)
      .then((r) => (r.ok ? (r.json() as Promise<{ tasks: Array<{ state: string }> }>) : undefined))
      .catch(() => undefined);
    if (status?.tasks.some((t) => t.state === 'FAILED'))
      await connectFetch(`${url}/restart?includeTasks=true&onlyFailed=true`, { method: 'POST' }, cfg);
    await waitFor('kafka-connect', () => runningWith(url, desired), {
      timeoutMs: 90_000,
      logPath: logPath(cfg, 'kafka-connect'),
      what: `running connector ${pipeline.connector} with table.include.list=${desired['table.include.list']}`,
    });
  },

  async stop(cfg) {
    await stopPid(cfg.runDir, 'kafka-connect', 30_000);
  },
};
