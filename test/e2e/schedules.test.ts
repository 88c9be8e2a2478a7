import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { parse as parseYaml, stringify } from 'yaml';
import { pipeline, repoRoot } from '../../scripts/stack/config.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { waitArchived } from '../../scripts/lib/s3Archive.js';
import {
  applySchedules,
  listSchedules,
  pauseSchedule,
  triggerSchedule,
  unpauseSchedule,
} from '../../workers/schedules/client.js';
import { loadScheduleFile, SCHEDULE_ID_PREFIX } from '../../workers/schedules/file.js';
import type { ScheduledRunResult } from '../../workflows/schedules/workflow.js';
import { startTestWorker, type TestWorker } from '../helpers.js';
import { recordHistory, recordingOverrides } from './histories.js';
import { auditLines, cfg, pipelineState, stopLeftover } from './pipeline.js';

/**
 * The maintenance calendar as Temporal Schedules on the dev server: what the server computes
 * as next runs, idempotent apply and prune, pause with a note, and a triggered schedule
 * running a real rotation (and one whose window is too short ending without switching).
 */
const repoFile = path.join(repoRoot, 'schedules.yaml');
/** How many entries the repository's calendar has. */
const entries = (parseYaml(fs.readFileSync(repoFile, 'utf8')) as { schedules: unknown[] }).schedules.length;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rekey-schedules-'));
let w: TestWorker;
let running: WorkflowHandle | undefined;

const writeFile = (name: string, mutate: (doc: { schedules: Array<Record<string, unknown>> }) => void) => {
  const doc = parseYaml(fs.readFileSync(repoFile, 'utf8')) as { schedules: Array<Record<string, unknown>> };
  mutate(doc);
  const file = path.join(tmp, name);
  fs.writeFileSync(file, stringify(doc));
  return file;
};
const rekeyIds = async () => (await listSchedules(w.client)).map((r) => r.id);
const deleteAll = async () => {
  for (const id of await rekeyIds()) await w.client.schedule.getHandle(id).delete();
};

beforeAll(async () => {
  w = await startTestWorker(recordingOverrides);
  await deleteAll();
});
afterAll(async () => {
  await stopLeftover(running);
  await deleteAll().catch(() => undefined);
  await w?.stop();
});

/** Runs a schedule now and waits for what it started: the launcher's result and the rotation's handle. */
async function triggerAndWait(id: string): Promise<{ result: ScheduledRunResult; rotation: WorkflowHandle }> {
  const before = new Date();
  await triggerSchedule(w.client, id);
  const started = async () => {
    for await (const e of w.client.workflow.list({
      query: `WorkflowId STARTS_WITH "scheduled/${id}" AND StartTime >= "${before.toISOString()}"`,
    }))
      return e.workflowId;
    return undefined;
  };
  let launcherId: string | undefined;
  for (let i = 0; i < 60 && !launcherId; i++) {
    launcherId = await started();
    if (!launcherId) await new Promise((r) => setTimeout(r, 1000));
  }
  expect(launcherId, 'the schedule started its workflow').toBeDefined();
  const launcher = w.client.workflow.getHandle(launcherId!);
  const result = (await launcher.result()) as ScheduledRunResult;
  await recordHistory(launcher, `other-run-scheduled-${id}`);
  const { runId } = await w.client.workflow.getHandle(result.workflowId).describe();
  // auditLines finds a run's events by its first run id, which a handle got by id does not carry
  return {
    result,
    rotation: Object.assign(w.client.workflow.getHandle(result.workflowId, runId), { firstExecutionRunId: runId }),
  };
}

