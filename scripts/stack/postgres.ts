import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { connectorStore } from './connect.js';
import { pipelineSecrets } from './connectorStore.js';
import type { SecretStore } from '../../activities/secrets/store.js';
import { pipeline, type StackConfig } from './config.js';
import { execFileAsync, StackError, waitFor } from './proc.js';
import { asRoot, chownToPostgres } from './postgresUser.js';
import { logPath, type Service } from './service.js';
import { ensureStackCertificates, postgresTlsFiles, writePostgresTlsFiles } from './tls.js';

const BIN = process.env.REKEY_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const dataDir = (cfg: StackConfig) => path.join(cfg.dataDir, 'postgres');
const socketDir = (cfg: StackConfig) => path.join(cfg.dataDir, 'postgres-socket');

/** PostgreSQL refuses to run as root: when we are root, run its tools as the `postgres` user. */
async function pgTool(tool: string, args: string[]) {
  const cmd = path.join(BIN, tool);
  return asRoot ? execFileAsync('runuser', ['-u', 'postgres', '--', cmd, ...args]) : execFileAsync(cmd, args);
}

export async function adminClient(cfg: StackConfig, database = 'postgres'): Promise<pg.Client> {
  const files = new FileSecretStore(cfg.secretsDir);
  try {
    return await connectAs(cfg, database, files);
  } catch (err) {
    // rotate-postgres-admin on the Kubernetes store changed the password there: the file copy is stale until the stack moves back
    if ((err as { code?: string }).code !== '28P01' || connectorStore(cfg) === 'file') throw err;
    return connectAs(cfg, database, pipelineSecrets(cfg));
  }
}

