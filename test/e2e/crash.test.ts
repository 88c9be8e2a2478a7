import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, Connection, WorkflowHandle } from '@temporalio/client';
import { pipeline } from '../../scripts/stack/config.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { embeddedWorkerConfig } from '../../scripts/lib/session.js';
import { summarize, underLoad } from '../../scripts/lib/load.js';
import { createClient } from '../../workers/client.js';
import { startPostgresCdcRotation } from '../../workers/startRotation.js';
import { cleanupNowSignal, type RotationProgress } from '../../workflows/rotation/index.js';
import {
  cfg,
  okStepNames,
  onlyRoles,
  pipelineState,
  progressOf,
  resumeIfPaused,
  roleValidUntil,
  stopLeftover,
} from './pipeline.js';
import { WorkerProcess } from './workerProcess.js';
import { kafkaBootstrap } from '../../scripts/stack/kafka.js';

const { config } = embeddedWorkerConfig();
const taskQueue = `rekey-crash-${randomBytes(3).toString('hex')}`;
const worker = new WorkerProcess(taskQueue, path.join(cfg.logDir, `${taskQueue}.log`));
let client: Client;
let connection: Connection;
let running: WorkflowHandle | undefined;

beforeAll(async () => {
  ({ client, connection } = await createClient(config));
  worker.start();
});
afterAll(async () => {
  // a failed assertion must not leave a rotation holding the secret for the next test file
  await stopLeftover(running);
  await worker.kill();
  await resumeIfPaused();
  await connection?.close();
});

/** The step whose activity is cut off by a kill, and the activity it runs. */
// One long wait is enough to prove a lost activity is retried by the next worker and converges;
// each cut-off costs the 30 s heartbeat timeout. The other long waits (waitStreamingUser,
// awaitCanaryEvent, waitSlotPast) are the same kind of heartbeating wait, and every activity
// is killed in turn by the fault matrix's kill sweep (npm run bench:faults).
const longSteps: Record<string, string> = {
  'apply:restart-worker': 'restartConnectWorker',
};

/** Attempts of each activity type, from the history (an attempt > 1 means an attempt was lost or failed). */
async function attemptsByActivity(handle: WorkflowHandle): Promise<Record<string, number>> {
  const history = await handle.fetchHistory();
  const typeOf = new Map<string, string>();
  const attempts: Record<string, number> = {};
  for (const e of history.events ?? []) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) typeOf.set(String(e.eventId), scheduled.activityType?.name ?? '?');
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const type = typeOf.get(String(started.scheduledEventId)) ?? '?';
      attempts[type] = Math.max(attempts[type] ?? 0, started.attempt ?? 1);
    }
  }
  return attempts;
}

/** Where a run stands, for a failure message: its phase, its running or failed steps, what needs attention. */
const standing = (p: RotationProgress | undefined) =>
  p
    ? `phase ${p.phase}; steps ${
        p.steps
          .filter((s) => s.outcome !== 'ok')
          .map((s) => `${s.name}:${s.outcome}${s.detail ? ` (${s.detail})` : ''}`)
          .join(', ') || 'all ok'
      }; attention ${JSON.stringify(p.attention ?? null)}`
    : 'no progress (no worker answered the query)';

/** The run's result, or a failure naming where it stands after `timeoutMs` (a hang must not become the test's timeout). */
async function resultWithin<T>(handle: WorkflowHandle, result: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        void progressOf(handle).then((p) =>
          reject(new Error(`no result within ${timeoutMs / 1000} s: ${standing(p)}`)),
        ),
      timeoutMs,
    );
  });
  return Promise.race([result, late]).finally(() => clearTimeout(timer));
}

