import { describe, expect, it } from 'vitest';
import type { RotationResult } from '../../workflows/rotation/index.js';
import { alignToWindow, windowRefusal } from '../../contracts/window.js';
import { runScheduled, type ScheduledRunResult } from '../../workflows/schedules/workflow.js';
import { failureOf, stubSuite, waitFor } from './harness.js';

const suite = stubSuite();

const at = (ms: number) => new Date(ms).toISOString();

describe('maintenance window (the kit, any procedure)', () => {
  it('refuses staging when less than its budget is left, and the switch after the deadline', () => {
    const t = Date.parse('2026-12-06T02:00:00Z');
    const window = { switchBy: '2026-12-06T04:00:00Z', stagingBudget: 'PT10M' };
    expect(windowRefusal(window, 'staging', t)).toBeNull();
    expect(windowRefusal(window, 'staging', Date.parse('2026-12-06T03:49:59Z'))).toBeNull();
    expect(windowRefusal(window, 'staging', Date.parse('2026-12-06T03:50:01Z'))).toMatch(
      /staging would start .* 9m59s left .* nothing was changed/,
    );
    expect(windowRefusal(window, 'switching', Date.parse('2026-12-06T03:59:59Z'))).toBeNull();
    expect(windowRefusal(window, 'switching', Date.parse('2026-12-06T04:00:00Z'))).toMatch(/after its deadline/);
  });

  it('a run within its window completes as usual', async () => {
    const world = suite.w.newWorld();
    const now = await suite.env.currentTimeMs();
    const result = (await (
      await suite.w.start(world, { gracePeriod: 'PT1H', maintenanceWindow: { switchBy: at(now + 3_600_000) } })
    ).result()) as RotationResult;
    expect(result.status).toBe('completed');
  });

  it('the window closes while staging runs: the switch is not started, staging is undone, the audit says skipped', async () => {
    const world = suite.w.newWorld();
    const release = world.gate('testTableAccess');
    const now = await suite.env.currentTimeMs();
    // the held activity heartbeats within 30 s, so the window is seconds long here
    const handle = await suite.w.start(world, {
      maintenanceWindow: { switchBy: at(now + 15_000), stagingBudget: 'PT1S' },
    });
    await waitFor(
      handle,
      (p) => p.phase === 'staging' && p.steps.some((s) => s.name === 'table-access' && s.outcome === 'running'),
      'table-access running',
    );
    await world.reached('testTableAccess');
    await suite.env.sleep('20 seconds');
    release();
    const result = (await handle.result()) as RotationResult;
    expect(result.status).toBe('outside-window');
    expect(world.state()).toMatchObject({
      current: world.oldUser,
      pending: false,
      backup: false,
      streaming: world.oldUser,
      roles: [world.oldUser],
    });
    expect(result.steps.map((s) => s.name)).not.toContain('promote');
    expect(world.audit.at(-1)).toMatchObject({ step: 'maintenance-window', status: 'skipped' });
  });

  it('a grace period that must end inside the daily window: kept when it ends inside one, else moved to the next opening', () => {
    const window = { opensAt: '2026-12-06T02:30:00Z', switchBy: '2026-12-06T04:00:00Z' };
    const iso = (ms: number) => new Date(ms).toISOString();
    expect(iso(alignToWindow(Date.parse('2026-12-07T02:40:00Z'), window))).toBe('2026-12-07T02:40:00.000Z');
    expect(iso(alignToWindow(Date.parse('2026-12-07T04:00:00Z'), window))).toBe('2026-12-07T04:00:00.000Z');
    expect(iso(alignToWindow(Date.parse('2026-12-07T14:00:00Z'), window))).toBe('2026-12-08T02:30:00.000Z');
    expect(iso(alignToWindow(Date.parse('2026-12-07T01:00:00Z'), window))).toBe('2026-12-07T02:30:00.000Z');
    expect(alignToWindow(123, { switchBy: '2026-12-06T04:00:00Z' })).toBe(123); // no opening: no window to align to
  });

  it("a scheduled rotation without a window gets the runbook's (2 h from its time); one longer than 2 h is refused, naming the field", async () => {
    const world = suite.w.newWorld();
    const run = (maintenanceWindow?: { length: string }) =>
      suite.env.client.workflow.start(runScheduled, {
        taskQueue: suite.w.taskQueue,
        workflowId: `scheduled-test/${world.secret}/${maintenanceWindow?.length ?? 'default'}`,
        args: [
          {
            schedule: 'test',
            procedure: 'postgresql-cdc',
            input: { target: 'stub', secret: world.secret, gracePeriod: 'PT1H', requestedBy: 'test' },
            ...(maintenanceWindow ? { maintenanceWindow } : {}),
          },
        ],
      });
    const result = (await (await run()).result()) as ScheduledRunResult;
    expect(result.status).toBe('completed');
    expect(Date.parse(result.switchBy!) - Date.parse(result.scheduledAt)).toBe(2 * 3_600_000);
    const refused = await failureOf(await run({ length: 'PT3H' }));
    expect(refused).toMatchObject({
      type: 'InvalidInput',
      message: expect.stringMatching(/maintenanceWindow\.length: must be at most PT2H/),
    });
  });
});
