import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { pipeline } from '../../scripts/stack/config.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { summarize, underLoad } from '../../scripts/lib/load.js';
import { verifyAuditChain } from '../../activities/audit.js';
import { RotationInProgressError, startPostgresCdcRotation } from '../../workers/startRotation.js';
import type { PostgresCdcRotationInput } from '../../contracts/input/postgresCdc.js';
import { rotatePostgresCdcCredentials } from '../../workflows/postgresCdc/workflow.js';
import {
  extendGraceSignal,
  progressQuery,
  rollbackSignal,
  rotationWorkflowId,
  type RotationResult,
} from '../../workflows/rotation/index.js';
import { startTestWorker, type TestWorker } from '../helpers.js';
import { recordHistory, recording } from './histories.js';
import {
  auditLines,
  cfg,
  failureOf,
  okStepNames,
  onlyRoles,
  pipelineState,
  roleValidUntil,
  sessionAs,
  sessionsOf,
  stopLeftover,
  waitPhase,
  waitProgress,
  waitStreaming,
} from './pipeline.js';
import { kafkaBootstrap } from '../../scripts/stack/kafka.js';

let w: TestWorker;
beforeAll(async () => {
  // recorded histories are replayed in CI without the codec key: record them unencrypted
  w = await startTestWorker(recording ? { codec: { keyId: 'none', insecureNoEncryption: true } } : {});
});
/** A rotation a failed assertion left running would hold the secret's workflow id for every later test. */
let running: WorkflowHandle | undefined;
afterEach(async () => {
  await stopLeftover(running);
  running = undefined;
});
afterAll(async () => {
  await w?.stop();
});

const canonicalId = rotationWorkflowId('postgresql-cdc', pipeline.cdcSecret);

async function start(input: Partial<PostgresCdcRotationInput>) {
  const handle = await startPostgresCdcRotation(
    w.client,
    { requestedBy: 'e2e', ...input, target: input.target ?? 'ecommerce' },
    { taskQueue: w.taskQueue, now: new Date() },
  );
  if (!input.dryRun) running = handle;
  return handle;
}

async function finished(handle: WorkflowHandle<typeof rotatePostgresCdcCredentials>): Promise<RotationResult> {
  const result = await handle.result();
  running = undefined;
  return result;
}

/** The rotation ends in a failure: returns its type and message. */
async function failed(handle: WorkflowHandle) {
  const cause = await failureOf(handle);
  running = undefined;
  return cause;
}

const names = (xs: Array<{ name: string }>) => xs.map((x) => x.name);

