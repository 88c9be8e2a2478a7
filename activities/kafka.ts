import { ApplicationFailure, heartbeat, sleep } from '@temporalio/activity';
import {
  Kafka,
  type Admin,
  type ConfigResourceTypes,
  type ConfigSource,
  type KafkaConfig,
  type KafkaMessage,
} from 'kafkajs';

/** How to open a connection: kafkaClientConfig() (TLS and SASL from the configuration), or plain brokers. */
export type KafkaConnection = () => Promise<KafkaConfig>;

/** Waits end by themselves within 10 minutes; callers give ≤ 600 s and a startToCloseTimeout above it. */
export const MAX_KAFKA_WAIT_MS = 600_000;
const HEARTBEAT_MS = 2000;
const CANARY_MARKER = /^[a-z0-9-]{1,120}$/;
/** Bytes one canary scan fetches per request (kafkajs defaults: 10 MiB, 1 MiB per partition). */
const SCAN_FETCH_BYTES = 256 * 1024;

function boundedTimeout(ms: number): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0)
    throw ApplicationFailure.nonRetryable('timeoutMs must be a positive number of milliseconds', 'InvalidInput');
  return Math.min(ms, MAX_KAFKA_WAIT_MS);
}

interface Found {
  partition: number;
  offset: string;
}

