import type pg from 'pg';
import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import {
  assertIdentifier,
  boundedTimeout,
  connectableDatabases,
  inTransaction,
  pgCode,
  type Connections,
} from './connection.js';
import {
  assertParentExists,
  assertRetirable,
  assertRotationId,
  lookupRole,
  parseRotationTag,
  priorHeartbeat,
  roleExists,
  slotStreamer,
  walsendersOf,
} from './roleInfo.js';

/** Lock wait for the compensation, which has no caller-given bound. */
const COMPENSATION_LOCK_TIMEOUT_MS = 10_000;

/** Ends every session of `role` (waiting up to 5 s for each to exit); returns how many were signalled. */
async function terminateSessions(c: pg.Client, role: string): Promise<number> {
  const { rows } = await c.query<{ n: number }>(
    `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000))::int AS n
       FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()`,
    [role],
  );
  return rows[0]?.n ?? 0;
}

/** Who still holds a session of `role` (never a query's text): what the refusal names so an operator can find the client. */
async function sessionsOf(c: pg.Client, role: string): Promise<string[]> {
  const { rows } = await c.query<{ pid: number; app: string; addr: string | null; kind: string }>(
    `SELECT pid, application_name AS app, client_addr::text AS addr, backend_type AS kind
       FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid() ORDER BY pid`,
    [role],
  );
  return rows.map(
    (r) => `pid ${r.pid} (${r.kind}${r.app ? `, application ${r.app}` : ''}${r.addr ? `, from ${r.addr}` : ''})`,
  );
}

