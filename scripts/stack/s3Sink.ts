import fs from 'node:fs';
import path from 'node:path';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { pipeline, type StackConfig } from './config.js';
import { connectorStore, connectUrl, ref } from './connect.js';
import { motoUrl } from './moto.js';
import { waitFor } from './proc.js';
import { logPath, type Service } from './service.js';
import { connectFetch } from './connectRest.js';

export const s3SinkConnector = 's3-sink-connector';

/**
 * The archive leg of the pipeline: the repo's own S3 sink (connectors/s3-sink, built by
 * install-jvm.sh) writes the users and canary topics to the bucket as JSON lines, with the key in the
 * `aws-credentials` secret read through the same config providers as every other credential,
 * and the values decoded through the registry as the read-only `probe` account.
 */
export function s3SinkConfig(cfg: StackConfig): Record<string, string> {
  const store = connectorStore(cfg);
  const c = 'value.converter';
  return {
    'connector.class': 'dev.rekey.connect.s3.S3SinkConnector',
    'tasks.max': '1',
    // the canary topic too: the AWS rotation proves the sink's switch with a canary row, whatever the traffic
    topics: [pipeline.usersTopic, pipeline.canaryTopic].join(','),
    'aws.access.key.id': ref(cfg, store, pipeline.awsSecret, 'access-key-id'),
    'aws.secret.access.key': ref(cfg, store, pipeline.awsSecret, 'secret-access-key'),
    'aws.s3.bucket.name': pipeline.bucket,
    'aws.s3.region': 'us-east-1',
    'aws.s3.endpoint': motoUrl(cfg),
    'aws.s3.path.style.access.enabled': 'true',
    'topics.dir': 'topics',
    'flush.size': '500',
    'rotate.interval.ms': '2000',
    [c]: 'io.apicurio.registry.utils.converter.AvroConverter',
    [`${c}.apicurio.registry.url`]: `http://127.0.0.1:${cfg.ports.registry}/apis/registry/v2`,
    [`${c}.apicurio.registry.as-confluent`]: 'true',
    [`${c}.apicurio.registry.use-id`]: 'contentId',
    [`${c}.apicurio.registry.headers.enabled`]: 'false',
    [`${c}.apicurio.auth.username`]: ref(cfg, store, pipeline.registrySecret, 'probe-user'),
    [`${c}.apicurio.auth.password`]: ref(cfg, store, pipeline.registrySecret, 'probe-password'),
    // from the first record after the sink was created (older records of a long-lived dev stack may be pre-Avro JSON)
    'consumer.override.auto.offset.reset': 'latest',
  };
}

async function sinkRunning(cfg: StackConfig): Promise<boolean> {
  const res = await connectFetch(`${connectUrl(cfg)}/connectors/${s3SinkConnector}/status`, {
    signal: AbortSignal.timeout(3000),
  });
  if (!res.ok) return false;
  const s = (await res.json()) as { connector: { state: string }; tasks: Array<{ state: string; trace?: string }> };
  const failed = s.tasks.find((t) => t.state === 'FAILED');
  if (failed) throw new Error(`task FAILED: ${failed.trace?.split('\n')[0]}`);
  return s.connector.state === 'RUNNING' && s.tasks.length > 0 && s.tasks.every((t) => t.state === 'RUNNING');
}

/** A connector inside Kafka Connect, not a process: started by creating (or updating) it. */
export const s3Sink: Service = {
  name: 's3-sink',
  url: (cfg) => `${connectUrl(cfg)}/connectors/${s3SinkConnector}`,
  ports: () => [],
  async install() {},
  async start() {},
  async healthy(cfg) {
    return sinkRunning(cfg);
  },
  async seed(cfg) {
    const url = `${connectUrl(cfg)}/connectors/${s3SinkConnector}`;
    const desired = s3SinkConfig(cfg);
    const live = await connectFetch(`${url}/config`).then((r) =>
      r.ok ? (r.json() as Promise<Record<string, string>>) : undefined,
    );
    const differs = !live || Object.keys(desired).some((k) => live[k] !== desired[k]);
    if (differs) {
      const put = await connectFetch(`${url}/config`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(desired),
      });
      if (!put.ok)
        throw new Error(
          `${live ? 'updating' : 'creating'} connector ${s3SinkConnector} failed: HTTP ${put.status} ${await put.text()}`,
        );
    }
    await restartIfKeyChanged(cfg, url, differs);
    await waitFor('s3-sink', () => sinkRunning(cfg), {
      timeoutMs: 90_000,
      logPath: logPath(cfg, 'kafka-connect'),
      what: `running connector ${s3SinkConnector}`,
    });
  },
  async stop() {},
};

/**
 * The sink's tasks resolve the key when they start. Connect starts before the AWS emulator,
 * whose seed issues a new key after a restart (its state is in memory): a task still holding
 * the previous key would fail its first write with InvalidAccessKeyId. So the tasks restart
 * whenever the key in the store is not the one they were last started with.
 */
async function restartIfKeyChanged(cfg: StackConfig, url: string, justConfigured: boolean): Promise<void> {
  const marker = path.join(cfg.runDir, 's3-sink.key-id');
  const keyId = (await new FileSecretStore(cfg.secretsDir).read(pipeline.awsSecret))?.data['access-key-id'] ?? '';
  const startedWith = fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8') : '';
  if (!justConfigured && startedWith !== keyId) {
    const res = await connectFetch(`${url}/restart?includeTasks=true`, { method: 'POST' });
    if (!res.ok)
      throw new Error(
        `restarting ${s3SinkConnector} with the current key failed: HTTP ${res.status} ${await res.text()}`,
      );
  }
  fs.writeFileSync(marker, keyId);
}
