import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { Client, Connection } from '@temporalio/client';
import { FileSecretStore } from '../../activities/secrets/fileStore.js';
import { createClient } from '../../workers/client.js';
import { embeddedWorkerConfig } from '../../scripts/lib/session.js';
import { productionWorkerEnv, rotateFleet } from '../../scripts/lib/fleetRun.js';
import { ensureFleet, removeFleet, fleetTargets } from '../../scripts/stack/fleet.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { pipeline, repoRoot } from '../../scripts/stack/config.js';
import { kafkaBootstrap } from '../../scripts/stack/kafka.js';

/**
 * The first Sunday in miniature (bench:fleet runs 10/25/50): three pipelines — own schema,
 * slot, connector and Secret each — rotated at once by two production-built worker
 * processes while rows flow into all three.
 */
const { stack, config } = embeddedWorkerConfig();
const targets = fleetTargets(3);
let client: Client;
let connection: Connection;
let db: pg.Client;
const files = new FileSecretStore(stack.secretsDir);

beforeAll(async () => {
  execFileSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts/build-worker.ts')], {
    cwd: repoRoot,
    stdio: 'pipe',
  });
  await ensureFleet(stack, targets.length);
  ({ client, connection } = await createClient(config));
  db = await adminClient(stack, pipeline.database);
}, 600_000);

afterAll(async () => {
  await db?.end();
  await connection?.close();
  await removeFleet(stack, targets);
}, 180_000);

describe('a fleet of pipelines rotated at once', () => {
  it('two workers share three concurrent rotations: every target switched, one login role each, 0 events lost', async () => {
    const before = new Map<string, string>();
    for (const t of targets) before.set(t.name, (await files.read(t.secret))!.data['db-username']!);
    const run = await rotateFleet({
      client,
      db,
      stack,
      brokers: [kafkaBootstrap(stack)],
      targets,
      workers: 2,
      rate: 9,
      gracePeriod: 'PT1S',
      workerEnv: productionWorkerEnv(stack, config),
      log: () => undefined,
    });

    expect(run.notCompleted).toEqual([]);
    expect(run.completed).toBe(3);
    // each target ends with exactly the user its Secret names: no double creation, no leftover
    expect(run.targetsWithOneLoginRole).toBe(3);
    for (const t of run.events.perTarget) {
      expect(t.inserted, t.target).toBeGreaterThan(20);
      expect(t.lost, t.target).toBe(0);
    }
    // both processes took activity tasks
    expect(Object.keys(run.temporal.activityAttemptsByWorker)).toHaveLength(2);
    expect(run.worker.every((w) => w.peakRssMb > 0)).toBe(true);
    // every Secret names a new user, and the old one is gone from PostgreSQL
    for (const t of targets) {
      const now = (await files.read(t.secret))!.data['db-username']!;
      expect(now, t.name).not.toBe(before.get(t.name));
      const old = await db.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [before.get(t.name)]);
      expect(old.rowCount, `${t.name}: old user dropped`).toBe(0);
    }
  }, 420_000);
});
