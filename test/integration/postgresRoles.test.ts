import { afterEach, describe, expect, it } from 'vitest';
import { pipeline } from '../../scripts/stack/config.js';
import { parseScramVerifier, scramSha256Verifier } from '../../activities/postgres/scram.js';
import {
  alsoDropRole,
  canLogin,
  cleanup,
  loginAs,
  failure,
  logSince,
  logSize,
  pgActs,
  run,
  sleep,
  store,
  suffix,
  throwaway,
  withDb,
} from './pgActivities.js';

// What a DBA would check with psql after each activity, against the embedded PostgreSQL.
afterEach(cleanup);

async function waitLogStatement(value: string) {
  for (let i = 0; i < 50; i++) {
    if (
      (await withDb((c) => c.query<{ log_statement: string }>('SHOW log_statement'))).rows[0]?.log_statement === value
    )
      return;
    await sleep(100);
  }
  throw new Error(`log_statement did not become ${value}`);
}

describe('createRoleFromSecret', () => {
  it('sends only a SCRAM verifier: the statement log has the verifier, never the password, and the password logs in', async () => {
    const t = await throwaway();
    const from = logSize();
    await withDb(async (c) =>
      c.query(`ALTER SYSTEM SET log_statement = 'all'`).then(() => c.query('SELECT pg_reload_conf()')),
    );
    try {
      await waitLogStatement('all');
      const result = await run(pgActs.createRoleFromSecret, {
        secret: t.secret,
        parentRole: pipeline.parentRole,
        rotationId: `it-${suffix()}`,
      });
      expect(result).toEqual({ role: t.role, created: true });
      expect(JSON.stringify(result)).not.toContain(t.password);
      let log = '';
      for (let i = 0; i < 50 && !log.includes(`CREATE ROLE "${t.role}"`); i++) {
        await sleep(100);
        log = logSince(from);
      }
      expect(log).toContain(`CREATE ROLE "${t.role}" WITH LOGIN REPLICATION PASSWORD 'SCRAM-SHA-256$4096:`);
      expect(log).not.toContain(t.password);
    } finally {
      await withDb(async (c) =>
        c.query('ALTER SYSTEM RESET log_statement').then(() => c.query('SELECT pg_reload_conf()')),
      );
    }
    await waitLogStatement('none');
    expect(await canLogin(t.role, t.password)).toBe(true);
    expect(await canLogin(t.role, `${t.password}x`)).toBe(false);
    const stored = await withDb((c) =>
      c.query<{ rolpassword: string }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [t.role]),
    );
    expect(stored.rows[0]?.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
  });

  it('computes the verifier PostgreSQL itself stores for a password (same salt)', async () => {
    const role = `rekey_it_${suffix()}`;
    alsoDropRole(role);
    const password = `pw ${suffix()} ünïcode`;
    const stored = await withDb(async (c) => {
      await c.query(`SET password_encryption = 'scram-sha-256'`);
      await c.query(`CREATE ROLE ${c.escapeIdentifier(role)} LOGIN PASSWORD ${c.escapeLiteral(password)}`);
      return (await c.query<{ rolpassword: string }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role]))
        .rows[0]!.rolpassword;
    });
    const theirs = parseScramVerifier(stored)!;
    expect(scramSha256Verifier(password, { salt: theirs.salt, iterations: theirs.iterations })).toBe(stored);
  });

  it('converges on a retry of the same rotation and refuses, untouched, a role of another rotation or a pre-existing one', async () => {
    const t = await throwaway();
    const rotationId = `it-${suffix()}`;
    const input = { secret: t.secret, parentRole: pipeline.parentRole, rotationId };
    expect(await run(pgActs.createRoleFromSecret, input)).toEqual({ role: t.role, created: true });
    // drift a crash could leave (or someone's edit): the retry puts it back
    await withDb((c) =>
      c.query(
        `ALTER ROLE ${c.escapeIdentifier(t.role)} NOLOGIN NOREPLICATION; REVOKE ${c.escapeIdentifier(pipeline.parentRole)} FROM ${c.escapeIdentifier(t.role)}`,
      ),
    );
    expect(await run(pgActs.createRoleFromSecret, input)).toEqual({ role: t.role, created: false });
    expect(await run(pgActs.describeRole, { role: t.role })).toMatchObject({
      exists: true,
      canLogin: true,
      replication: true,
      memberOf: [pipeline.parentRole],
      createdByRotation: rotationId,
    });
    expect(await canLogin(t.role, t.password)).toBe(true);

    const other = await failure(run(pgActs.createRoleFromSecret, { ...input, rotationId: 'another-rotation' }));
    expect(other).toMatchObject({ type: 'RoleExists', nonRetryable: true });
    expect(other.message).toBe(
      `role ${t.role} exists and was not created by rotation another-rotation; nothing was changed`,
    );
    expect((await run(pgActs.describeRole, { role: t.role })).createdByRotation).toBe(rotationId);

    // a secret naming the live CDC user: refused, and the user's password still works
    const cdc = (await store.read(pipeline.cdcSecret))!.data;
    const hijack = await throwaway();
    await store.write(hijack.secret, { 'db-username': cdc['db-username']!, 'db-password': hijack.password });
    const refused = await failure(
      run(pgActs.createRoleFromSecret, { secret: hijack.secret, parentRole: pipeline.parentRole, rotationId }),
    );
    expect(refused).toMatchObject({ type: 'RoleExists', nonRetryable: true });
    expect(refused.message).not.toContain(hijack.password);
    expect(await canLogin(cdc['db-username']!, cdc['db-password']!)).toBe(true);
    expect(await canLogin(cdc['db-username']!, hijack.password)).toBe(false);
  });
});

