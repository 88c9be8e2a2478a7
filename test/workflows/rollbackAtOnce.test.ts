import { emergencyOrder } from '../../contracts/procedures.js';
import { describe, expect, it } from 'vitest';
import {
  cleanupNowSignal,
  progressQuery,
  requestRollbackUpdate,
  type RotationResult,
} from '../../workflows/rotation/index.js';
import { emergencyRotateAll, type EmergencyResult } from '../../workflows/emergency/rotateAll.js';
import { expectClean, stubSuite, waitFor } from './harness.js';

/**
 * What acts at once, with stub activities: a rollback that stops the wait in flight, the
 * rollback Update's answer, the emergency taking over a rotation mid-flight, and the lease that
 * keeps two procedures off one connector. Its own file (own test server): the Java test server
 * keeps an activity whose workflow stopped waiting for it pending after the workflow closed,
 * which blocks time skipping for every later test of a file; the emergency test runs last.
 */
const suite = stubSuite();

const clean = expectClean;

describe('rollbacks and emergencies act at once; one procedure per connector', () => {
  it('two procedures never restart one connector at once: the second waits for the lease until the first verified its switch, then runs', async () => {
    const first = suite.w.newWorld();
    const release = first.gate('awaitCanaryEvent');
    const a = await suite.w.start(first, { gracePeriod: 'PT1H' });
    await waitFor(
      a,
      (p) => p.steps.some((s) => s.name === 'canary-read-back' && s.outcome === 'running'),
      'first at canary-read-back',
    );
    // held in the first world: scheduled is not enough, a queued call would run in the next world
    await first.reached('awaitCanaryEvent');
    const second = suite.w.newWorld(); // another secret, the same connector (a registry switch, a Connect certificate: same lease)
    const b = await suite.w.start(second, { gracePeriod: 'PT1H' });
    const waiting = await waitFor(
      b,
      (p) => p.steps.some((s) => s.name === 'lease' && s.outcome === 'skipped'),
      'second waiting for the lease',
    );
    expect(waiting.steps.find((s) => s.name === 'lease')!.detail).toMatch(
      /^waiting: another procedure holds lease\/connector\/postgres-cdc-users-connector/,
    );
    expect(waiting.steps.filter((s) => s.outcome === 'ok').map((s) => s.name)).toEqual(['preflight']); // nothing changed yet
    release();
    await waitFor(a, (p) => p.phase === 'grace', 'first in grace');
    const b2 = await waitFor(b, (p) => p.phase === 'grace', 'second in grace');
    // the second's first change came after the first's verification
    const firstVerified = Date.parse(
      (await a.query(progressQuery)).steps.find((s) => s.name === 'canary-read-back')!.endedAt!,
    );
    expect(Date.parse(b2.steps.find((s) => s.name === 'create-role')!.startedAt)).toBeGreaterThanOrEqual(firstVerified);
    expect(b2.steps.find((s) => s.name === 'lease' && s.outcome === 'ok')!.detail).toMatch(/acquired after \d+ s$/);
    for (const h of [a, b]) await h.signal(cleanupNowSignal, {});
    expect(((await a.result()) as RotationResult).status).toBe('completed');
    expect(((await b.result()) as RotationResult).status).toBe('completed');
  });

  it('the rollback Update is refused at once, with the reason, once cleanup has started (and a malformed one before that)', async () => {
    const world = suite.w.newWorld();
    const release = world.gate('retireRole');
    const handle = await suite.w.start(world, { gracePeriod: 'PT1H' });
    await waitFor(handle, (p) => p.phase === 'grace', 'grace');
    const refusal = (args: unknown) =>
      handle.executeUpdate(requestRollbackUpdate, { args: [args as never] }).then(
        () => 'accepted',
        (e: Error & { cause?: Error }) => e.cause?.message ?? e.message,
      );
    try {
      expect(await refusal({ reason: '' })).toMatch(/^malformed rollback request: reason/);
      await handle.signal(cleanupNowSignal, {});
      await waitFor(handle, (p) => p.phase === 'cleanup', 'cleanup');
      expect(await refusal({ reason: 'too late', by: 'test' })).toMatch(/^rollback refused: cleanup has started/);
    } finally {
      release();
    }
    expect(((await handle.result()) as RotationResult).status).toBe('completed');
  });

  it('a rollback stops the wait in flight at once (the canary read-back held for good): the Update answers accepted, naming it; the rotation rolls back while the wait is still held', async () => {
    const world = suite.w.newWorld();
    const release = world.gate('awaitCanaryEvent');
    const handle = await suite.w.start(world);
    await waitFor(
      handle,
      (p) => p.steps.some((s) => s.name === 'canary-read-back' && s.outcome === 'running'),
      'canary-read-back running',
    );
    await world.reached('awaitCanaryEvent');
    const answer = await handle
      .executeUpdate(requestRollbackUpdate, { args: [{ reason: 'consumers see errors', by: 'test' }] })
      .catch((e: unknown) => (release(), Promise.reject(e)));
    // the gate is still closed: only a rollback that does not wait for the step can end the run
    const ended = await Promise.race([
      handle.result().then((r) => r as RotationResult),
      new Promise<'still waiting'>((r) => setTimeout(() => r('still waiting'), 90_000)),
    ]).finally(release);
    expect(answer).toMatchObject({ accepted: true, phase: 'verifying', interrupts: 'canary-read-back' });
    expect(answer.willUndo).toEqual(expect.arrayContaining(['canary-write', 'promote', 'create-role']));
    expect(ended).not.toBe('still waiting');
    expect((ended as RotationResult).status).toBe('rolled-back');
    expect((ended as RotationResult).steps.find((s) => s.name === 'canary-read-back')).toMatchObject({
      outcome: 'skipped',
      detail: 'stopped by the rollback: consumers see errors (by test)',
    });
    clean(world, world.oldUser);
  });

  it('emergency rotate-all takes over a rotation caught mid-wait: it rolls back at once, then the credential is rotated in compromise mode; the report says so', async () => {
    const world = suite.w.newWorld();
    const release = world.gate('awaitCanaryEvent');
    const first = await suite.w.start(world);
    await waitFor(
      first,
      (p) => p.steps.some((s) => s.name === 'canary-read-back' && s.outcome === 'running'),
      'canary-read-back running',
    );
    await world.reached('awaitCanaryEvent');
    const firstTo = (await first.query(progressQuery)).to;
    const emergency = await suite.env.client.workflow.start(emergencyRotateAll, {
      taskQueue: suite.w.taskQueue,
      workflowId: `emergency-rotate-all/${world.secret}`,
      args: [
        {
          reason: 'leaked in a public paste',
          requestedBy: 'test',
          target: 'stub',
          // this world has the CDC procedure's activities only
          skip: emergencyOrder.filter((p) => p !== 'postgresql-cdc'),
          inputs: { 'postgresql-cdc': { secret: world.secret } },
          waitForRunningSeconds: 60,
        },
      ],
    });
    // the held read-back never returns: only a rotation that rolls back at once frees the credential
    const firstEnded = await Promise.race([
      first.result().then(
        (r) => (r as RotationResult).status,
        () => 'failed',
      ),
      new Promise<string>((r) => setTimeout(() => r('still running'), 90_000)),
    ]).finally(release);
    expect(firstEnded).toBe('rolled-back');
    const report = (await emergency.result()) as EmergencyResult;
    const cdc = report.rotations.find((r) => r.procedure === 'postgresql-cdc')!;
    expect(cdc).toMatchObject({
      status: 'completed',
      preempted: expect.stringMatching(
        /told the credential is compromised .*; it ended, and this rotation ran after it$/,
      ),
    });
    // the compromised user is gone; the first run's new user was dropped by its rollback (a run in the same
    // minute may reuse the name for a new role: names are per minute, passwords per run)
    expect(cdc.from).toBe(world.oldUser);
    expect(firstTo).not.toBe(world.oldUser);
    expect(world.state()).toMatchObject({ current: cdc.to, streaming: cdc.to, roles: [cdc.to] });
  });
});
