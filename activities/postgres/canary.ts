import { ApplicationFailure } from '@temporalio/activity';
import { pgCode, type Connections } from './connection.js';

/** Markers are chosen by the workflow and are not secret: lowercase letters, digits and '-'. */
export const CANARY_MARKER = /^[a-z0-9-]{1,120}$/;

/** The heartbeat table the canary writes to; it is in the publication and the connector's include list. */
export const CANARY_TABLE = 'public.rekey_canary';

const CANARY_DDL =
  'CREATE TABLE public.rekey_canary (marker text PRIMARY KEY, written_at timestamptz NOT NULL), granted like the Debezium heartbeat table and added to the publication';

function assertMarker(marker: unknown): asserts marker is string {
  if (typeof marker !== 'string' || !CANARY_MARKER.test(marker)) {
    throw ApplicationFailure.nonRetryable('canary marker must be 1–120 characters of [a-z0-9-]', 'InvalidMarker');
  }
}

export function createCanaryActivities(conns: Connections) {
  /**
   * Upserts the marker's row in public.rekey_canary and returns the WAL position after the
   * commit; the change event then carries the marker (key and value) to the topic
   * `<prefix>.public.rekey_canary`. Writing the same marker again only moves written_at.
   */
  async function writeCanary(input: { marker: string }): Promise<{ marker: string; lsn: string }> {
    assertMarker(input.marker);
    return conns.withAdmin(async (c) => {
      try {
        await c.query(
          'INSERT INTO public.rekey_canary (marker, written_at) VALUES ($1, now()) ON CONFLICT (marker) DO UPDATE SET written_at = now()',
          [input.marker],
        );
      } catch (err) {
        if (pgCode(err) === '42P01')
          throw ApplicationFailure.nonRetryable(
            `${CANARY_TABLE} does not exist in this database: ${CANARY_DDL}`,
            'CanaryTableMissing',
          );
        throw err;
      }
      const { rows } = await c.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      return { marker: input.marker, lsn: rows[0]!.lsn };
    });
  }

  /** Deletes the marker's row; nothing to do when it (or the table) is already gone. */
  async function removeCanary(input: { marker: string }): Promise<void> {
    assertMarker(input.marker);
    await conns.withAdmin(async (c) => {
      try {
        await c.query('DELETE FROM public.rekey_canary WHERE marker = $1', [input.marker]);
      } catch (err) {
        if (pgCode(err) !== '42P01') throw err;
      }
    });
  }

  /**
   * Writes a marked row into the captured table and returns the WAL position after it.
   * @deprecated kept for rotations started before the rotation kit (use writeCanary)
   */
  async function insertCanary(input: {
    table: 'users';
    marker: string;
  }): Promise<{ id: string; email: string; lsn: string }> {
    return conns.withAdmin(async (c) => {
      const email = `${input.marker}@canary.rekey.invalid`;
      const existing = await c.query<{ id: string }>('SELECT id::text FROM public.users WHERE email = $1', [email]);
      const id =
        existing.rows[0]?.id ??
        (
          await c.query<{ id: string }>(
            `INSERT INTO public.users (email, name) VALUES ($1, 'rekey canary') RETURNING id::text`,
            [email],
          )
        ).rows[0]!.id;
      const { rows } = await c.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      return { id, email, lsn: rows[0]!.lsn };
    });
  }

  return { writeCanary, removeCanary, insertCanary };
}