describe('dropRoleCreatedBy', () => {
  it('drops only its own role (sessions ended, owned objects reassigned) and refuses others', async () => {
    const t = await throwaway();
    const rotationId = `it-${suffix()}`;
    await run(pgActs.createRoleFromSecret, { secret: t.secret, parentRole: pipeline.parentRole, rotationId });
    const table = `rekey_it_owned_${suffix()}`;
    await withDb((c) =>
      c.query(
        `CREATE TABLE public.${table} (id int); ALTER TABLE public.${table} OWNER TO ${c.escapeIdentifier(t.role)}`,
      ),
    );
    try {
      expect(
        await run(pgActs.dropRoleCreatedBy, {
          role: t.role,
          rotationId: 'another-rotation',
          parentRole: pipeline.parentRole,
        }),
      ).toEqual({ dropped: false, reason: 'not created by this rotation' });
      const cdcUser = (await store.read(pipeline.cdcSecret))!.data['db-username']!;
      expect(
        await run(pgActs.dropRoleCreatedBy, { role: cdcUser, rotationId, parentRole: pipeline.parentRole }),
      ).toEqual({ dropped: false, reason: 'not created by this rotation' });
      expect((await run(pgActs.describeRole, { role: cdcUser })).exists).toBe(true);

      const session = await loginAs(t.role, t.password);
      expect(
        await run(pgActs.dropRoleCreatedBy, { role: t.role, rotationId, parentRole: pipeline.parentRole }),
      ).toEqual({ dropped: true });
      await expect(session.query('SELECT 1')).rejects.toThrow();
      await session.end().catch(() => undefined);
      expect((await run(pgActs.describeRole, { role: t.role })).exists).toBe(false);
      const owner = await withDb((c) =>
        c.query<{ owner: string }>(`SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relname = $1`, [
          table,
        ]),
      );
      expect(owner.rows[0]?.owner).toBe(pipeline.parentRole);
      expect(
        await run(pgActs.dropRoleCreatedBy, { role: t.role, rotationId, parentRole: pipeline.parentRole }),
      ).toEqual({ dropped: false, reason: 'absent' });
    } finally {
      await withDb((c) => c.query(`DROP TABLE IF EXISTS public.${table}`));
    }
  });
  it('fails retryable RoleHasDependents, naming the database, while a grant lives where no one can connect; converges once it can', async () => {
    // moved from the e2e needs-attention test: the real PostgreSQL error behind the stub world's parked rollback
    const t = await throwaway();
    const rotationId = `it-${suffix()}`;
    await run(pgActs.createRoleFromSecret, { secret: t.secret, parentRole: pipeline.parentRole, rotationId });
    const blocker = `rekey_blocker_${suffix()}`;
    try {
      await withDb((c) => c.query(`CREATE DATABASE ${blocker}`));
      await withDb(
        (c) => c.query(`CREATE TABLE t (x int); GRANT SELECT ON t TO ${c.escapeIdentifier(t.role)}`),
        blocker,
      );
      await withDb((c) => c.query(`ALTER DATABASE ${blocker} ALLOW_CONNECTIONS false`));
      const err = await failure(
        run(pgActs.dropRoleCreatedBy, { role: t.role, rotationId, parentRole: pipeline.parentRole }),
      );
      expect(err).toMatchObject({ type: 'RoleHasDependents', nonRetryable: false });
      expect(err.message).toMatch(new RegExp(`role ${t.role} still has dependent objects: .*in database ${blocker}`));
      expect((await run(pgActs.describeRole, { role: t.role })).exists).toBe(true);
      await withDb((c) => c.query(`ALTER DATABASE ${blocker} ALLOW_CONNECTIONS true`));
      expect(
        await run(pgActs.dropRoleCreatedBy, { role: t.role, rotationId, parentRole: pipeline.parentRole }),
      ).toEqual({ dropped: true });
    } finally {
      await withDb((c) => c.query(`DROP DATABASE IF EXISTS ${blocker} WITH (FORCE)`));
    }
  });
});

