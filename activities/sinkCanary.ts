import { ApplicationFailure } from '@temporalio/activity';
import { until } from './awsCalls.js';

/** How often the canary row is written again while the archive is searched (each write is a new change event). */
const REWRITE_EVERY_MS = 5_000;

interface SinkCanaryDeps {
  /** Upserts the marker's row in public.rekey_canary (the PostgreSQL activity of the same name). */
  writeCanary: (input: { marker: string }) => Promise<{ lsn: string }>;
  /** The newest archived object after `since` holding the marker, or null. */
  archivedMarker: (input: {
    bucket: string;
    prefix: string;
    marker: string;
    since: string;
  }) => Promise<{ key: string; lastModified: string } | null>;
}

/**
 * The S3 sink proven end to end, whatever the traffic: a canary row rekey writes travels
 * PostgreSQL → Debezium → Kafka → the sink → S3 and is found in the archive. The sink writes
 * only when records arrive: with a size- or record-time-based flush (Confluent's
 * `rotate.interval.ms` closes a file only when a later record comes), one record can sit in
 * the sink's buffer until the next, so the row is written again every few seconds while the
 * archive is searched; an idempotent upsert of one row, removed at cleanup.
 */
export function createSinkCanaryActivities(deps: SinkCanaryDeps) {
  async function waitCanaryArchived(input: {
    bucket: string;
    prefix: string;
    marker: string;
    since: string;
    timeoutMs: number;
  }): Promise<{ key: string; lastModified: string; waitedMs: number; writes: number }> {
    const where = `s3://${input.bucket}/${input.prefix}`;
    let writes = 0;
    let wroteAt = 0;
    return until(
      input.timeoutMs,
      2000,
      async () => {
        if (Date.now() - wroteAt >= REWRITE_EVERY_MS) {
          await deps.writeCanary({ marker: input.marker });
          wroteAt = Date.now();
          writes++;
        }
        const found = await deps.archivedMarker(input);
        return found
          ? { done: { ...found, writes } }
          : { seen: `canary ${input.marker} written ${writes} time(s), not yet under ${where}` };
      },
      (seen) =>
        ApplicationFailure.nonRetryable(
          `${seen} within ${input.timeoutMs / 1000} s: does the sink archive the canary topic (its topics), and under this prefix (topics.dir)?`,
          'CanaryNotArchived',
        ),
    );
  }

  return { waitCanaryArchived };
}