/** Reads change events back from the pipeline's topics (the canary check of a rotation). */
export function createKafkaActivities(connection: KafkaConnection) {
  const kafka = async () => new Kafka(await connection());
  // One admin client for the scans that run at the same time (offset lookups, group cleanup):
  // a fleet of rotations waiting at once would otherwise hold one broker connection set each.
  // It is closed when the last scan ends, so an idle worker (or a script) holds no connection.
  let sharedAdmin: Promise<Admin> | undefined;
  let scans = 0;
  function admin(): Promise<Admin> {
    if (!sharedAdmin) {
      const made: Promise<Admin> = kafka()
        .then(async (k) => {
          const client = k.admin();
          await client.connect();
          return client;
        })
        .catch((err: unknown) => {
          if (sharedAdmin === made) sharedAdmin = undefined;
          throw err;
        });
      sharedAdmin = made;
    }
    return sharedAdmin;
  }
  function scanEnded(): void {
    if (--scans > 0) return;
    const last = sharedAdmin;
    sharedAdmin = undefined;
    void last?.then((a) => a.disconnect()).catch(() => undefined);
  }

  /**
   * Per partition, the first offset at or after `sinceMs`. A topic that does not exist yet
   * (the first event on it creates it) is waited for until `deadline`, heartbeating.
   */
  async function startOffsets(admin: Admin, topic: string, sinceMs: number, deadline: number): Promise<Found[]> {
    for (;;) {
      const topics = await admin.listTopics();
      if (topics.includes(topic)) return admin.fetchTopicOffsetsByTimestamp(topic, sinceMs);
      if (Date.now() > deadline) return [];
      heartbeat(`waiting for topic ${topic} to exist`);
      await sleep(500);
    }
  }

  /**
   * Consumes `topic` from the offsets at `sinceMs` until `match` accepts a record, heartbeating
   * every 2 s; a retryable `type` failure after `timeoutMs`. Records before the start offsets
   * are ignored even if the consumer delivers them before its seek takes effect.
   */
  async function scanTopic(
    topic: string,
    sinceMs: number,
    timeoutMs: number,
    type: string,
    what: string,
    match: (m: KafkaMessage) => boolean,
  ): Promise<Found> {
    const deadline = Date.now() + timeoutMs;
    const notSeen = () =>
      ApplicationFailure.retryable(`no ${what} on ${topic} within ${Math.round(timeoutMs / 1000)} s`, type);
    scans++;
    const groupId = `rekey-canary-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    try {
      const starts = await startOffsets(await admin(), topic, sinceMs, deadline);
      if (starts.length === 0) throw notSeen();
      const from = new Map(starts.map((s) => [s.partition, BigInt(s.offset)]));
      // small fetches: fifty scans at once must not each buffer a megabyte of records they skip
      const consumer = (await kafka()).consumer({
        groupId,
        allowAutoTopicCreation: false,
        maxBytes: SCAN_FETCH_BYTES,
        maxBytesPerPartition: SCAN_FETCH_BYTES,
        maxWaitTimeInMs: 500,
      });
      await consumer.connect();
      try {
        return await new Promise<Found>((resolve, reject) => {
          const timer = setTimeout(() => finish(() => reject(notSeen())), Math.max(0, deadline - Date.now()));
          const beat = setInterval(() => heartbeat(`waiting for ${what}`), HEARTBEAT_MS);
          let settled = false;
          function finish(fn: () => void) {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            clearInterval(beat);
            fn();
          }
          void consumer
            // from the end until the seek below takes effect: nothing before it is fetched for nothing
            .subscribe({ topic, fromBeginning: false })
            .then(() =>
              consumer.run({
                autoCommit: false,
                eachMessage: async ({ partition, message }) => {
                  if (BigInt(message.offset) < (from.get(partition) ?? 0n)) return;
                  if (match(message)) finish(() => resolve({ partition, offset: message.offset }));
                },
              }),
            )
            .then(() => {
              for (const s of starts) consumer.seek({ topic, partition: s.partition, offset: s.offset });
            })
            .catch((err: Error) =>
              finish(() =>
                reject(ApplicationFailure.retryable(`reading ${topic} failed: ${err.message}`, 'KafkaUnavailable')),
              ),
            );
        });
      } finally {
        await consumer.disconnect().catch(() => undefined);
      }
    } finally {
      await admin()
        .then((a) => a.deleteGroups([groupId]))
        .catch(() => undefined);
      scanEnded();
    }
  }

  /**
   * Waits until a record whose value or key contains the marker's UTF-8 bytes appears on
   * `topic`, reading from the offsets at `sinceMs`. Byte matching works for any converter
   * (JSON and Avro both carry strings verbatim); choose markers that are not substrings of
   * one another (e.g. include the rotation id). Heartbeats every 2 s; gives up after
   * min(timeoutMs, 600 s) with a retryable `CanaryEventNotSeen`. Callers pass ≤ 600 s and a
   * startToCloseTimeout above it.
   */
  async function awaitCanaryEvent(input: {
    topic: string;
    marker: string;
    sinceMs: number;
    timeoutMs: number;
  }): Promise<Found> {
    if (typeof input.marker !== 'string' || !CANARY_MARKER.test(input.marker)) {
      throw ApplicationFailure.nonRetryable('canary marker must be 1–120 characters of [a-z0-9-]', 'InvalidMarker');
    }
    if (typeof input.sinceMs !== 'number' || !Number.isFinite(input.sinceMs))
      throw ApplicationFailure.nonRetryable('sinceMs must be a timestamp in milliseconds', 'InvalidInput');
    const needle = Buffer.from(input.marker, 'utf8');
    return scanTopic(
      input.topic,
      input.sinceMs,
      boundedTimeout(input.timeoutMs),
      'CanaryEventNotSeen',
      `record carrying canary ${input.marker}`,
      (m) => Boolean(m.value?.includes(needle) || m.key?.includes(needle)),
    );
  }

  /**
   * Waits until a change event whose `after.<field>` equals `value` appears on `topic`,
   * reading from the offsets at `sinceMs` (not the whole topic). JSON converter only.
   * @deprecated kept for rotations started before the rotation kit (use awaitCanaryEvent)
   */
  async function awaitChangeEvent(input: {
    topic: string;
    field: string;
    value: string;
    sinceMs: number;
    timeoutMs: number;
  }): Promise<Found> {
    return scanTopic(
      input.topic,
      input.sinceMs,
      boundedTimeout(input.timeoutMs),
      'ChangeEventNotSeen',
      `change event with ${input.field}=${input.value}`,
      (m) => {
        if (!m.value) return false;
        try {
          const event = JSON.parse(m.value.toString()) as {
            after?: Record<string, unknown>;
            payload?: { after?: Record<string, unknown> };
          };
          const after = event.after ?? event.payload?.after;
          return Boolean(after && String(after[input.field]) === input.value);
        } catch {
          return false;
        }
      },
    );
  }

  return { awaitCanaryEvent, awaitChangeEvent };
}

/** Kafka protocol values (kafkajs's enums are not ESM exports): resource type BROKER, config source DYNAMIC_BROKER_CONFIG. */
const BROKER_RESOURCE = 4 as ConfigResourceTypes;
const DYNAMIC_BROKER_CONFIG = 2 as ConfigSource;

/**
 * Makes every broker re-read its TLS listener's keystore file, without a restart: the
 * per-broker dynamic config `listener.name.<listener>.ssl.keystore.location` (KIP-226) is set
 * again to the path the broker already uses; a broker reloads the file when it changed since
 * it was read, and keeps its current certificate when the new one does not load (so callers
 * prove the result by handshake). Open connections keep their TLS session.
 *
 * kafkajs has only the non-incremental AlterConfigs, which replaces a broker's whole set of
 * dynamic configs: the current dynamic ones are read and sent back with the change. A
 * sensitive dynamic config cannot be read back (the broker hides its value), so it would be
 * erased: then nothing is changed and the reload is refused with the config's name.
 */
export async function reloadListenerKeystore(
  connection: KafkaConnection,
  listener: string,
): Promise<{ brokers: number[]; location: string }> {
  const name = `listener.name.${listener.toLowerCase()}.ssl.keystore.location`;
  const admin = new Kafka(await connection()).admin();
  await admin.connect();
  try {
    const { brokers } = await admin.describeCluster();
    const locations = new Set<string>();
    for (const { nodeId } of brokers) {
      const { resources } = await admin.describeConfigs({
        resources: [{ type: BROKER_RESOURCE, name: String(nodeId) }],
        includeSynonyms: false,
      });
      const entries = resources[0]?.configEntries ?? [];
      const location = entries.find((e) => e.configName === name)?.configValue;
      if (!location)
        throw ApplicationFailure.nonRetryable(
          `broker ${nodeId} has no ${name}: its ${listener} listener does not read a keystore file rekey can reload`,
          'NoListenerKeystore',
        );
      const dynamic = entries.filter((e) => e.configSource === DYNAMIC_BROKER_CONFIG && e.configName !== name);
      const hidden = dynamic.filter((e) => e.isSensitive || e.configValue === null).map((e) => e.configName);
      if (hidden.length > 0) {
        throw ApplicationFailure.nonRetryable(
          `broker ${nodeId} has sensitive dynamic configs (${hidden.join(', ')}) that a non-incremental AlterConfigs would erase: reload its keystore with kafka-configs --alter --add-config ${name}=${location}`,
          'DynamicConfigsWouldBeLost',
        );
      }
      const configEntries = [
        ...dynamic.map((e) => ({ name: e.configName, value: e.configValue })),
        { name, value: location },
      ];
      await admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: BROKER_RESOURCE, name: String(nodeId), configEntries }],
      });
      locations.add(location);
    }
    return { brokers: brokers.map((b) => b.nodeId), location: [...locations].join(', ') };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
