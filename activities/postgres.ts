import pg from 'pg';
import { ApplicationFailure, heartbeat, sleep } from '@temporalio/activity';
import type { SecretStore } from './secrets/store.js';

export interface PostgresDeps {
  store: SecretStore;
  host: string;
  port: number;
  database: string;
  adminSecret: string;
}

export interface ReplicationState {
  walLevel: string;
  maxReplicationSlots: number;
  slot: { name: string; exists: boolean; active: boolean; activePid: number | null; confirmedFlushLsn: string | null; lagBytes: number | null };
  /** Role of the walsender serving the slot (pg_stat_replication.usename for active_pid). */
  streamingUser: string | null;
  /** Walsender lag columns in seconds (null when idle or unknown). */
  lagSeconds: { write: number | null; flush: number | null; replay: number | null };
}

export interface RoleInfo {
  name: string;
  exists: boolean;
  canLogin: boolean;
  replication: boolean;
  memberOf: string[];
}

/** Identifiers we create or drop: PostgreSQL's unquoted identifier shape, bounded length. */
export const SAFE_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertIdentifier(field: string, value: string): void {
  if (!SAFE_IDENTIFIER.test(value)) {
    throw ApplicationFailure.nonRetryable(`${field} ${JSON.stringify(value)} is not a safe PostgreSQL identifier`, 'InvalidIdentifier');
  }
}

