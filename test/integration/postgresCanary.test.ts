import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pipeline } from '../../scripts/stack/config.js';
import { connectUrl } from '../../scripts/stack/connect.js';
import { createKafkaActivities } from '../../activities/kafka.js';
import { kafkaClientConfig } from '../../activities/kafkaClient.js';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { kafkaClientDeps } from '../../workers/kafkaDeps.js';
import { embeddedWorkerConfig } from '../../scripts/lib/session.js';
import { cfg, failure, pgActs, run, withDb } from './pgActivities.js';
import { connectFetch } from '../../scripts/stack/connectRest.js';

const canaryTopic = `${pipeline.topicPrefix}.public.rekey_canary`;
// as the worker on the stack reads them: SCRAM over TLS as rekey's principal, with only its ACLs
const kafkaActs = createKafkaActivities(
  kafkaClientConfig(kafkaClientDeps(embeddedWorkerConfig().config.kafka), new FileSecretStore(cfg.secretsDir)),
);
const marker = () => `rekey-it-${randomBytes(6).toString('hex')}`;

const rows = (m: string) =>
  withDb((c) =>
    c.query<{ marker: string; written_at: Date }>(
      'SELECT marker, written_at FROM public.rekey_canary WHERE marker = $1',
      [m],
    ),
  ).then((r) => r.rows);

/** Why the Kafka half cannot run here, or null when Connect streams the canary table. */
async function connectorMissing(): Promise<string | null> {
  const base = `${connectUrl(cfg)}/connectors/${pipeline.connector}`;
  try {
    const status = (await (await connectFetch(`${base}/status`, { signal: AbortSignal.timeout(3000) })).json()) as {
      connector?: { state: string };
    };
    if (status.connector?.state !== 'RUNNING') return `connector ${pipeline.connector} is not RUNNING`;
    const config = (await (await connectFetch(`${base}/config`)).json()) as Record<string, string>;
    if (!config['table.include.list']?.split(',').includes('public.rekey_canary'))
      return 'the connector does not capture public.rekey_canary (run npm run stack:up to update it)';
    return null;
  } catch {
    return `Kafka Connect is not running on ${connectUrl(cfg)}`;
  }
}

describe('canary on public.rekey_canary', () => {
  it('writeCanary upserts one row and returns the WAL position after it; removeCanary deletes it, twice', async () => {
    const m = marker();
    const before = await withDb((c) => c.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).then(
      (r) => r.rows[0]!.lsn,
    );
    const first = await run(pgActs.writeCanary, { marker: m });
    expect(first.marker).toBe(m);
    expect(first.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    const after = await withDb((c) =>
      c.query<{ ahead: boolean }>('SELECT $1::pg_lsn > $2::pg_lsn AS ahead', [first.lsn, before]),
    );
    expect(after.rows[0]?.ahead).toBe(true);
    const [row1] = await rows(m);
    const second = await run(pgActs.writeCanary, { marker: m });
    const again = await rows(m);
    expect(again).toHaveLength(1);
    expect(again[0]!.written_at.getTime()).toBeGreaterThanOrEqual(row1!.written_at.getTime());
    expect(second.lsn).not.toBe(first.lsn);
    await run(pgActs.removeCanary, { marker: m });
    expect(await rows(m)).toEqual([]);
    await run(pgActs.removeCanary, { marker: m });
  });

  it('refuses markers outside [a-z0-9-]{1,120}', async () => {
    for (const bad of ['Rekey-1', "x'; DROP TABLE public.users; --", '', 'a'.repeat(121)]) {
      expect(await failure(run(pgActs.writeCanary, { marker: bad }))).toMatchObject({
        type: 'InvalidMarker',
        nonRetryable: true,
      });
    }
    expect(
      await failure(
        run(kafkaActs.awaitCanaryEvent, { topic: canaryTopic, marker: 'Bad', sinceMs: Date.now(), timeoutMs: 1000 }),
      ),
    ).toMatchObject({ type: 'InvalidMarker' });
  });

  it('awaitCanaryEvent sees the marker Debezium carried to the topic', async (ctx) => {
    const missing = await connectorMissing();
    if (missing) ctx.skip(missing);
    const m = marker();
    const since = Date.now() - 1000;
    await run(pgActs.writeCanary, { marker: m });
    try {
      const heartbeats: unknown[] = [];
      const seen = await run(
        kafkaActs.awaitCanaryEvent,
        { topic: canaryTopic, marker: m, sinceMs: since, timeoutMs: 90_000 },
        { heartbeats },
      );
      expect(seen.partition).toBeGreaterThanOrEqual(0);
      expect(Number(seen.offset)).toBeGreaterThanOrEqual(0);
      // a marker nobody wrote: a retryable timeout, heartbeating while it waits
      const absent = await failure(
        run(
          kafkaActs.awaitCanaryEvent,
          { topic: canaryTopic, marker: marker(), sinceMs: since, timeoutMs: 5000 },
          { heartbeats },
        ),
      );
      expect(absent).toMatchObject({ type: 'CanaryEventNotSeen', nonRetryable: false });
      expect(heartbeats.length).toBeGreaterThanOrEqual(2);
    } finally {
      await run(pgActs.removeCanary, { marker: m });
    }
  });
});
