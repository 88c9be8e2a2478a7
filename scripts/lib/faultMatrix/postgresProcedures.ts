import { createHash } from 'node:crypto';
import pg from 'pg';
import { credentialStarters } from '../../../workers/startRotation.js';
import { pipeline, type StackConfig } from '../../stack/config.js';
import { adminClient } from '../../stack/postgres.js';
import { ensureSampleAppDatabase, sampleApp } from '../../stack/sampleAppDb.js';
import { sampleAppStats, startSampleApp } from '../../stack/standinSampleApp.js';
import type { Procedure } from './procedure.js';

const by = 'fault-matrix';

/** A new session with this login: 'accepted', or the server's error code. */
async function login(cfg: StackConfig, user: string, password: string): Promise<string> {
  const c = new pg.Client({ host: '127.0.0.1', port: cfg.ports.postgres, database: pipeline.database, user, password });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return 'accepted';
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Which password is in use, without naming it: a digest's first 12 hex digits. */
const digest = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);

export const postgresAdmin: Procedure = {
  name: 'postgresql-admin',
  secrets: [pipeline.adminSecret],
  start: (client, taskQueue, extra) =>
    credentialStarters['postgresql-admin'](client, { target: 'ecommerce', requestedBy: by, ...extra }, { taskQueue }),
  async inUse({ cfg, store }) {
    const data = (await store.read(pipeline.adminSecret))?.data ?? {};
    const answer = await login(cfg, data.username ?? '', data.password ?? '');
    return {
      id: digest(data.password ?? ''),
      problems: answer === 'accepted' ? [] : [`a login with the secret's password: ${answer}`],
    };
  },
};

/** The sample application runs (started once, then rolled by the rotations). */
async function sampleAppRunning(cfg: StackConfig): Promise<void> {
  if (sampleAppStats(cfg).some((s) => s.running)) return;
  const db = await adminClient(cfg, pipeline.database);
  try {
    await ensureSampleAppDatabase(cfg, db);
  } finally {
    await db.end();
  }
  await startSampleApp(cfg);
}

export const postgresApp: Procedure = {
  name: 'postgresql-app',
  secrets: [sampleApp.secret],
  async start(client, taskQueue, extra) {
    await sampleAppRunning((await import('../../stack/config.js')).loadStackConfig());
    return credentialStarters['postgresql-app'](
      client,
      { target: 'orders', gracePeriod: 'PT3S', requestedBy: by, ...extra },
      { taskQueue },
    );
  },
  async inUse({ cfg, store }) {
    await sampleAppRunning(cfg);
    const data = (await store.read(sampleApp.secret))?.data ?? {};
    const user = data['db-username'] ?? null;
    const problems: string[] = [];
    const answer = await login(cfg, user ?? '', data['db-password'] ?? '');
    if (answer !== 'accepted') problems.push(`a login with the secret's credential: ${answer}`);
    const failed = sampleAppStats(cfg).reduce((n, s) => n + s.failed, 0);
    if (failed > 0) problems.push(`the sample application saw ${failed} failed queries`);
    return { id: user, problems };
  },
};