export function createPostgresActivities(deps: PostgresDeps) {
  async function connect(opts: { database?: string; secret?: string; userKey?: string; passwordKey?: string; replication?: boolean } = {}) {
    const secretName = opts.secret ?? deps.adminSecret;
    const secret = await deps.store.read(secretName);
    if (!secret) throw ApplicationFailure.nonRetryable(`secret ${secretName} not found in the ${deps.store.kind} store`, 'SecretMissing');
    const client = new pg.Client({
      host: deps.host,
      port: deps.port,
      database: opts.database ?? deps.database,
      user: secret.data[opts.userKey ?? 'username'],
      password: secret.data[opts.passwordKey ?? 'password'],
      connectionTimeoutMillis: 5000,
      ...(opts.replication ? { replication: 'database' } : {}),
    } as pg.ClientConfig);
    await client.connect();
    return client;
  }

  async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>, database?: string): Promise<T> {
    const client = await connect({ database });
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async function inspectReplication(input: { slot: string }): Promise<ReplicationState> {
    return withAdmin(async (c) => {
      const settings = await c.query<{ name: string; setting: string }>(
        `SELECT name, setting FROM pg_settings WHERE name IN ('wal_level', 'max_replication_slots')`,
      );
      const setting = (n: string) => settings.rows.find((r) => r.name === n)?.setting ?? '';
      const slot = await c.query<{ active: boolean; active_pid: number | null; confirmed_flush_lsn: string | null; lag_bytes: string | null }>(
        `SELECT active, active_pid, confirmed_flush_lsn::text,
                pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS lag_bytes
           FROM pg_replication_slots WHERE slot_name = $1`,
        [input.slot],
      );
      const s = slot.rows[0];
      let streamingUser: string | null = null;
      let lagSeconds: ReplicationState['lagSeconds'] = { write: null, flush: null, replay: null };
      if (s?.active_pid) {
        const rep = await c.query<{ usename: string; write_s: number | null; flush_s: number | null; replay_s: number | null }>(
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

  async function describeRole(input: { role: string }): Promise<RoleInfo> {
    return withAdmin(async (c) => {
      const r = await c.query<{ rolcanlogin: boolean; rolreplication: boolean }>('SELECT rolcanlogin, rolreplication FROM pg_roles WHERE rolname = $1', [input.role]);
      const m = await c.query<{ parent: string }>(
        `SELECT p.rolname AS parent FROM pg_auth_members am
           JOIN pg_roles p ON p.oid = am.roleid JOIN pg_roles u ON u.oid = am.member
          WHERE u.rolname = $1 ORDER BY 1`,
        [input.role],
      );
      const row = r.rows[0];
      return { name: input.role, exists: Boolean(row), canLogin: row?.rolcanlogin ?? false, replication: row?.rolreplication ?? false, memberOf: m.rows.map((x) => x.parent) };
    });
  }

  /** Sessions a role holds, and whether one of them is a walsender. */
  async function roleActivity(input: { role: string }): Promise<{ sessions: number; streaming: boolean }> {
    return withAdmin(async (c) => {
      const { rows } = await c.query<{ sessions: string; walsenders: string }>(
        `SELECT count(*)::text AS sessions, count(*) FILTER (WHERE backend_type = 'walsender')::text AS walsenders
           FROM pg_stat_activity WHERE usename = $1`,
        [input.role],
      );
      return { sessions: Number(rows[0]?.sessions ?? 0), streaming: Number(rows[0]?.walsenders ?? 0) > 0 };
    });
  }

  /**
   * Creates the login role named in a secret, with the password from that secret.
   * CREATE ROLE cannot take bind parameters, so identifier and literal are escaped by the driver.
   * A retry after a crash finds the role and converges its password and attributes instead of failing.
   */
  async function createRoleFromSecret(input: { secret: string; parentRole: string }): Promise<{ role: string; created: boolean }> {
    assertIdentifier('parentRole', input.parentRole);
    const secret = await deps.store.read(input.secret);
    const role = secret?.data['db-username'];
    const password = secret?.data['db-password'];
    if (!role || !password) throw ApplicationFailure.nonRetryable(`secret ${input.secret} lacks db-username/db-password`, 'SecretMissing');
    assertIdentifier('new user', role);
    return withAdmin(async (c) => {
      const parent = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [input.parentRole]);
      if (parent.rowCount === 0) throw ApplicationFailure.nonRetryable(`parent role ${input.parentRole} does not exist`, 'ParentRoleMissing');
      const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      const ident = c.escapeIdentifier(role);
      if (exists.rowCount === 0) {
        await c.query(`CREATE ROLE ${ident} WITH LOGIN REPLICATION PASSWORD ${c.escapeLiteral(password)} IN ROLE ${c.escapeIdentifier(input.parentRole)}`);
        return { role, created: true };
      }
      await c.query(`ALTER ROLE ${ident} WITH LOGIN REPLICATION PASSWORD ${c.escapeLiteral(password)}`);
      await c.query(`GRANT ${c.escapeIdentifier(input.parentRole)} TO ${ident}`);
      return { role, created: false };
    });
  }

  /** Opens a logical replication connection with a secret's credential and runs IDENTIFY_SYSTEM. */
  async function testReplicationLogin(input: { secret: string }): Promise<{ systemId: string; user: string }> {
    const client = await connect({ secret: input.secret, userKey: 'db-username', passwordKey: 'db-password', replication: true }).catch((err: Error) => {
      throw ApplicationFailure.nonRetryable(`replication login with secret ${input.secret} failed: ${err.message}`, 'ReplicationLoginFailed');
    });
    try {
      const { rows } = await client.query<{ systemid: string }>('IDENTIFY_SYSTEM');
      return { systemId: String(rows[0]?.systemid), user: String((client as unknown as { user: string }).user) };
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /**
   * Removes a CDC role. Refuses while it streams or holds sessions unless `terminate`
   * (only for a role this rotation created and nobody else uses yet).
   */
  async function dropRole(input: { role: string; parentRole: string; terminate?: boolean }): Promise<{ dropped: boolean }> {
    assertIdentifier('role', input.role);
    assertIdentifier('parentRole', input.parentRole);
    const dbs = await withAdmin(async (c) => {
      if ((await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [input.role])).rowCount === 0) return null;
      if (input.terminate) await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [input.role]);
      else {
        const { rows } = await c.query<{ n: string }>('SELECT count(*)::text AS n FROM pg_stat_activity WHERE usename = $1', [input.role]);
        const n = Number(rows[0]?.n ?? 0);
        if (n > 0) throw ApplicationFailure.retryable(`role ${input.role} still holds ${n} session(s); not dropping it while it is in use`, 'RoleInUse');
      }
      const res = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate`);
      return res.rows.map((r) => r.datname);
    });
    if (!dbs) return { dropped: false };
    // Objects owned by the role, and its grants, live per database.
    for (const db of dbs) {
      await withAdmin(async (c) => {
        await c.query(`REASSIGN OWNED BY ${c.escapeIdentifier(input.role)} TO ${c.escapeIdentifier(input.parentRole)}`);
        await c.query(`DROP OWNED BY ${c.escapeIdentifier(input.role)}`);
      }, db);
      heartbeat(db);
    }
    await withAdmin((c) => c.query(`DROP ROLE IF EXISTS ${c.escapeIdentifier(input.role)}`));
    return { dropped: true };
  }

  /** Writes a marked row into the captured table and returns the WAL position after it. */
  async function insertCanary(input: { table: 'users'; marker: string }): Promise<{ id: string; email: string; lsn: string }> {
    return withAdmin(async (c) => {
      const email = `${input.marker}@canary.rekey.invalid`;
      const existing = await c.query<{ id: string }>('SELECT id::text FROM public.users WHERE email = $1', [email]);
      const id = existing.rows[0]?.id ?? (await c.query<{ id: string }>(`INSERT INTO public.users (email, name) VALUES ($1, 'rekey canary') RETURNING id::text`, [email])).rows[0]!.id;
      const { rows } = await c.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      return { id, email, lsn: rows[0]!.lsn };
    });
  }

  /** Waits until the slot's confirmed_flush_lsn reaches `lsn` (Debezium acknowledged past the switch). */
  async function waitSlotPast(input: { slot: string; lsn: string; timeoutMs: number }): Promise<{ confirmedFlushLsn: string }> {
    const deadline = Date.now() + input.timeoutMs;
    for (;;) {
      const row = await withAdmin(async (c) =>
        (await c.query<{ lsn: string; done: boolean }>(
          `SELECT confirmed_flush_lsn::text AS lsn, confirmed_flush_lsn >= $2::pg_lsn AS done FROM pg_replication_slots WHERE slot_name = $1`,
          [input.slot, input.lsn],
        )).rows[0],
      );
      if (row?.done) return { confirmedFlushLsn: row.lsn };
      if (Date.now() > deadline) throw ApplicationFailure.retryable(`slot ${input.slot} confirmed_flush_lsn ${row?.lsn ?? '(none)'} has not reached ${input.lsn}`, 'SlotNotAdvancing');
      heartbeat(row?.lsn);
      await sleep(1000);
    }
  }

  /** Waits until the walsender serving `slot` runs as `user` (proves which credential Debezium uses). */
  async function waitStreamingUser(input: { slot: string; user: string; timeoutMs: number }): Promise<ReplicationState> {
    const deadline = Date.now() + input.timeoutMs;
    for (;;) {
      const state = await inspectReplication({ slot: input.slot });
      if (state.slot.active && state.streamingUser === input.user) return state;
      if (Date.now() > deadline) {
        throw ApplicationFailure.retryable(`slot ${input.slot} is streamed by ${state.streamingUser ?? 'nobody'}, expected ${input.user}`, 'UnexpectedStreamingUser');
      }
      heartbeat(state.streamingUser);
      await sleep(250);
    }
  }

  return { waitStreamingUser, inspectReplication, describeRole, roleActivity, createRoleFromSecret, testReplicationLogin, dropRole, insertCanary, waitSlotPast };
}