describe('PostgreSQL CDC rotation on the real stack', () => {
  it('rotates under insert load with zero lost events, then drops the old user', async () => {
    const before = await pipelineState();
    expect(before.streamingUser).toBe(before.secretUser);
    const db = await adminClient(cfg, pipeline.database);
    const { result, emails, deliveries } = await underLoad(
      { db, brokers: [kafkaBootstrap(cfg)], topic: pipeline.usersTopic, rate: 40 },
      async () => {
        const h = await start({ gracePeriod: 'PT1S', reason: 'e2e under load' });
        return { handle: h, ...(await finished(h)) };
      },
    ).finally(() => db.end());
    const handle = result.handle;
    const events = summarize(emails, deliveries);

    expect(result.status).toBe('completed');
    expect(result.from).toBe(before.secretUser);
    expect(emails.length).toBeGreaterThan(50);
    expect(events.lost).toBe(0);
    const after = await pipelineState();
    expect(after.secretUser).toBe(result.to);
    expect(after.streamingUser).toBe(result.to);
    expect(after.cdcRoles).toEqual(onlyRoles(result.to));
    expect(after.hasPending || after.hasBackup).toBe(false);
    expect(result.leftByHand).toEqual([]);
    expect(result.auditGaps).toBe(0);
    const audit = await auditLines(handle, w.config.audit.path);
    expect(audit.at(-1)).toMatchObject({ action: 'rotate_credentials', status: 'success' });
    expect(await verifyAuditChain(w.config.audit.path)).toMatchObject({ ok: true });
    await recordHistory(handle, 'v7-kit-completed-reload-connector');
  });

  it('dry run: plans every step with what it does and how it is undone, changes nothing, and is what the rotation then runs', async () => {
    const before = await pipelineState();
    const dry = await start({ dryRun: true, reason: 'plan review' });
    expect(dry.workflowId.startsWith(`${canonicalId}/dry-run/`)).toBe(true);
    const result = await dry.result();
    expect(result.status).toBe('dry-run');
    expect(result.from).toBe(before.secretUser);
    const plan = result.plan!;
    expect(names(plan)).toEqual([
      'preflight',
      'stage',
      'create-role',
      'privilege-parity',
      'table-access',
      'replication-login',
      'backup',
      'expire-old-role',
      'promote',
      'apply:reload-connector',
      'running',
      'streaming-user',
      'canary-write',
      'slot-advanced',
      'canary-read-back',
      'grace',
      'retire-old-user',
      'remove-versions',
      'access-validation',
    ]);
    for (const s of plan) expect(s.does.length, s.name).toBeGreaterThan(10);
    // every step that changes something names its compensation
    expect(plan.filter((s) => s.undo).map((s) => s.name)).toEqual([
      'stage',
      'create-role',
      'backup',
      'expire-old-role',
      'promote',
      'canary-write',
    ]);
    expect(plan.find((s) => s.name === 'create-role')!.does).toContain(`CREATE ROLE "${result.to}"`);
    expect(plan.find((s) => s.name === 'promote')!.undo).toContain(
      `wait until ${result.from} streams ${pipeline.slot}`,
    );
    // nothing changed: roles, secrets, who streams, the old role's validity
    expect(await pipelineState()).toEqual(before);
    expect(await roleValidUntil(before.secretUser!)).toBe('never');
    expect(result.steps.map((s) => `${s.name}:${s.outcome}`)).toEqual(['preflight:ok']);

    const real = await start({ gracePeriod: 'PT1S', reason: 'after the plan review' });
    const done = await finished(real);
    expect(done.status).toBe('completed');
    // the plan cannot drift: the rotation ran exactly the planned steps, in order, each once (grace is a timer, not a step)
    expect(okStepNames(done.steps)).toEqual(names(plan).filter((n) => n !== 'grace'));
    expect(done.steps.every((s) => s.outcome === 'ok')).toBe(true);
    // the final verification: the checklist lines of postgresql and kafka-connect pass after the rotation
    expect(done.validation).toEqual({ ok: true, failed: [] });
  });

  // the deepest real rollback (Connect reloaded back, Debezium streams as the old user again); the
  // rollback after each earlier step is proven by the stub-world workflow test (postgresCdc.test.ts)
  const drills = ['canary-read-back'] as const;
  for (const step of drills) {
    it(`rolls back automatically when a drill fails the rotation after "${step}", and the old user streams again`, async () => {
      const before = await pipelineState();
      const handle = await start({ gracePeriod: 'PT1H', injectFailure: step });
      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      running = undefined;
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect(((err as WorkflowFailedError).cause as { type?: string }).type).toBe('RotationRolledBack');
      expect((err as WorkflowFailedError).cause?.message).toContain(`failure injected after step ${step}`);
      const after = await waitStreaming(before.secretUser!);
      expect(after).toEqual(before); // same streaming user, secret, roles; no -pending or -backup left
      expect(await roleValidUntil(before.secretUser!)).toBe('never'); // the expiry set at the switch was undone
      const p = await handle.query(progressQuery);
      expect(p.phase).toBe('rolled-back');
      expect(p.steps.find((s) => s.name === step)?.outcome).toBe('ok');
      const audit = await auditLines(handle, w.config.audit.path);
      expect(audit.at(-1)).toMatchObject({ status: 'rolled_back' });
    });
  }

  it('rolls back when the new role does not match the old one (privilege parity, a real failure while staging)', async () => {
    const before = await pipelineState();
    // pg_monitor exists in every cluster: the new user becomes its member instead of debezium_parent
    const handle = await start({ gracePeriod: 'PT1H', parentRole: 'pg_monitor' });
    const cause = await failed(handle);
    expect(cause?.type).toBe('RotationRolledBack');
    expect(cause?.message).toMatch(/privilege parity .* member of \[debezium_parent\] vs \[pg_monitor\]/);
    expect(await pipelineState()).toEqual(before);
  });

  it('in grace: the old role expires at grace end + 1 h, a second start is refused, extendGrace moves both deadlines, and a rollback signal restores the old user', async () => {
    const before = await pipelineState();
    const handle = await start({ gracePeriod: 'PT1H' });
    const grace = await waitPhase(handle, 'grace');
    expect(grace.rollbackWouldUndo.map((u) => u.step)).toEqual([
      'canary-write',
      'promote',
      'expire-old-role',
      'backup',
      'create-role',
      'stage',
    ]);
    expect((await pipelineState()).streamingUser).toBe(grace.to);
    // VALID UNTIL is computed at the switch (expire-old-role) from the grace period; the grace timer starts after verification
    const validUntil = (await roleValidUntil(grace.from!)) as Date;
    expect(validUntil).toBeInstanceOf(Date);
    const expected = Date.parse(grace.graceEndsAt!) + 3_600_000;
    const expireStep = grace.steps.find((s) => s.name === 'expire-old-role')!;
    const verifiedIn =
      Date.parse(grace.steps.find((s) => s.name === 'canary-read-back')!.endedAt!) - Date.parse(expireStep.startedAt);
    console.info(
      `VALID UNTIL ${validUntil.toISOString()}: grace end + 1 h minus ${expected - validUntil.getTime()} ms (verification took ${verifiedIn} ms)`,
    );
    expect(validUntil.getTime()).toBeLessThanOrEqual(expected);
    expect(expected - validUntil.getTime()).toBeLessThan(verifiedIn + 5_000);
    expect(Math.abs(validUntil.getTime() - (Date.parse(expireStep.startedAt) + 2 * 3_600_000))).toBeLessThan(5_000);

    // one rotation per secret: refused by the start function whatever the target label, and by the server for any client
    const during = await pipelineState();
    await expect(start({ gracePeriod: 'PT1H' })).rejects.toBeInstanceOf(RotationInProgressError);
    await expect(start({ gracePeriod: 'PT1H', target: 'another-label' })).rejects.toBeInstanceOf(
      RotationInProgressError,
    );
    await expect(
      w.client.workflow.start(rotatePostgresCdcCredentials, {
        taskQueue: w.taskQueue,
        workflowId: canonicalId,
        args: [{ target: 'another-label', gracePeriod: 'PT1H' }],
      }),
    ).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
    expect(await pipelineState()).toEqual(during); // the refused starts changed nothing

    // extendGrace moves the grace deadline and the old role's expiry with it
    await handle.signal(extendGraceSignal, { duration: 'PT2H', by: 'e2e' });
    const extended = await waitProgress(
      handle,
      (p) => p.steps.some((s) => s.name === 'extend-grace' && s.outcome === 'ok'),
      'extend-grace',
    );
    expect(Date.parse(extended.graceEndsAt!) - Date.parse(grace.graceEndsAt!)).toBe(2 * 3600_000);
    expect(((await roleValidUntil(grace.from!)) as Date).getTime()).toBe(Date.parse(extended.graceEndsAt!) + 3_600_000);

    await handle.signal(rollbackSignal, { reason: 'connector errors downstream', by: 'e2e' });
    const result = await finished(handle);
    expect(result.status).toBe('rolled-back');
    const after = await waitStreaming(before.secretUser!);
    expect(after).toEqual(before);
    expect(await roleValidUntil(before.secretUser!)).toBe('never');
    await recordHistory(handle, 'v7-kit-rolled-back-by-signal');
  });

  it('--compromise: no grace, the old role is gone right after the switch and its open session is terminated', async () => {
    const before = await pipelineState();
    const session = await sessionAs(pipeline.cdcSecret); // the leaked credential, in use
    const handle = await start({ compromise: true, reason: 'password leaked in a CI log' });
    const result = await finished(handle);
    expect(result.status).toBe('completed');
    const ran = result.steps.map((s) => `${s.name}:${s.outcome}`);
    expect(ran.slice(ran.indexOf('canary-read-back:ok'))).toEqual([
      'canary-read-back:ok',
      'grace:skipped',
      'retire-old-user:ok',
      'remove-versions:ok',
      'access-validation:ok',
    ]);
    const verified = Date.parse(result.steps.find((s) => s.name === 'canary-read-back')!.endedAt!);
    const retire = result.steps.find((s) => s.name === 'retire-old-user')!;
    expect(Date.parse(retire.startedAt) - verified).toBeLessThan(2_000);
    expect(retire.detail).toMatch(/session\(s\) terminated$/);
    expect(await sessionsOf(before.secretUser!)).toEqual([]);
    expect(await roleValidUntil(before.secretUser!)).toBeUndefined();
    await expect(session.client.query('SELECT 1')).rejects.toThrow();
    await session.client.end().catch(() => undefined);
    const after = await pipelineState();
    expect(after).toMatchObject({
      streamingUser: result.to,
      secretUser: result.to,
      cdcRoles: onlyRoles(result.to),
      hasPending: false,
      hasBackup: false,
    });
  });
});
