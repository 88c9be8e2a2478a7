import fs from 'node:fs';
import path from 'node:path';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { pipeline, type StackConfig } from './config.js';
import { kafkaBootstrap, javaArgs } from './kafka.js';
import { spawnDetached, stopPid, waitFor } from './proc.js';
import { logPath, type Service } from './service.js';

export const connectUrl = (cfg: StackConfig) => `http://127.0.0.1:${cfg.ports.connect}`;

/** The Debezium connector's config: credentials are references into the secret folder, resolved by the worker. */
export function connectorConfig(cfg: StackConfig): Record<string, string> {
  const secretDir = new FileSecretStore(cfg.secretsDir).pathOf(pipeline.cdcSecret);
  return {
    'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
    'tasks.max': '1',
    'database.hostname': '127.0.0.1',
    'database.port': String(cfg.ports.postgres),
    'database.user': `\${dir:${secretDir}:db-username}`,
    'database.password': `\${dir:${secretDir}:db-password}`,
    'database.dbname': pipeline.database,
    'topic.prefix': pipeline.topicPrefix,
    'plugin.name': 'pgoutput',
    'slot.name': pipeline.slot,
    'publication.name': pipeline.publication,
    'publication.autocreate.mode': 'disabled',
    'table.include.list': 'public.users,public.orders',
    'snapshot.mode': 'initial',
    'heartbeat.interval.ms': '2000',
    'heartbeat.action.query': 'INSERT INTO public.debezium_heartbeat (id, ts) VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET ts = EXCLUDED.ts',
    'offset.flush.interval.ms': '1000',
  };
}

/** Kafka Connect in distributed mode with the Debezium PostgreSQL plugin and the file/dir config providers. */
export const connect: Service = {
  name: 'kafka-connect',
  url: (cfg) => connectUrl(cfg),
  ports: (cfg) => [cfg.ports.connect],
  extra: () => ({ connector: pipeline.connector }),

  async install() {
    // resolved together with Kafka by install-jvm.sh
  },

  async start(cfg) {
    const dir = path.join(cfg.dataDir, 'connect');
    fs.mkdirSync(dir, { recursive: true });
    const props = path.join(dir, 'worker.properties');
    const plugins = path.join(cfg.cache, `debezium-postgres-${cfg.versions.debezium}`);
    fs.writeFileSync(
      props,
      [
        `bootstrap.servers=${kafkaBootstrap(cfg)}`,
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
        `listeners=http://127.0.0.1:${cfg.ports.connect}`,
        `rest.advertised.host.name=127.0.0.1`,
        `plugin.path=${plugins}`,
        'config.providers=file,dir',
        'config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider',
        'config.providers.dir.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider',
        '',
      ].join('\n'),
    );
    const classpath = path.join(cfg.cache, `connect-${cfg.versions.kafka}-r2`, 'libs', '*');
    const log = logPath(cfg, 'kafka-connect');
    const pid = spawnDetached({
      name: 'kafka-connect',
      command: 'java',
      args: [...javaArgs(cfg, 'kafka-connect', '768m', classpath), 'org.apache.kafka.connect.cli.ConnectDistributed', props],
      runDir: cfg.runDir,
      logPath: log,
    });
    await waitFor('kafka-connect', () => connect.healthy(cfg), { timeoutMs: 120_000, logPath: log, pid });
  },

  async healthy(cfg) {
    const res = await fetch(`${connectUrl(cfg)}/connector-plugins`, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) return false;
    const plugins = (await res.json()) as Array<{ class: string }>;
    return plugins.some((p) => p.class === 'io.debezium.connector.postgresql.PostgresConnector');
  },

  async seed(cfg) {
    const url = `${connectUrl(cfg)}/connectors/${pipeline.connector}`;
    const put = await fetch(`${url}/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(connectorConfig(cfg)),
    });
    if (!put.ok) throw new Error(`creating connector ${pipeline.connector} failed: HTTP ${put.status} ${await put.text()}`);
    await waitFor(
      'kafka-connect',
      async () => {
        const res = await fetch(`${url}/status`);
        if (!res.ok) return false;
        const s = (await res.json()) as { connector: { state: string }; tasks: Array<{ state: string; trace?: string }> };
        const failed = s.tasks.find((t) => t.state === 'FAILED');
        if (failed) throw new Error(`task FAILED: ${failed.trace?.split('\n')[0]}`);
        return s.connector.state === 'RUNNING' && s.tasks.length > 0 && s.tasks.every((t) => t.state === 'RUNNING');
      },
      { timeoutMs: 90_000, logPath: logPath(cfg, 'kafka-connect'), what: `running connector ${pipeline.connector}` },
    );
  },

  async stop(cfg) {
    await stopPid(cfg.runDir, 'kafka-connect', 30_000);
  },
};
