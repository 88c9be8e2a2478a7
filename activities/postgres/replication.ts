import { ApplicationFailure, heartbeat, sleep } from '@temporalio/activity';
import { boundedTimeout, isPostgresUnavailable, type Connections } from './connection.js';

/**
 * One poll of a wait: its value, or undefined when PostgreSQL is away for a moment (restarting)
 * and the wait's deadline has not passed — heartbeated, and polled again a second later. A
 * restart during a wait is "not yet", not a failed attempt (the fault matrix saw a 13 s restart
 * exhaust a wait's retries and roll a rotation back).
 */
async function whenAvailable<T>(poll: () => Promise<T>, deadline: number): Promise<T | undefined> {
  try {
    return await poll();
  } catch (err) {
    if (!isPostgresUnavailable(err) || Date.now() > deadline) throw err;
    heartbeat(`PostgreSQL unavailable (${(err as Error).message.slice(0, 80)}); polling on`);
    await sleep(1000);
    return undefined;
  }
}

export interface ReplicationState {
  walLevel: string;
  maxReplicationSlots: number;
  slot: {
    name: string;
    exists: boolean;
    active: boolean;
    activePid: number | null;
    confirmedFlushLsn: string | null;
    lagBytes: number | null;
  };
  /** Role of the walsender serving the slot (pg_stat_replication.usename for active_pid). */
  streamingUser: string | null;
  /** Walsender lag columns in seconds (null when idle or unknown). */
  lagSeconds: { write: number | null; flush: number | null; replay: number | null };
}

export function createReplicationActivities(conns: Connections) {
  async function inspectReplication(input: { slot: string }): Promise<ReplicationState> {
    return conns.withAdmin(async (c) => {
      const settings = await c.query<{ name: string; setting: string }>(
        `SELECT name, setting FROM pg_settings WHERE name IN ('wal_level', 'max_replication_slots')`,
      );
      const setting = (n: string) => settings.rows.find((r) => r.name === n)?.setting ?? '';
      const slot = await c.query<{
        active: boolean;
        active_pid: number | null;
        confirmed_flush_lsn: string | null;
        lag_bytes: string | null;
      }>(
        `SELECT active, active_pid, confirmed_flush_lsn::text,
                pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS lag_bytes
           FROM pg_replication_slots WHERE slot_name = $1`,
        [input.slot],
      );
      const s = slot.rows[0];
      let streamingUser: string | null = null;
      let lagSeconds: ReplicationState['lagSeconds'] = { write: null, flush: null, replay: null };
      if (s?.active_pid) {
        const rep = await c.query<{
          usename: string;
          write_s: number | null;
          flush_s: number | null;
          replay_s: number | null;
        }>(
          `SELECT usename,
                  EXTRACT(EPOCH FROM write_lag)::float8 AS write_s,
                  EXTRACT(EPOCH FROM flush_lag)::float8 AS flush_s,
                  EXTRACT(EPOCH FROM replay_lag)::float8 AS replay_s
             FROM pg_stat_replication WHERE pid = $1`,
          [s.active_pid],
        );
        const r = rep.rows[0];
        if (r) {
          streamingUser = r.usename;
          lagSeconds = { write: r.write_s, flush: r.flush_s, replay: r.replay_s };
        }
      }
      return {
        walLevel: setting('wal_level'),
        maxReplicationSlots: Number(setting('max_replication_slots')),
        slot: {
          name: input.slot,
          exists: Boolean(s),
          active: s?.active ?? false,
          activePid: s?.active_pid ?? null,
          confirmedFlushLsn: s?.confirmed_flush_lsn ?? null,
          lagBytes: s?.lag_bytes == null ? null : Number(s.lag_bytes),
        },
        streamingUser,
        lagSeconds,
      };
    });
  }

  /**
   * Waits until the slot's confirmed_flush_lsn reaches `lsn` (Debezium acknowledged past
   * the switch). Heartbeats every poll; gives up after min(timeoutMs, 600 s).
   */
  async function waitSlotPast(input: {
    slot: string;
    lsn: string;
    timeoutMs: number;
  }): Promise<{ confirmedFlushLsn: string }> {
    const timeoutMs = boundedTimeout('timeoutMs', input.timeoutMs);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const read = await whenAvailable(
        async () =>
          await conns.withAdmin(
            async (c) =>
              (
                await c.query<{ lsn: string; done: boolean }>(
                  `SELECT confirmed_flush_lsn::text AS lsn, confirmed_flush_lsn >= $2::pg_lsn AS done FROM pg_replication_slots WHERE slot_name = $1`,
                  [input.slot, input.lsn],
                )
              ).rows,
          ),
        deadline,
      );
      if (!read) continue;
      const row = read[0];
      if (row?.done) return { confirmedFlushLsn: row.lsn };
      if (Date.now() > deadline)
        throw ApplicationFailure.retryable(
          `slot ${input.slot} confirmed_flush_lsn ${row?.lsn ?? '(none)'} has not reached ${input.lsn}`,
          'SlotNotAdvancing',
        );
      heartbeat(row?.lsn);
      await sleep(1000);
    }
  }

  /**
   * Waits until the walsender serving `slot` runs as `user` (proves which credential
   * Debezium uses). Heartbeats every poll; gives up after min(timeoutMs, 600 s).
   */
  async function waitStreamingUser(input: {
    slot: string;
    user: string;
    timeoutMs: number;
  }): Promise<ReplicationState> {
    const timeoutMs = boundedTimeout('timeoutMs', input.timeoutMs);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = await whenAvailable(() => inspectReplication({ slot: input.slot }), deadline);
      if (!state) continue;
      if (state.slot.active && state.streamingUser === input.user) return state;
      if (Date.now() > deadline) {
        throw ApplicationFailure.retryable(
          `slot ${input.slot} is streamed by ${state.streamingUser ?? 'nobody'}, expected ${input.user}`,
          'UnexpectedStreamingUser',
        );
      }
      heartbeat(state.streamingUser);
      await sleep(250);
    }
  }

  return { inspectReplication, waitSlotPast, waitStreamingUser };
}
