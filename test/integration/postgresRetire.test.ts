import { afterEach, describe, expect, it } from 'vitest';
import { pipeline } from '../../scripts/stack/config.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { canLogin, cfg, cleanup, failure, loginAs, pgActs, run, suffix, throwaway, withDb } from './pgActivities.js';

// retireRole as a DBA would check it: who may log in, who is connected, what is owned, what is left.
afterEach(cleanup);

const retire = (role: string, lockTimeoutMs = 2000) => ({
  role,
  parentRole: pipeline.parentRole,
  slot: pipeline.slot,
  lockTimeoutMs,
});

async function ownerOf(table: string): Promise<string | undefined> {
  const { rows } = await withDb((c) =>
    c.query<{ owner: string }>('SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relname = $1', [table]),
  );
  return rows[0]?.owner;
}

describe('retireRole', () => {
  it('refuses (retryable) to retire the user that streams the slot, and changes nothing', async (ctx) => {
    const state = await run(pgActs.inspectReplication, { slot: pipeline.slot });
    if (!state.slot.active || !state.streamingUser) {
      ctx.skip(
        `slot ${pipeline.slot} is not being streamed (Kafka Connect with connector ${pipeline.connector} is not running on port ${cfg.ports.connect}): nothing to refuse`,
      );
    }
    const streamer = state.streamingUser!;
    const refused = await failure(run(pgActs.retireRole, retire(streamer)));
    expect(refused).toMatchObject({ type: 'RoleStillStreaming', nonRetryable: false });
    expect(await run(pgActs.describeRole, { role: streamer })).toMatchObject({ exists: true, canLogin: true });
    expect((await run(pgActs.inspectReplication, { slot: pipeline.slot })).streamingUser).toBe(streamer);
  });

  it('refuses (retryable RoleInUse, naming the session) while another client still uses the role, changing nothing', async () => {
    const t = await throwaway();
    await run(pgActs.createRoleFromSecret, {
      secret: t.secret,
      parentRole: pipeline.parentRole,
      rotationId: `it-${suffix()}`,
    });
    const session = await loginAs(t.role, t.password, 'second-connector');
    const refused = await failure(run(pgActs.retireRole, retire(t.role)));
    expect(refused).toMatchObject({
      type: 'RoleInUse',
      nonRetryable: false,
      message: expect.stringMatching(
        /still has 1 session\(s\): pid \d+ \(client backend, application second-connector, from 127\.0\.0\.1.*nothing was changed/,
      ),
    });
    expect(await session.query('SELECT 1')).toBeTruthy();
    expect(await canLogin(t.role, t.password)).toBe(true);
    await session.end();
    expect(await run(pgActs.retireRole, retire(t.role))).toEqual({ dropped: true, terminated: 0 });
  });

  it("with sessions: 'terminate' (compromise) locks out, disconnects and drops a role with an open session; heartbeats per database", async () => {
    const t = await throwaway();
    await run(pgActs.createRoleFromSecret, {
      secret: t.secret,
      parentRole: pipeline.parentRole,
      rotationId: `it-${suffix()}`,
    });
    const session = await loginAs(t.role, t.password);
    expect(await run(pgActs.roleSessions, { role: t.role })).toEqual({ sessions: 1, streaming: false });
    const heartbeats: unknown[] = [];
    expect(await run(pgActs.retireRole, { ...retire(t.role), sessions: 'terminate' as const }, { heartbeats })).toEqual(
      { dropped: true, terminated: 1 },
    );
    await expect(session.query('SELECT 1')).rejects.toThrow();
    await session.end().catch(() => undefined);
    expect((await run(pgActs.describeRole, { role: t.role })).exists).toBe(false);
    expect(await canLogin(t.role, t.password)).toBe(false);
    const dbs = await withDb((c) =>
      c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1'),
    );
    expect(
      heartbeats.filter((h) => (h as { database?: string }).database).map((h) => (h as { database: string }).database),
    ).toEqual(dbs.rows.map((r) => r.datname));
    expect(await run(pgActs.retireRole, retire(t.role))).toEqual({ dropped: false, terminated: 0 });
  });

  it('gives up on a held lock with a retryable LockTimeout after NOLOGIN, and the retry converges', async () => {
    const t = await throwaway();
    await run(pgActs.createRoleFromSecret, {
      secret: t.secret,
      parentRole: pipeline.parentRole,
      rotationId: `it-${suffix()}`,
    });
    const table = `rekey_it_owned_${suffix()}`;
    await withDb((c) =>
      c.query(
        `CREATE TABLE public.${table} (id int); ALTER TABLE public.${table} OWNER TO ${c.escapeIdentifier(t.role)}`,
      ),
    );
    const session = await loginAs(t.role, t.password);
    const locker = await adminClient(cfg, pipeline.database);
    try {
      await locker.query(`BEGIN; LOCK TABLE public.${table} IN ACCESS SHARE MODE`);
      const heartbeats: unknown[] = [];
      const started = Date.now();
      const timedOut = await failure(
        run(pgActs.retireRole, { ...retire(t.role, 300), sessions: 'terminate' as const }, { heartbeats }),
      );
      expect(timedOut).toMatchObject({ type: 'LockTimeout', nonRetryable: false });
      expect(timedOut.message).toContain(`database ${pipeline.database}`);
      expect(Date.now() - started).toBeLessThan(10_000);
      // NOLOGIN came first and the session is gone: nothing can use the role while the lock is held
      expect(await run(pgActs.describeRole, { role: t.role })).toMatchObject({ exists: true, canLogin: false });
      expect(await canLogin(t.role, t.password)).toBe(false);
      expect((await run(pgActs.roleSessions, { role: t.role })).sessions).toBe(0);
      await locker.query('ROLLBACK');
      // the retry gets the first attempt's heartbeat details, as Temporal hands them over
      const retried = await run(
        pgActs.retireRole,
        { ...retire(t.role, 300), sessions: 'terminate' as const },
        { heartbeatDetails: heartbeats.at(-1) },
      );
      expect(retried).toEqual({ dropped: true, terminated: 1 });
      expect((await run(pgActs.describeRole, { role: t.role })).exists).toBe(false);
      expect(await ownerOf(table)).toBe(pipeline.parentRole);
    } finally {
      await session.end().catch(() => undefined);
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end().catch(() => undefined);
      await withDb((c) => c.query(`DROP TABLE IF EXISTS public.${table}`));
    }
  });

  it('refuses a superuser and the parent role, and unsafe identifiers, without changing anything', async () => {
    expect(await failure(run(pgActs.retireRole, retire('postgres')))).toMatchObject({
      type: 'RefusedSuperuser',
      nonRetryable: true,
    });
    expect(await run(pgActs.describeRole, { role: 'postgres' })).toMatchObject({ exists: true, canLogin: true });
    expect(await failure(run(pgActs.retireRole, retire(pipeline.parentRole)))).toMatchObject({
      type: 'InvalidInput',
      nonRetryable: true,
    });
    expect(await failure(run(pgActs.retireRole, retire('x"; DROP ROLE postgres; --')))).toMatchObject({
      type: 'InvalidIdentifier',
      nonRetryable: true,
    });
    expect(await failure(run(pgActs.retireRole, { ...retire('rekey_it_x'), parentRole: 'Bad Parent' }))).toMatchObject({
      type: 'InvalidIdentifier',
    });
  });
});