describe('maintenance calendar (Temporal Schedules)', () => {
  it('the server computes the first Sundays of the coming months at 02:00 UTC, and the AWS keys quarterly', async () => {
    const changes = await applySchedules(w.client, repoFile, { taskQueue: w.taskQueue });
    expect(changes.map((c) => c.change)).toEqual(Array(entries).fill('created'));
    // the list comes from the visibility store, which sees a new schedule a moment later
    const wanted = changes.map((c) => c.id);
    let listed = await listSchedules(w.client);
    for (let i = 0; i < 60 && !wanted.every((id) => listed.some((r) => r.id === id)); i++)
      listed = await new Promise((r) => setTimeout(r, 500)).then(() => listSchedules(w.client));
    const rows = Object.fromEntries(listed.map((r) => [r.id, r]));
    const cdc = rows[`${SCHEDULE_ID_PREFIX}postgresql-cdc-monthly`]!;
    expect(cdc.overlap).toBe('SKIP');
    expect(cdc.catchupWindowMs).toBe(3_600_000);
    const next = cdc.nextRuns.map((t) => new Date(t));
    expect(next.length).toBeGreaterThanOrEqual(3);
    next.forEach((t, i) => {
      expect(t.getUTCDay(), t.toISOString()).toBe(0); // Sunday
      expect(t.getUTCDate(), t.toISOString()).toBeLessThanOrEqual(7); // the first one of its month
      expect([t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds()]).toEqual([2, 0, 0]);
      if (i > 0)
        expect(
          t.getUTCFullYear() * 12 + t.getUTCMonth() - (next[i - 1]!.getUTCFullYear() * 12 + next[i - 1]!.getUTCMonth()),
        ).toBe(1);
    });
    expect(next[0]!.getTime()).toBeGreaterThan(Date.now());
    const aws = rows[`${SCHEDULE_ID_PREFIX}aws-keys-quarterly`]!.nextRuns.map((t) => new Date(t));
    for (const t of aws)
      expect([[0, 3, 6, 9].includes(t.getUTCMonth()), t.getUTCDay(), t.getUTCDate() <= 7, t.getUTCHours()]).toEqual([
        true,
        0,
        true,
        3,
      ]);
    // the SCRAM rotation restarts the whole Connect worker: after the CDC and registry windows of the same night
    for (const t of rows[`${SCHEDULE_ID_PREFIX}kafka-scram-monthly`]!.nextRuns.map((x) => new Date(x)))
      expect([t.getUTCDay(), t.getUTCDate() <= 7, t.getUTCHours(), t.getUTCMinutes()]).toEqual([0, true, 4, 0]);
    // the Connect REST rotation restarts it too: an hour after the SCRAM window opens, the same night
    for (const t of rows[`${SCHEDULE_ID_PREFIX}connect-rest-monthly`]!.nextRuns.map((x) => new Date(x)))
      expect([t.getUTCDay(), t.getUTCDate() <= 7, t.getUTCHours(), t.getUTCMinutes()]).toEqual([0, true, 5, 0]);
    for (const t of rows[`${SCHEDULE_ID_PREFIX}postgresql-admin-monthly`]!.nextRuns.map((x) => new Date(x)))
      expect([t.getUTCDay(), t.getUTCDate() <= 7, t.getUTCHours(), t.getUTCMinutes()]).toEqual([0, true, 5, 30]);
    const weekly = rows[`${SCHEDULE_ID_PREFIX}validation-weekly`]!.nextRuns.map((t) => new Date(t));
    weekly.forEach((t, i) => {
      expect([t.getUTCDay(), t.getUTCHours(), t.getUTCMinutes()]).toEqual([1, 6, 0]);
      if (i > 0) expect(t.getTime() - weekly[i - 1]!.getTime()).toBe(7 * 86_400_000);
    });
    const daily = rows[`${SCHEDULE_ID_PREFIX}certificate-renewal-daily`]!;
    expect(daily.procedure).toBe('certificate-renewal');
    daily.nextRuns
      .map((t) => new Date(t))
      .forEach((t, i, all) => {
        expect([t.getUTCHours(), t.getUTCMinutes()]).toEqual([5, 0]);
        if (i > 0) expect(t.getTime() - all[i - 1]!.getTime()).toBe(86_400_000);
      });
  });

  it('applying twice changes nothing; a changed entry is updated; --prune removes what the file no longer lists', async () => {
    const before = await Promise.all(
      (await rekeyIds()).map(async (id) => [
        id,
        (await w.client.schedule.getHandle(id).describe()).info.lastUpdatedAt?.getTime() ?? null,
      ]),
    );
    const again = await applySchedules(w.client, repoFile, { taskQueue: w.taskQueue });
    expect(again.map((c) => c.change)).toEqual(Array(entries).fill('unchanged'));
    const after = await Promise.all(
      (await rekeyIds()).map(async (id) => [
        id,
        (await w.client.schedule.getHandle(id).describe()).info.lastUpdatedAt?.getTime() ?? null,
      ]),
    );
    expect(after).toEqual(before);

    const moved = writeFile('moved.yaml', (d) => ((d.schedules[0]!.calendar as Record<string, unknown>).minute = 15));
    expect((await applySchedules(w.client, moved, { taskQueue: w.taskQueue })).map((c) => c.change)).toEqual([
      'updated',
      ...Array(entries - 1).fill('unchanged'),
    ]);
    const cdc = (await listSchedules(w.client)).find((r) => r.id.endsWith('postgresql-cdc-monthly'))!;
    expect(new Date(cdc.nextRuns[0]!).getUTCMinutes()).toBe(15);

    const onlyCdc = writeFile('only-cdc.yaml', (d) => d.schedules.splice(1));
    const pruned = await applySchedules(w.client, onlyCdc, { taskQueue: w.taskQueue, prune: true });
    expect(pruned).toEqual([
      { id: `${SCHEDULE_ID_PREFIX}postgresql-cdc-monthly`, change: 'updated' },
      { id: `${SCHEDULE_ID_PREFIX}aws-keys-quarterly`, change: 'deleted' },
      { id: `${SCHEDULE_ID_PREFIX}certificate-renewal-daily`, change: 'deleted' },
      { id: `${SCHEDULE_ID_PREFIX}connect-rest-monthly`, change: 'deleted' },
      { id: `${SCHEDULE_ID_PREFIX}kafka-scram-monthly`, change: 'deleted' },
      { id: `${SCHEDULE_ID_PREFIX}postgresql-admin-monthly`, change: 'deleted' },
      { id: `${SCHEDULE_ID_PREFIX}postgresql-app-orders-monthly`, change: 'deleted' },
      { id: `${SCHEDULE_ID_PREFIX}schema-registry-admin-monthly`, change: 'deleted' },
      { id: `${SCHEDULE_ID_PREFIX}schema-registry-monthly`, change: 'deleted' },
      { id: `${SCHEDULE_ID_PREFIX}schema-registry-probe-monthly`, change: 'deleted' },
      { id: `${SCHEDULE_ID_PREFIX}validation-weekly`, change: 'deleted' },
    ]);
    await vi.waitFor(async () => expect(await rekeyIds()).toEqual([`${SCHEDULE_ID_PREFIX}postgresql-cdc-monthly`]), {
      timeout: 15_000,
      interval: 500,
    });
  });

  it('pause keeps its note through an apply; unpause resumes', async () => {
    const id = `${SCHEDULE_ID_PREFIX}postgresql-cdc-monthly`;
    await pauseSchedule(w.client, id, 'change freeze until the Q4 audit');
    await applySchedules(w.client, repoFile, { taskQueue: w.taskQueue });
    let row = (await listSchedules(w.client)).find((r) => r.id === id)!;
    expect([row.paused, row.note]).toEqual([true, 'change freeze until the Q4 audit']);
    await unpauseSchedule(w.client, id, 'freeze over');
    row = (await listSchedules(w.client)).find((r) => r.id === id)!;
    expect(row.paused).toBe(false);
  });

  it('rejects a bad file before touching the server, naming the field', async () => {
    const cases: Array<[(d: { schedules: Array<Record<string, unknown>> }) => void, RegExp]> = [
      [(d) => (d.schedules[0]!.procedure = 'kafka-acls'), /schedules\.0\.procedure/],
      [(d) => ((d.schedules[1]!.calendar as Record<string, unknown>).hour = 25), /schedules\.1\.calendar\.hour/],
      [
        (d) => ((d.schedules[0]!.calendar as Record<string, unknown>).dayOfMonth = '7-1'),
        /schedules\.0\.calendar\.dayOfMonth/,
      ],
      [(d) => ((d.schedules[0]!.input as Record<string, unknown>).strategy = 'yolo'), /schedules\.0\.input\.strategy/],
      [(d) => (d.schedules[2]!.id = d.schedules[0]!.id), /duplicate schedule id/],
      // the runbook's window is 02:00–04:00 UTC: longer is refused
      [
        (d) => (d.schedules[0]!.maintenanceWindow = { length: 'PT3H' }),
        /schedules\.0\.maintenanceWindow\.length: must be a positive ISO-8601 duration \(at most 2 h\)/,
      ],
    ];
    const ids = await rekeyIds();
    for (const [mutate, message] of cases) {
      const file = writeFile('bad.yaml', mutate);
      expect(() => loadScheduleFile(file)).toThrow(message);
      await expect(applySchedules(w.client, file, { taskQueue: w.taskQueue, prune: true })).rejects.toThrow(message);
    }
    expect(await rekeyIds()).toEqual(ids);
    // the operator's CLI says the same and exits non-zero
    const bad = writeFile('bad-cli.yaml', (d) => (d.schedules[0]!.procedure = 'kafka-acls'));
    const cli = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'scripts/rekey.ts', 'schedules', 'apply', '--file', bad],
      { cwd: repoRoot },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/schedules\.0\.procedure/);
  });

  it('a triggered schedule runs a real rotation inside its maintenance window', async () => {
    const file = writeFile('e2e-run.yaml', (d) => {
      d.schedules.splice(1);
      Object.assign(d.schedules[0]!, {
        id: 'e2e-cdc',
        input: { ...(d.schedules[0]!.input as object), gracePeriod: 'PT1S', reason: 'e2e: triggered schedule' },
      });
    });
    await applySchedules(w.client, file, { taskQueue: w.taskQueue, prune: true });
    const startedAt = Date.now();
    const { result, rotation } = await triggerAndWait('e2e-cdc');
    running = rotation;
    expect(result).toMatchObject({
      schedule: 'e2e-cdc',
      procedure: 'postgresql-cdc',
      workflowId: 'rotate-postgresql-cdc/debezium-credentials',
      status: 'completed',
    });
    // the window is the trigger time + PT2H
    expect(Math.abs(Date.parse(result.switchBy!) - (startedAt + 7_200_000))).toBeLessThan(60_000);
    const state = await pipelineState();
    expect(result.detail).toBe(`${result.detail.split(' → ')[0]} → ${state.streamingUser}`);
    expect([state.hasPending, state.hasBackup]).toEqual([false, false]);
    running = undefined;
  });

  it('a rotation that cannot reach its switch before the window closes ends without switching, recorded in the audit', async () => {
    const file = writeFile('e2e-late.yaml', (d) => {
      d.schedules.splice(1);
      Object.assign(d.schedules[0]!, { id: 'e2e-late', maintenanceWindow: { length: 'PT5M', stagingBudget: 'PT10M' } });
    });
    await applySchedules(w.client, file, { taskQueue: w.taskQueue, prune: true });
    const before = await pipelineState();
    const { result, rotation } = await triggerAndWait('e2e-late');
    expect(result.status).toBe('outside-window');
    const after = await pipelineState();
    expect(after).toMatchObject({
      streamingUser: before.streamingUser,
      cdcRoles: before.cdcRoles,
      secretFingerprint: before.secretFingerprint,
      hasPending: false,
      hasBackup: false,
    });
    const audit = await auditLines(rotation, w.config.audit.path);
    expect(audit.at(-1)).toMatchObject({ step: 'maintenance-window', action: 'rotate_credentials', status: 'skipped' });
    const history = await rotation.fetchHistory();
    expect(
      history
        .events!.filter((e) => e.activityTaskScheduledEventAttributes)
        .map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name),
    ).not.toContain('stagePendingCredential');
  });

  it('the weekly validation schedule runs the checklist as a child and passes on a healthy stack', async () => {
    const file = writeFile('e2e-validate.yaml', (d) => {
      // the calendar's rotations go: the weekly validation is first
      d.schedules.splice(
        0,
        d.schedules.findIndex((x) => x.id === 'validation-weekly'),
      );
      d.schedules[0]!.id = 'e2e-validate';
    });
    await applySchedules(w.client, file, { taskQueue: w.taskQueue, prune: true });
    // "Files are being written to S3" needs one change event archived
    const db = await adminClient(cfg, pipeline.database);
    const email = `schedule-${randomBytes(4).toString('hex')}@example.com`;
    await db
      .query('INSERT INTO public.users (email, name) VALUES ($1, $2)', [email, 'scheduled validation'])
      .finally(() => db.end());
    expect((await waitArchived(cfg, [email], 'schedule-', 90_000)).lost).toBe(0);
    const { result } = await triggerAndWait('e2e-validate');
    expect(result).toMatchObject({ procedure: 'validation', status: 'passed' });
    expect(result.workflowId).toMatch(/^validate\/scheduled\/e2e-validate\//);
    const report = (await w.client.workflow.getHandle(result.workflowId).result()) as {
      ok: boolean;
      summary: { pass: number };
    };
    expect(report.ok).toBe(true);
    expect(report.summary.pass).toBeGreaterThan(20);
  });
});