export function createRetireActivities(conns: Connections) {
  /**
   * Removes a role whose sessions are already ended: in every connectable database
   * REASSIGN OWNED to the parent and DROP OWNED (its grants), then DROP ROLE; each step
   * in a transaction bounded by lock_timeout. Heartbeats per database.
   */
  async function dropEverywhere(
    role: string,
    parentRole: string,
    lockTimeoutMs: number,
    progress: Record<string, unknown>,
  ): Promise<void> {
    const dbs = await conns.withAdmin((c) => connectableDatabases(c));
    for (const db of dbs) {
      await conns.withAdmin(async (c) => {
        // the role may be gone already (a retry after the DROP ROLE below committed)
        if (!(await roleExists(c, role))) return;
        await inTransaction(c, lockTimeoutMs, `REASSIGN/DROP OWNED BY ${role} in database ${db}`, async () => {
          await c.query(`REASSIGN OWNED BY ${c.escapeIdentifier(role)} TO ${c.escapeIdentifier(parentRole)}`);
          await c.query(`DROP OWNED BY ${c.escapeIdentifier(role)}`);
        });
      }, db);
      heartbeat({ ...progress, database: db });
    }
    await conns.withAdmin(async (c) => {
      try {
        await inTransaction(c, lockTimeoutMs, `DROP ROLE ${role}`, () =>
          c.query(`DROP ROLE IF EXISTS ${c.escapeIdentifier(role)}`),
        );
      } catch (err) {
        if (pgCode(err) !== '2BP01') throw err;
        // objects in a database we cannot connect to, or created meanwhile
        throw ApplicationFailure.retryable(
          `role ${role} still has dependent objects: ${(err as { detail?: string }).detail ?? (err as Error).message}`,
          'RoleHasDependents',
        );
      }
    });
  }

  /**
   * Compensation of createRoleFromSecret: drops `role` only if its comment says rotation
   * `rotationId` created it. Its sessions are ended first (nobody but this rotation's
   * checks should hold one); a role that streams a replication slot is refused
   * (retryable `RoleStillStreaming`): the connector must be switched back first.
   */
  async function dropRoleCreatedBy(input: {
    role: string;
    rotationId: string;
    parentRole: string;
  }): Promise<{ dropped: boolean; reason?: string }> {
    assertIdentifier('role', input.role);
    assertIdentifier('parentRole', input.parentRole);
    assertRotationId(input.rotationId);
    const verdict = await conns.withAdmin(async (c) => {
      const row = await lookupRole(c, input.role);
      if (!row) return 'absent';
      if (parseRotationTag(row.comment) !== input.rotationId) return 'not created by this rotation';
      assertRetirable(input.role, input.parentRole, row);
      await assertParentExists(c, input.parentRole);
      if ((await walsendersOf(c, input.role)) > 0) {
        throw ApplicationFailure.retryable(
          `role ${input.role} streams a replication slot; switch the connector back before dropping it`,
          'RoleStillStreaming',
        );
      }
      await c.query(`ALTER ROLE ${c.escapeIdentifier(input.role)} NOLOGIN`);
      await terminateSessions(c, input.role);
      return 'ours';
    });
    if (verdict !== 'ours') return { dropped: false, reason: verdict };
    await dropEverywhere(input.role, input.parentRole, COMPENSATION_LOCK_TIMEOUT_MS, { role: input.role });
    return { dropped: true };
  }

  /**
   * Refuses while the walsender of `slot` runs as `role`, and with `sessions: 'refuse'` while any
   * session of the role is open; then NOLOGIN (re-checked: something may have connected in
   * between) and terminates its sessions (none are left unless `terminate`).
   */
  async function lockOut(
    c: pg.Client,
    input: { role: string; slot?: string; lockTimeoutMs: number; sessions: 'refuse' | 'terminate' },
    canLogin: boolean,
  ): Promise<number> {
    const streaming = () =>
      ApplicationFailure.retryable(
        `role ${input.role} still streams slot ${input.slot}; retire it only after the connector switched to its successor`,
        'RoleStillStreaming',
      );
    const inUse = (who: string[]) =>
      ApplicationFailure.retryable(
        `role ${input.role} still has ${who.length} session(s): ${who.join('; ')}. Another client (a second connector, a job) still uses the old credential: move it to the new one, then retry; nothing was changed`,
        'RoleInUse',
      );
    const check = async () => {
      // an application's login role streams no slot: nothing to check for it
      if (input.slot && (await slotStreamer(c, input.slot)) === input.role) return streaming();
      const who = input.sessions === 'refuse' ? await sessionsOf(c, input.role) : [];
      return who.length > 0 ? inUse(who) : null;
    };
    const before = await check();
    if (before) throw before;
    const ident = c.escapeIdentifier(input.role);
    await inTransaction(c, input.lockTimeoutMs, `ALTER ROLE ${input.role} NOLOGIN`, () =>
      c.query(`ALTER ROLE ${ident} NOLOGIN`),
    );
    const after = await check();
    if (after) {
      if (canLogin) await c.query(`ALTER ROLE ${ident} LOGIN`);
      throw after;
    }
    return terminateSessions(c, input.role);
  }

  /**
   * Cleanup of an old CDC user (and what compromise mode runs right after the switch):
   * refuses (retryable `RoleStillStreaming`) while the walsender of `slot` runs as `role`, and
   * (retryable `RoleInUse`, naming each session) while any session of the role is open, unless
   * `sessions: 'terminate'` (compromise mode: the sessions may be an attacker's). Otherwise
   * NOLOGIN first so nothing reconnects, terminates every session of the role,
   * reassigns/drops what it owns in every connectable database and drops it. Each step
   * waits at most `lockTimeoutMs` for a lock (then retryable `LockTimeout`).
   */
  async function retireRole(input: {
    role: string;
    parentRole: string;
    /** The CDC slot the role may stream (refused while it does); absent for an application's role. */
    slot?: string;
    lockTimeoutMs: number;
    sessions?: 'refuse' | 'terminate';
  }): Promise<{ dropped: boolean; terminated: number }> {
    assertIdentifier('role', input.role);
    assertIdentifier('parentRole', input.parentRole);
    const lockTimeoutMs = boundedTimeout('lockTimeoutMs', input.lockTimeoutMs);
    const earlier = priorHeartbeat<{ terminated: number }>()?.terminated;
    const carried = typeof earlier === 'number' ? earlier : 0;
    const terminated = await conns.withAdmin(async (c) => {
      const row = await lookupRole(c, input.role);
      if (!row) return null;
      assertRetirable(input.role, input.parentRole, row);
      await assertParentExists(c, input.parentRole);
      return (
        carried + (await lockOut(c, { ...input, lockTimeoutMs, sessions: input.sessions ?? 'refuse' }, row.canLogin))
      );
    });
    if (terminated === null) return { dropped: false, terminated: 0 };
    heartbeat({ terminated });
    await dropEverywhere(input.role, input.parentRole, lockTimeoutMs, { terminated });
    return { dropped: true, terminated };
  }

  /**
   * Removes a CDC role. Refuses while it streams or holds sessions unless `terminate`
   * (only for a role this rotation created and nobody else uses yet).
   * @deprecated kept for rotations started before the rotation kit (use retireRole or dropRoleCreatedBy)
   */
  async function dropRole(input: {
    role: string;
    parentRole: string;
    terminate?: boolean;
  }): Promise<{ dropped: boolean }> {
    assertIdentifier('role', input.role);
    assertIdentifier('parentRole', input.parentRole);
    const exists = await conns.withAdmin(async (c) => {
      if (!(await roleExists(c, input.role))) return false;
      if (input.terminate) await terminateSessions(c, input.role);
      else {
        const { rows } = await c.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1',
          [input.role],
        );
        const n = rows[0]?.n ?? 0;
        if (n > 0)
          throw ApplicationFailure.retryable(
            `role ${input.role} still holds ${n} session(s); not dropping it while it is in use`,
            'RoleInUse',
          );
      }
      return true;
    });
    if (!exists) return { dropped: false };
    await dropEverywhere(input.role, input.parentRole, COMPENSATION_LOCK_TIMEOUT_MS, { role: input.role });
    return { dropped: true };
  }

  return { dropRoleCreatedBy, retireRole, dropRole };
}