async function connectAs(cfg: StackConfig, database: string, store: SecretStore): Promise<pg.Client> {
  const secret = await store.read(pipeline.adminSecret);
  if (!secret) throw new StackError('postgres', `admin secret ${pipeline.adminSecret} missing; run npm run stack:up`);
  const client = new pg.Client({
    host: '127.0.0.1',
    port: cfg.ports.postgres,
    user: secret.data.username,
    password: secret.data.password,
    database,
    connectionTimeoutMillis: 3000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return client;
}

/**
 * The rotation canary's own table (never rows in the business tables): created, granted
 * like the heartbeat table and added to the publication, on a new or an existing database.
 */
async function seedCanary(db: pg.Client): Promise<void> {
  const parent = db.escapeIdentifier(pipeline.parentRole);
  await db.query(
    `CREATE TABLE IF NOT EXISTS public.rekey_canary (marker text PRIMARY KEY, written_at timestamptz NOT NULL)`,
  );
  await db.query(`GRANT SELECT, INSERT, UPDATE ON public.rekey_canary TO ${parent}`);
  const published = await db.query(
    `SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = 'public' AND tablename = 'rekey_canary'`,
    [pipeline.publication],
  );
  if (published.rowCount === 0)
    await db.query(`ALTER PUBLICATION ${db.escapeIdentifier(pipeline.publication)} ADD TABLE public.rekey_canary`);
}

export const cdcUserName = (at: Date) =>
  `debezium_${at.toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '_')}`;

/** PostgreSQL 15 with wal_level=logical, the ecommerce sample, the Debezium parent role and a first CDC user. */
export const postgres: Service = {
  name: 'postgres',
  url: (cfg) => `postgresql://127.0.0.1:${cfg.ports.postgres}/${pipeline.database}`,
  ports: (cfg) => [cfg.ports.postgres],

  async install() {
    if (!fs.existsSync(path.join(BIN, 'pg_ctl'))) {
      throw new StackError(
        'postgres',
        `PostgreSQL 15 server binaries not found in ${BIN}: apt-get install postgresql-15 (or set REKEY_PG_BIN)`,
      );
    }
  },

  async start(cfg) {
    const store = new FileSecretStore(cfg.secretsDir);
    const data = dataDir(cfg);
    fs.mkdirSync(cfg.dataDir, { recursive: true });
    fs.mkdirSync(cfg.logDir, { recursive: true });
    fs.mkdirSync(socketDir(cfg), { recursive: true });
    chownToPostgres(socketDir(cfg));
    const log = logPath(cfg, 'postgres');
    if (!fs.existsSync(log)) fs.writeFileSync(log, '');
    chownToPostgres(log);
    if (!fs.existsSync(path.join(data, 'PG_VERSION'))) {
      let admin = await store.read(pipeline.adminSecret);
      if (!admin) {
        await store.write(pipeline.adminSecret, {
          username: 'postgres',
          password: randomBytes(24).toString('base64url'),
        });
        admin = (await store.read(pipeline.adminSecret))!;
      }
      fs.rmSync(data, { recursive: true, force: true });
      fs.mkdirSync(data, { recursive: true, mode: 0o700 });
      chownToPostgres(data);
      const pwfile = path.join(socketDir(cfg), '.initdb-pw');
      fs.writeFileSync(pwfile, admin.data.password!, { mode: 0o600 });
      chownToPostgres(pwfile);
      try {
        await pgTool('initdb', [
          '-D',
          data,
          '-U',
          'postgres',
          '--auth-local=trust',
          '--auth-host=scram-sha-256',
          `--pwfile=${pwfile}`,
          '-E',
          'UTF8',
        ]);
      } catch (err) {
        throw new StackError(
          'postgres',
          `initdb failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`,
          log,
        );
      } finally {
        fs.rmSync(pwfile, { force: true });
      }
    }
    // TLS beside plaintext: the pg_hba `host` lines initdb wrote accept both, so non-TLS clients keep working
    await ensureStackCertificates(cfg);
    await writePostgresTlsFiles(cfg, store);
    const tlsFiles = postgresTlsFiles(cfg);
    const options = [
      `-c port=${cfg.ports.postgres}`,
      '-c ssl=on',
      `-c ssl_cert_file=${tlsFiles.cert}`,
      `-c ssl_key_file=${tlsFiles.key}`,
      `-c listen_addresses=127.0.0.1`,
      `-c unix_socket_directories=${socketDir(cfg)}`,
      '-c wal_level=logical',
      // room for a fleet of pipelines (scripts/stack/fleet.ts): one slot and walsender each, and their connections
      '-c max_replication_slots=80',
      '-c max_wal_senders=80',
      '-c max_connections=300',
      '-c shared_buffers=64MB',
    ].join(' ');
    try {
      await pgTool('pg_ctl', ['start', '-D', data, '-l', log, '-w', '-t', '60', '-o', options]);
    } catch (err) {
      throw new StackError(
        'postgres',
        `pg_ctl start failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`,
        log,
      );
    }
    await waitFor('postgres', () => postgres.healthy(cfg), { timeoutMs: 30_000, logPath: log });
  },

  async healthy(cfg) {
    const client = await adminClient(cfg);
    try {
      const { rows } = await client.query<{ wal_level: string }>('SHOW wal_level');
      return rows[0]?.wal_level === 'logical';
    } finally {
      await client.end();
    }
  },

  async seed(cfg) {
    const store = new FileSecretStore(cfg.secretsDir);
    const root = await adminClient(cfg);
    try {
      const exists = await root.query('SELECT 1 FROM pg_database WHERE datname = $1', [pipeline.database]);
      if (exists.rowCount === 0) await root.query(`CREATE DATABASE ${root.escapeIdentifier(pipeline.database)}`);
    } finally {
      await root.end();
    }
    const db = await adminClient(cfg, pipeline.database);
    try {
      const parent = db.escapeIdentifier(pipeline.parentRole);
      await db.query(`
        CREATE TABLE IF NOT EXISTS public.users (
          id bigserial PRIMARY KEY, email text NOT NULL, name text, created_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE IF NOT EXISTS public.orders (
          id bigserial PRIMARY KEY, user_id bigint REFERENCES public.users(id), amount_cents integer NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE IF NOT EXISTS public.debezium_heartbeat (id integer PRIMARY KEY, ts timestamptz NOT NULL);`);
      // sample rows: the initial snapshot publishes them, which also creates the topics
      await db.query(`INSERT INTO public.users (email, name)
        SELECT v.email, v.name FROM (VALUES ('ada@example.invalid', 'Ada'), ('grace@example.invalid', 'Grace'), ('linus@example.invalid', 'Linus')) AS v(email, name)
         WHERE NOT EXISTS (SELECT 1 FROM public.users)`);
      await db.query(`INSERT INTO public.orders (user_id, amount_cents)
        SELECT id, 1999 FROM public.users WHERE NOT EXISTS (SELECT 1 FROM public.orders) ORDER BY id LIMIT 2`);
      const role = await db.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [pipeline.parentRole]);
      if (role.rowCount === 0) await db.query(`CREATE ROLE ${parent} NOLOGIN`);
      await db.query(`GRANT CONNECT, CREATE ON DATABASE ${db.escapeIdentifier(pipeline.database)} TO ${parent};
        GRANT USAGE ON SCHEMA public TO ${parent};
        GRANT SELECT ON public.users, public.orders TO ${parent};
        GRANT SELECT, INSERT, UPDATE ON public.debezium_heartbeat TO ${parent};`);
      const pub = await db.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [pipeline.publication]);
      // The heartbeat table is published so Debezium's heartbeat writes advance the slot
      // even when the captured tables are idle; otherwise confirmed_flush_lsn and the
      // walsender lag columns go stale and report minutes of false lag.
      if (pub.rowCount === 0)
        await db.query(
          `CREATE PUBLICATION ${db.escapeIdentifier(pipeline.publication)} FOR TABLE public.users, public.orders, public.debezium_heartbeat`,
        );
      await db.query(`ALTER PUBLICATION ${db.escapeIdentifier(pipeline.publication)} OWNER TO ${parent}`);
      await seedCanary(db);

      let cdc = await store.read(pipeline.cdcSecret);
      if (!cdc) {
        await store.write(pipeline.cdcSecret, {
          'db-username': cdcUserName(new Date()),
          'db-password': randomBytes(24).toString('base64url'),
        });
        cdc = (await store.read(pipeline.cdcSecret))!;
      }
      const user = cdc.data['db-username']!;
      const has = await db.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user]);
      // Only while the file store is the pipeline's source of truth: when Connect reads the
      // Kubernetes Secret, this copy is stale and its user may have been rotated away.
      if (has.rowCount === 0 && connectorStore(cfg) === 'file') {
        await db.query(
          `CREATE ROLE ${db.escapeIdentifier(user)} WITH LOGIN REPLICATION PASSWORD ${db.escapeLiteral(cdc.data['db-password']!)} IN ROLE ${parent}`,
        );
      }
    } finally {
      await db.end();
    }
  },

  async stop(cfg) {
    if (!fs.existsSync(path.join(dataDir(cfg), 'postmaster.pid'))) return;
    await pgTool('pg_ctl', ['stop', '-D', dataDir(cfg), '-m', 'fast', '-w', '-t', '60']).catch(() => undefined);
  },
};