describe('a worker killed with SIGKILL while an activity runs', () => {
  // bounds: each wait below fails with where the run stands before the test's own timeout
  it(
    'converges: each step exactly once, new user streams, old role gone, store clean, 0 lost events under load',
    { timeout: 720_000 },
    async () => {
      const before = await pipelineState();
      // the plan of this rotation (restart-worker), from a dry run: what the crashed rotation must end up having done, once each
      const dry = await startPostgresCdcRotation(
        client,
        { target: 'ecommerce', strategy: 'restart-worker', dryRun: true, requestedBy: 'crash-test' },
        { taskQueue },
      );
      const planned = (await resultWithin(dry, dry.result(), 120_000))
        .plan!.map((s) => s.name)
        .filter((n) => n !== 'grace');
      expect(planned).toContain('apply:restart-worker');

      const killedDuring: Array<{ step: string; progress: RotationProgress }> = [];
      const db = await adminClient(cfg, pipeline.database);
      const { result, emails, deliveries } = await underLoad(
        { db, brokers: [kafkaBootstrap(cfg)], topic: pipeline.usersTopic, rate: 40 },
        async () => {
          const handle = await startPostgresCdcRotation(
            client,
            { target: 'ecommerce', strategy: 'restart-worker', gracePeriod: 'PT1H', requestedBy: 'crash-test' },
            { taskQueue },
          );
          running = handle;
          // poll the progress query; kill the worker the first time each long step is seen running
          const deadline = Date.now() + 420_000;
          let lastPhase: string | undefined;
          for (;;) {
            const p = await progressOf(handle);
            if (p && p.phase !== lastPhase) console.info(`[crash] ${new Date().toISOString()} ${standing(p)}`);
            lastPhase = p?.phase ?? lastPhase;
            if (p?.phase === 'grace') break;
            if (p && ['rolling-back', 'rolled-back', 'needs-attention'].includes(p.phase))
              throw new Error(`rotation left the forward path: ${standing(p)}`);
            if (Date.now() > deadline) throw new Error(`no grace within 420 s: ${standing(p)}`);
            const step = p?.steps.find(
              (s) => s.outcome === 'running' && s.name in longSteps && !killedDuring.some((k) => k.step === s.name),
            );
            if (p && step) {
              await worker.kill();
              killedDuring.push({ step: step.name, progress: p });
              worker.start();
            }
            await new Promise((r) => setTimeout(r, 100));
          }
          // and once more between steps, in grace: the timer and the pending rollback survive it
          await worker.kill();
          worker.start();
          await handle.signal(cleanupNowSignal, { by: 'crash-test' });
          return { handle, ...(await resultWithin(handle, handle.result(), 180_000)) };
        },
      ).finally(() => db.end());
      running = undefined;

      // the kills hit running activities: the Connect worker restart (long) was cut off and retried by the new worker
      expect(killedDuring.map((k) => k.step)).toContain('apply:restart-worker');
      const attempts = await attemptsByActivity(result.handle);
      expect(attempts.restartConnectWorker).toBeGreaterThanOrEqual(2);
      console.info(
        `killed during ${killedDuring.map((k) => `${k.step} (${longSteps[k.step]} attempts ${attempts[longSteps[k.step]!]})`).join(', ')}; worker started ${worker.starts} times`,
      );

      expect(result.status).toBe('completed');
      // exactly once: the names of the ok steps, duplicates kept, are the plan (a Set would hide a duplicated record)
      const ok = okStepNames(result.steps);
      expect(ok).toEqual(planned);
      expect(result.steps.filter((s) => s.outcome !== 'ok' && !s.name.startsWith('signal:'))).toEqual([]);
      // ... and that assertion does fail on a duplicated step record
      expect(() =>
        expect(okStepNames([...result.steps, { ...result.steps.find((s) => s.name === 'promote')! }])).toEqual(planned),
      ).toThrow();

      const events = summarize(emails, deliveries);
      expect(emails.length).toBeGreaterThan(50);
      expect(events.lost).toBe(0);
      const after = await pipelineState();
      expect(after.streamingUser).toBe(result.to);
      expect(after.secretUser).toBe(result.to);
      expect(after.cdcRoles).toEqual([...before.cdcRoles.filter((r) => r !== before.secretUser), result.to].sort());
      expect(await roleValidUntil(before.secretUser!)).toBeUndefined();
      expect(after.hasPending || after.hasBackup).toBe(false);
      expect(after.cdcRoles).toEqual(onlyRoles(result.to));
    },
  );
});
