import pg from 'pg';
import { ApplicationFailure } from '@temporalio/activity';
import type { SecretStore } from '../secrets/store.js';

export interface PostgresDeps {
  store: SecretStore;
  host: string;
  port: number;
  database: string;
  adminSecret: string;
  /** rekey's own connections over TLS; absent: plaintext (sslmode=disable). */
  ssl?: PostgresTls;
}

/** libpq's sslmodes rekey supports, with the root CA (PEM) that verify-ca/verify-full trust. */
export interface PostgresTls {
  sslmode: 'disable' | 'require' | 'verify-ca' | 'verify-full';
  rootCertPem?: string;
}

/**
 * node-postgres' `ssl` for a libpq sslmode: `require` encrypts without checking the server,
 * `verify-ca` checks the chain against the root CA, `verify-full` also the host name.
 */
export function pgSslOptions(tls: PostgresTls | undefined): pg.ClientConfig['ssl'] {
  if (!tls || tls.sslmode === 'disable') return false;
  if (tls.sslmode === 'require') return { rejectUnauthorized: false };
  return {
    rejectUnauthorized: true,
    ...(tls.rootCertPem ? { ca: tls.rootCertPem } : {}),
    ...(tls.sslmode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
  };
}

/** Identifiers we create or drop: PostgreSQL's unquoted identifier shape, bounded length. */
export const SAFE_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertIdentifier(field: string, value: string): void {
  if (typeof value !== 'string' || !SAFE_IDENTIFIER.test(value)) {
    throw ApplicationFailure.nonRetryable(
      `${field} ${JSON.stringify(value)} is not a safe PostgreSQL identifier`,
      'InvalidIdentifier',
    );
  }
}

/**
 * Every wait in these activities ends by itself within 10 minutes; callers give
 * timeouts ≤ 600 s and an activity startToCloseTimeout above the timeout they pass.
 * Older workflows pass 120 s; larger values are cut to the bound rather than refused.
 */
export const MAX_WAIT_MS = 600_000;

export function boundedTimeout(field: string, ms: number): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0)
    throw ApplicationFailure.nonRetryable(`${field} must be a positive number of milliseconds`, 'InvalidInput');
  return Math.min(ms, MAX_WAIT_MS);
}

/** SQLSTATE of a PostgreSQL error (undefined for network and other errors). */
export const pgCode = (err: unknown): string | undefined =>
  (err as { code?: unknown } | null)?.code as string | undefined;

/** SQLSTATEs that mean the credential was refused (a retry with the same secret cannot help). */
export const AUTH_FAILED = new Set(['28P01', '28000']);

/**
 * PostgreSQL away for a moment: shutting down or starting (57P01–57P03), a connection-class
 * error (08…), or the socket refused/reset/closed. A wait treats it as "not yet" and polls on.
 */
export function isPostgresUnavailable(err: unknown): boolean {
  const code = pgCode(err);
  if (typeof code === 'string' && (/^57P0[123]$/.test(code) || code.startsWith('08'))) return true;
  if (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(code)) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect/i.test(
    (err as Error | null)?.message ?? '',
  );
}

export interface Login {
  user: string;
  password: string;
}

/** Node's codes for a server certificate a verifying client refuses. */
const CERT_REFUSED = /^(UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|CERT_|ERR_TLS_CERT_ALTNAME)/;

/** A refused server certificate, said plainly: which server, which sslmode, what to check (no retry can help). */
function tlsRefusal(err: unknown, deps: PostgresDeps): ApplicationFailure | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !CERT_REFUSED.test(code)) return undefined;
  return ApplicationFailure.nonRetryable(
    `PostgreSQL at ${deps.host}:${deps.port} presented a certificate rekey does not trust with sslmode=${deps.ssl?.sslmode ?? 'disable'}: ${code} (${(err as Error).message}); check postgres.sslRootCert (REKEY_PG_SSLROOTCERT) is the CA that signs the server's certificate and that it names ${deps.host}`,
    'PostgresTlsRefused',
  );
}

/** Admin sessions in the pipeline database a worker keeps open at most (PostgreSQL's max_connections is shared with the pipeline). */
const ADMIN_POOL_SIZE = 10;

