/**
 * The embedded stack's sample application: what `rotate-postgres-app` rotates the credential
 * of. A connection pool that writes and reads a table of its own, as a service with its own
 * PostgreSQL user does (Nessie, Keycloak). Like a pod that mounts its Secret, it reads its
 * credential once, at start, from the store the pipeline uses. It counts every query that
 * succeeded and every one that failed into `<run>/orders-app.<pid>.json`; SIGTERM drains it.
 * Run detached by standinSampleApp.ts; never imported by production code.
 */
import fs from 'node:fs';
import pg from 'pg';
import { loadStackConfig, pipeline } from './config.js';
import { pipelineSecrets } from './connectorStore.js';
import { sampleApp, sampleAppStatsFile } from './sampleAppDb.js';

const cfg = loadStackConfig();
const stamp = process.env.REKEY_ROLLOUT_STAMP ?? '';
const secret = (await pipelineSecrets(cfg).read(sampleApp.secret))?.data ?? {};
const pool = new pg.Pool({
  host: '127.0.0.1',
  port: cfg.ports.postgres,
  database: pipeline.database,
  user: secret['db-username'],
  password: secret['db-password'],
  application_name: sampleApp.applicationName,
  max: 2,
  idleTimeoutMillis: 0,
});
pool.on('error', () => undefined);

const stats = { pid: process.pid, stamp, user: secret['db-username'], ok: 0, failed: 0, lastError: '', running: true };
const save = () => fs.writeFileSync(sampleAppStatsFile(cfg, process.pid), JSON.stringify(stats));
let running = true;

async function loop(kind: 'write' | 'read'): Promise<void> {
  while (running) {
    try {
      if (kind === 'write')
        await pool.query(`INSERT INTO ${sampleApp.table} (note) VALUES ($1)`, [`order from ${process.pid}`]);
      else await pool.query(`SELECT count(*) FROM ${sampleApp.table} WHERE created_at > now() - interval '1 minute'`);
      stats.ok++;
    } catch (err) {
      stats.failed++;
      stats.lastError = (err as Error).message.slice(0, 200);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

// the application creates its table itself: with `SET role` in effect it is the owner role's
await pool.query(
  `CREATE TABLE IF NOT EXISTS ${sampleApp.table} (id bigserial PRIMARY KEY, note text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
);
const loops = [loop('write'), loop('read')];
const saver = setInterval(save, 250);
save();
process.on('SIGTERM', () => {
  running = false;
  void Promise.all(loops)
    .then(() => pool.end())
    .finally(() => {
      clearInterval(saver);
      stats.running = false;
      save();
      process.exit(0);
    });
});