describe('limitRoleValidity and describeRole', () => {
  it('sets an expiry, reports the previous one, and restores it', async () => {
    const t = await throwaway();
    await run(pgActs.createRoleFromSecret, {
      secret: t.secret,
      parentRole: pipeline.parentRole,
      rotationId: `it-${suffix()}`,
    });
    expect((await run(pgActs.describeRole, { role: t.role })).validUntil).toBeNull();
    const until = '2031-02-03T04:05:06.123456Z';
    expect(await run(pgActs.limitRoleValidity, { role: t.role, until })).toEqual({ previous: null });
    expect((await run(pgActs.describeRole, { role: t.role })).validUntil).toBe(until);
    const psql = await withDb((c) =>
      c.query<{ utc: string }>(
        `SELECT (rolvaliduntil AT TIME ZONE 'UTC')::text AS utc FROM pg_roles WHERE rolname = $1`,
        [t.role],
      ),
    );
    expect(psql.rows[0]?.utc).toBe('2031-02-03 04:05:06.123456');
    expect(await run(pgActs.limitRoleValidity, { role: t.role, until })).toEqual({ previous: until });

    // an expiry in the past refuses the password; restoring "none" lets it in again
    expect(await run(pgActs.limitRoleValidity, { role: t.role, until: '2001-01-01T00:00:00Z' })).toEqual({
      previous: until,
    });
    expect(await canLogin(t.role, t.password)).toBe(false);
    expect(await run(pgActs.limitRoleValidity, { role: t.role, until: null })).toEqual({
      previous: '2001-01-01T00:00:00.000000Z',
    });
    expect((await run(pgActs.describeRole, { role: t.role })).validUntil).toBeNull();
    expect(await canLogin(t.role, t.password)).toBe(true);

    expect(
      await failure(run(pgActs.limitRoleValidity, { role: t.role, until: "2031-01-01'; DROP ROLE x; --" })),
    ).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
    expect(
      await failure(run(pgActs.limitRoleValidity, { role: `rekey_it_absent_${suffix()}`, until: null })),
    ).toMatchObject({ type: 'RoleMissing' });
  });

  it('a retry reports the value the crashed first attempt replaced, not its own write', async () => {
    const t = await throwaway();
    await run(pgActs.createRoleFromSecret, {
      secret: t.secret,
      parentRole: pipeline.parentRole,
      rotationId: `it-${suffix()}`,
    });
    const heartbeats: unknown[] = [];
    await run(pgActs.limitRoleValidity, { role: t.role, until: '2031-01-01T00:00:00Z' }, { heartbeats });
    expect(heartbeats).toEqual([{ previous: null }]);
    // the first attempt wrote, then its worker died before reporting: Temporal hands its heartbeat to the retry
    expect(
      await run(
        pgActs.limitRoleValidity,
        { role: t.role, until: '2031-01-01T00:00:00Z' },
        { heartbeatDetails: heartbeats[0] },
      ),
    ).toEqual({ previous: null });
  });

  it('lists direct grants and parent roles, not what comes through the parent', async () => {
    const t = await throwaway();
    await run(pgActs.createRoleFromSecret, {
      secret: t.secret,
      parentRole: pipeline.parentRole,
      rotationId: `it-${suffix()}`,
    });
    expect((await run(pgActs.describeRole, { role: t.role })).directGrants).toEqual([]);
    await withDb((c) =>
      c.query(
        `GRANT SELECT ON public.orders TO ${c.escapeIdentifier(t.role)}; GRANT USAGE ON SCHEMA public TO ${c.escapeIdentifier(t.role)}`,
      ),
    );
    const info = await run(pgActs.describeRole, { role: t.role });
    expect(info.directGrants).toEqual(['public.orders:SELECT', 'schema:public:USAGE']);
    expect(info.memberOf).toEqual([pipeline.parentRole]);
    expect(await run(pgActs.describeRole, { role: `rekey_it_absent_${suffix()}` })).toMatchObject({
      exists: false,
      memberOf: [],
      directGrants: [],
      validUntil: null,
      createdByRotation: null,
    });
  });
});

describe('testTableAccess', () => {
  it('passes for a member of the parent role and names the table a role may not read', async () => {
    const member = await throwaway();
    await run(pgActs.createRoleFromSecret, {
      secret: member.secret,
      parentRole: pipeline.parentRole,
      rotationId: `it-${suffix()}`,
    });
    const published = await withDb((c) =>
      c.query<{ t: string }>(
        `SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1`,
        [pipeline.publication],
      ),
    );
    const { tables } = await run(pgActs.testTableAccess, { secret: member.secret, publication: pipeline.publication });
    expect(tables).toEqual(published.rows.map((r) => r.t));
    expect(tables).toContain('public.rekey_canary');

    // a login role outside the parent, granted every published table but public.orders
    const outsider = await throwaway();
    await withDb(async (c) => {
      const ident = c.escapeIdentifier(outsider.role);
      await c.query(`CREATE ROLE ${ident} LOGIN PASSWORD ${c.escapeLiteral(scramSha256Verifier(outsider.password))}`);
      for (const t of tables.filter((x) => x !== 'public.orders')) await c.query(`GRANT SELECT ON ${t} TO ${ident}`);
    });
    const denied = await failure(
      run(pgActs.testTableAccess, { secret: outsider.secret, publication: pipeline.publication }),
    );
    expect(denied).toMatchObject({ type: 'TableAccessDenied', nonRetryable: true });
    expect(denied.message).toContain('public.orders');
    expect(denied.message).not.toContain(outsider.password);
  });
});