export function createConnections(deps: PostgresDeps) {
  /** Reads a login from a secret; the values never enter a message. */
  async function readLogin(secretName: string, userKey: string, passwordKey: string): Promise<Login> {
    const secret = await deps.store.read(secretName);
    if (!secret)
      throw ApplicationFailure.nonRetryable(
        `secret ${secretName} not found in the ${deps.store.kind} store`,
        'SecretMissing',
      );
    const user = secret.data[userKey];
    const password = secret.data[passwordKey];
    if (!user || !password)
      throw ApplicationFailure.nonRetryable(`secret ${secretName} lacks ${userKey}/${passwordKey}`, 'SecretMissing');
    return { user, password };
  }

  async function connect(
    opts: { database?: string; secret?: string; userKey?: string; passwordKey?: string; replication?: boolean } = {},
  ): Promise<pg.Client> {
    const login = await readLogin(
      opts.secret ?? deps.adminSecret,
      opts.userKey ?? 'username',
      opts.passwordKey ?? 'password',
    );
    const client = new pg.Client({
      host: deps.host,
      port: deps.port,
      database: opts.database ?? deps.database,
      user: login.user,
      password: login.password,
      connectionTimeoutMillis: 5000,
      ssl: pgSslOptions(deps.ssl),
      ...(opts.replication ? { replication: 'database' } : {}),
    } as pg.ClientConfig);
    // an idle client's socket error must not crash the worker process
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw tlsRefusal(err, deps) ?? err;
    }
    return client;
  }

  /**
   * Admin sessions in the pipeline's database come from a small pool per admin user: a fleet of rotations polls
   * PostgreSQL every 250 ms, and a new session each time costs a SCRAM exchange on both sides and
   * a backend. The password is read from the store for every new session, so a rotated admin
   * password is picked up; a changed admin user gets its own pool. A session whose work failed is
   * destroyed rather than returned (it may hold an aborted transaction).
   */
  const pools = new Map<string, pg.Pool>();
  const guarded = new WeakSet<pg.PoolClient>();
  async function adminPool(database: string): Promise<pg.Pool> {
    const { user } = await readLogin(deps.adminSecret, 'username', 'password');
    const key = `${database}\u0000${user}`;
    let pool = pools.get(key);
    if (!pool) {
      pool = new pg.Pool({
        host: deps.host,
        port: deps.port,
        database,
        user,
        password: async () => (await readLogin(deps.adminSecret, 'username', 'password')).password,
        connectionTimeoutMillis: 5000,
        ssl: pgSslOptions(deps.ssl),
        max: ADMIN_POOL_SIZE,
        idleTimeoutMillis: 10_000,
        allowExitOnIdle: true,
      });
      // an idle session's socket error (PostgreSQL restarted) must not crash the worker process
      pool.on('error', () => undefined);
      pools.set(key, pool);
    }
    return pool;
  }

  async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>, database?: string): Promise<T> {
    // Only the pipeline's database is pooled: an idle session left in another one (template1 above
    // all, which retiring a role visits) would make the DBA's next CREATE DATABASE fail.
    if (database && database !== deps.database) return once(fn, database);
    const pool = await adminPool(deps.database);
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw tlsRefusal(err, deps) ?? err;
    }
    // a checked-out session's socket error (between two queries) must not crash the worker either
    if (!guarded.has(client)) {
      guarded.add(client);
      client.on('error', () => undefined);
    }
    try {
      const result = await fn(client);
      client.release();
      return result;
    } catch (err) {
      client.release(true);
      throw err;
    }
  }

  /** One session for `fn`, closed after it. */
  async function once<T>(fn: (c: pg.Client) => Promise<T>, database: string): Promise<T> {
    const client = await connect({ database });
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  return { readLogin, connect, withAdmin };
}

export type Connections = ReturnType<typeof createConnections>;

/**
 * Runs `fn` in a transaction whose lock waits end after `lockTimeoutMs` (SET LOCAL
 * lock_timeout, through set_config so the value is a bind parameter). A lock timeout
 * becomes a retryable `LockTimeout` naming `what`.
 */
export async function inTransaction<T>(
  c: pg.Client,
  lockTimeoutMs: number,
  what: string,
  fn: () => Promise<T>,
): Promise<T> {
  await c.query('BEGIN');
  try {
    await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${Math.round(lockTimeoutMs)}ms`]);
    const result = await fn();
    await c.query('COMMIT');
    return result;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    if (pgCode(err) === '55P03') {
      throw ApplicationFailure.retryable(
        `${what}: lock not granted within ${lockTimeoutMs} ms (another session holds it); nothing was changed by this step`,
        'LockTimeout',
      );
    }
    throw err;
  }
}

/** Databases a role's objects and grants can live in (those we can connect to). */
export async function connectableDatabases(c: pg.Client): Promise<string[]> {
  const { rows } = await c.query<{ datname: string }>(
    'SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname',
  );
  return rows.map((r) => r.datname);
}
