import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { loadStackConfig, pipeline } from '../../scripts/stack/config.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { createPostgresActivities } from '../../activities/postgres/index.js';

/** The PostgreSQL activities against the embedded stack, as a worker builds them. */
export const cfg = loadStackConfig();
export const store = new FileSecretStore(cfg.secretsDir);
export const pgActs = createPostgresActivities({
  store,
  host: '127.0.0.1',
  port: cfg.ports.postgres,
  database: pipeline.database,
  adminSecret: pipeline.adminSecret,
});

const quiet = new DefaultLogger('ERROR');

/**
 * Runs an activity in a mock activity context (heartbeat() and sleep() need one).
 * `opts.heartbeats` collects what it heartbeats; `opts.heartbeatDetails` is what a
 * previous attempt heartbeated (as Temporal hands it to a retry).
 */
export function run<I, O>(
  fn: (input: I) => Promise<O>,
  input: I,
  opts: { heartbeats?: unknown[]; heartbeatDetails?: unknown } = {},
): Promise<O> {
  const env = new MockActivityEnvironment(
    opts.heartbeatDetails === undefined ? {} : { heartbeatDetails: opts.heartbeatDetails },
    { logger: quiet },
  );
  if (opts.heartbeats) env.on('heartbeat', (d: unknown) => opts.heartbeats!.push(d));
  return env.run(fn, input);
}

/** The ApplicationFailure an activity threw (fails the test if it resolved or threw something else). */
export async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ApplicationFailure))
    throw new Error(`expected an ApplicationFailure, got ${err === undefined ? 'success' : String(err)}`);
  return err;
}

export const suffix = () => randomBytes(4).toString('hex');

/** A throwaway secret holding a login for a throwaway role; both are removed by cleanup(). */
export interface Throwaway {
  role: string;
  secret: string;
  password: string;
}

const created: Throwaway[] = [];
const extraRoles: string[] = [];

export async function throwaway(): Promise<Throwaway> {
  const s = suffix();
  const t = { role: `rekey_it_${s}`, secret: `rekey-it-${s}`, password: `pw-${randomBytes(18).toString('base64url')}` };
  await store.write(t.secret, { 'db-username': t.role, 'db-password': t.password });
  created.push(t);
  return t;
}

export const alsoDropRole = (role: string) => void extraRoles.push(role);

export async function withDb<T>(fn: (c: pg.Client) => Promise<T>, database: string = pipeline.database): Promise<T> {
  const c = await adminClient(cfg, database);
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Connects as `user` to the pipeline database (throws on a refused login). */
export async function loginAs(user: string, password: string, applicationName?: string): Promise<pg.Client> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: cfg.ports.postgres,
    database: pipeline.database,
    user,
    password,
    connectionTimeoutMillis: 3000,
    ...(applicationName ? { application_name: applicationName } : {}),
  });
  c.on('error', () => undefined);
  try {
    await c.connect();
  } catch (err) {
    await c.end().catch(() => undefined);
    throw err;
  }
  return c;
}

export async function canLogin(user: string, password: string): Promise<boolean> {
  try {
    const c = await loginAs(user, password);
    await c.end();
    return true;
  } catch {
    return false;
  }
}

/** Removes every throwaway role and secret, whatever state a failed test left them in. */
export async function cleanup(): Promise<void> {
  const roles = [...created.map((t) => t.role), ...extraRoles];
  await withDb(async (c) => {
    for (const role of roles) {
      if ((await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount === 0) continue;
      await c.query('SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = $1', [role]);
      const dbs = await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datallowconn');
      for (const { datname } of dbs.rows) {
        await withDb(
          (d) =>
            d.query(
              `REASSIGN OWNED BY ${d.escapeIdentifier(role)} TO postgres; DROP OWNED BY ${d.escapeIdentifier(role)}`,
            ),
          datname,
        );
      }
      await c.query(`DROP ROLE IF EXISTS ${c.escapeIdentifier(role)}`);
    }
  });
  for (const t of created) await store.remove(t.secret);
  created.length = 0;
  extraRoles.length = 0;
}

export const postgresLog = () => path.join(cfg.logDir, 'postgres.log');
export const logSize = () => fs.statSync(postgresLog()).size;

/** Server log text written after byte `from`. */
export function logSince(from: number): string {
  const fd = fs.openSync(postgresLog(), 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(Math.max(0, size - from));
    fs.readSync(fd, buf, 0, buf.length, from);
    return buf.toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
