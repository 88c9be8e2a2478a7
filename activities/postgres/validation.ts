import type pg from 'pg';
import { fail, list, pass, runCheck, verdict, type CheckResult } from '../checks.js';
import { checklist } from '../../contracts/checklist.js';
import type { Connections } from './connection.js';

const lines = checklist.postgresql;
const MIN_REPLICATION_SLOTS = 4;

export interface PostgresValidationInput {
  /** The secret the connector reads (`db-username`): whose user is checked. */
  secret: string;
  slot: string;
  publication: string;
}

/**
 * The runbook's PostgreSQL CDC lines, read only, as the admin. Replication slots have no
 * owner in PostgreSQL: "owned by the CDC user" is checked as the runbook means it, the
 * walsender streaming from the slot logs in as the CDC user (pg_stat_replication.usename).
 */
export function createPostgresValidation(conns: Connections) {
  async function cdcUser(secret: string): Promise<string> {
    const s = await conns.readLogin(secret, 'db-username', 'db-password');
    return s.user;
  }

  async function setting(c: pg.Client, name: string): Promise<string> {
    const { rows } = await c.query<{ setting: string }>('SELECT setting FROM pg_settings WHERE name = $1', [name]);
    return rows[0]?.setting ?? '(not set)';
  }

  async function validatePostgresCdc(input: PostgresValidationInput): Promise<CheckResult[]> {
    const check = (line: string, queried: string, expected: string, probe: Parameters<typeof runCheck>[4]) =>
      runCheck('postgresql', line, queried, expected, probe);
    return conns.withAdmin(async (c) => {
      const user = await cdcUser(input.secret).catch(() => undefined);
      const userLabel = user ?? `(no db-username in secret ${input.secret})`;
      return [
        await check(
          lines.replicationPrivilege,
          `pg_roles WHERE rolname = user in secret ${input.secret} (${userLabel})`,
          'role exists, rolcanlogin and rolreplication true',
          async () => {
            if (!user) return fail(`secret ${input.secret} has no db-username`);
            const { rows } = await c.query<{ rolcanlogin: boolean; rolreplication: boolean }>(
              'SELECT rolcanlogin, rolreplication FROM pg_roles WHERE rolname = $1',
              [user],
            );
            const r = rows[0];
            if (!r) return fail(`role ${user} does not exist`);
            return verdict(
              r.rolcanlogin && r.rolreplication,
              `role ${user}: login ${r.rolcanlogin}, replication ${r.rolreplication}`,
            );
          },
        ),
        await check(
          lines.tableSelect,
          `has_table_privilege(${userLabel}, t, 'SELECT') for every table of publication ${input.publication}`,
          'SELECT on every published table',
          async () => {
            if (!user) return fail(`secret ${input.secret} has no db-username`);
            const { rows } = await c.query<{ tbl: string; can: boolean }>(
              `SELECT format('%I.%I', schemaname, tablename) AS tbl, has_table_privilege($1, format('%I.%I', schemaname, tablename), 'SELECT') AS can
               FROM pg_publication_tables WHERE pubname = $2 ORDER BY 1`,
              [user, input.publication],
            );
            if (rows.length === 0) return fail(`publication ${input.publication} has no tables (or does not exist)`);
            const missing = rows.filter((r) => !r.can).map((r) => r.tbl);
            return verdict(
              missing.length === 0,
              `${rows.length} tables (${list(rows.map((r) => r.tbl))}); without SELECT: ${list(missing)}`,
            );
          },
        ),
        await check(
          lines.slotActive,
          `pg_replication_slots ${input.slot} and pg_stat_replication.usename of its active_pid`,
          `slot active, streamed by ${userLabel} (slots have no owner column: the streaming login is what owns it)`,
          async () => {
            const { rows } = await c.query<{ active: boolean; active_pid: number | null; usename: string | null }>(
              `SELECT s.active, s.active_pid, r.usename FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = $1`,
              [input.slot],
            );
            const s = rows[0];
            if (!s) return fail(`slot ${input.slot} does not exist`);
            const saw = `slot ${input.slot}: active ${s.active}, pid ${s.active_pid ?? 'none'}, streamed by ${s.usename ?? 'nobody'}`;
            return verdict(s.active && Boolean(user) && s.usename === user, saw);
          },
        ),
        await check(lines.walLevel, 'SHOW wal_level (pg_settings)', 'logical', async () => {
          const v = await setting(c, 'wal_level');
          return verdict(v === 'logical', `wal_level = ${v}`);
        }),
        await check(
          lines.maxSlots,
          'SHOW max_replication_slots (pg_settings)',
          `>= ${MIN_REPLICATION_SLOTS}`,
          async () => {
            const v = await setting(c, 'max_replication_slots');
            return Number(v) >= MIN_REPLICATION_SLOTS
              ? pass(`max_replication_slots = ${v}`)
              : fail(`max_replication_slots = ${v}`);
          },
        ),
      ];
    });
  }

  return { validatePostgresCdc };
}
