import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import type { StackConfig } from './config.js';

/** The sample application's names: its secret, the role that owns its objects, its login role and its table. */
export const sampleApp = {
  secret: 'orders-app-db',
  ownerRole: 'orders_owner',
  firstLogin: 'orders_app',
  schema: 'orders',
  table: 'orders.orders',
  applicationName: 'orders-app',
  workload: 'Deployment/orders-app',
} as const;

export const sampleAppStatsFile = (cfg: StackConfig, pid: number) => path.join(cfg.runDir, `orders-app.${pid}.json`);

/**
 * The shape rotate-postgres-app expects (and the runbook tells an operator to migrate to): a
 * NOLOGIN owner role that owns the schema, and a login role IN ROLE it that sets it on login, so
 * what the application creates is the owner's. Its credential goes to the file store (the
 * pipeline store's copy takes it from there). Idempotent: a working login is left alone.
 */
export async function ensureSampleAppDatabase(cfg: StackConfig, db: pg.Client): Promise<void> {
  const owner = db.escapeIdentifier(sampleApp.ownerRole);
  const store = new FileSecretStore(cfg.secretsDir);
  const roles = await db.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [
    [sampleApp.ownerRole],
  ]);
  if (roles.rowCount === 0) await db.query(`CREATE ROLE ${owner} NOLOGIN`);
  await db.query(`CREATE SCHEMA IF NOT EXISTS ${db.escapeIdentifier(sampleApp.schema)} AUTHORIZATION ${owner}`);
  const current = await store.read(sampleApp.secret);
  const user = current?.data['db-username'];
  if (user && (await db.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user])).rowCount) return;
  // first start (or a database without the secret's role): the first login role, with a new password
  const password = randomBytes(24).toString('base64url');
  const login = db.escapeIdentifier(sampleApp.firstLogin);
  if (!(await db.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [sampleApp.firstLogin])).rowCount)
    await db.query(`CREATE ROLE ${login} LOGIN IN ROLE ${owner}`);
  await db.query(`ALTER ROLE ${login} PASSWORD ${db.escapeLiteral(password)}`);
  await db.query(`ALTER ROLE ${login} SET role = ${db.escapeLiteral(sampleApp.ownerRole)}`);
  await store.write(
    sampleApp.secret,
    { 'db-username': sampleApp.firstLogin, 'db-password': password },
    { expectedVersion: current?.info.version ?? null },
  );
}
