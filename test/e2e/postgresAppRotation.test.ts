import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipeline } from '../../scripts/stack/config.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { ensureSampleAppDatabase, sampleApp } from '../../scripts/stack/sampleAppDb.js';
import {
  clearSampleAppStats,
  sampleAppStats,
  startSampleApp,
  stopSampleApp,
} from '../../scripts/stack/standinSampleApp.js';
import { recordHistory } from './histories.js';
import { cfg, failureOf, store } from './pipeline.js';
import { rotationHarness } from './rotationHarness.js';

/**
 * An application's PostgreSQL login (the platform plan's NESSIE_PASSWORD and the like) rotated
 * on the stack while the sample application writes and reads through its pool: the next login
 * role beside the old one, the application rolled onto it, its sessions proven moved, the old
 * role dropped after grace; not one query may fail.
 */
let db: pg.Client;
beforeAll(async () => {
  db = await adminClient(cfg, pipeline.database);
  await ensureSampleAppDatabase(cfg, db);
  await stopSampleApp(cfg);
  clearSampleAppStats(cfg);
  await startSampleApp(cfg);
});
const rotations = rotationHarness('postgresql-app', 'orders');
afterAll(async () => {
  await stopSampleApp(cfg);
  await db?.end();
});

const login = async () => (await store.read(sampleApp.secret))!.data['db-username']!;
const queries = () =>
  sampleAppStats(cfg).reduce((t, s) => ({ ok: t.ok + s.ok, failed: t.failed + s.failed }), { ok: 0, failed: 0 });
const sessions = async () =>
  (
    await db.query<{ usename: string; n: number }>(
      `SELECT usename, count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 GROUP BY usename`,
      [sampleApp.applicationName],
    )
  ).rows;
const roleExists = async (role: string) =>
  ((await db.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount ?? 0) > 0;

const rotate = (input: Record<string, unknown>) => rotations.rotate(input);

describe("an application's PostgreSQL login rotated on the stack", () => {
  it('moves the application to a new login role with 0 failed queries; its sessions log in as it; the old role is dropped after grace; the table stays the owner role’s', async () => {
    const old = await login();
    const before = queries();
    const run = await rotate({ gracePeriod: 'PT2S' });
    const after = queries();
    console.info(`postgresql-app rotation: ${JSON.stringify({ queries: after.ok - before.ok, failed: after.failed })}`);
    expect(run.result?.status).toBe('completed');
    const now = await login();
    expect(run.result?.from).toBe(old);
    expect(now).toBe(run.result?.to);
    expect(after.failed).toBe(0);
    expect(after.ok - before.ok).toBeGreaterThan(20);
    expect(await sessions()).toEqual([{ usename: now, n: expect.any(Number) }]);
    expect(await roleExists(old)).toBe(false);
    const member = await db.query('SELECT pg_has_role($1, $2, $3) AS m', [now, sampleApp.ownerRole, 'MEMBER']);
    expect(member.rows[0].m).toBe(true);
    const owner = await db.query<{ o: string }>(`SELECT tableowner AS o FROM pg_tables WHERE schemaname = 'orders'`);
    expect(owner.rows.map((r) => r.o)).toEqual([sampleApp.ownerRole]);
    await recordHistory(run.handle, 'other-postgresql-app-completed');
  });

  it('rolls back when a drill fails it after the sessions moved: the application back on the old role, the new one dropped, 0 failed queries', async () => {
    const old = await login();
    const run = await rotate({ gracePeriod: 'PT2S', injectFailure: 'sessions-moved' });
    expect((await failureOf(run.handle))?.type).toBe('RotationRolledBack');
    expect(await login()).toBe(old);
    expect(queries().failed).toBe(0);
    expect(await sessions()).toEqual([{ usename: old, n: expect.any(Number) }]);
    // the owner role's only login member is the old one again: the new role was dropped
    const members = await db.query<{ r: string }>(
      `SELECT m.rolname AS r FROM pg_auth_members am JOIN pg_roles m ON m.oid = am.member JOIN pg_roles o ON o.oid = am.roleid
        WHERE o.rolname = $1 AND m.rolcanlogin`,
      [sampleApp.ownerRole],
    );
    expect(members.rows.map((x) => x.r)).toEqual([old]);
    expect(await store.read(`${sampleApp.secret}-pending`)).toBeUndefined();
    expect(await store.read(`${sampleApp.secret}-backup`)).toBeUndefined();
  });
});
