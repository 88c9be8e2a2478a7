import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import pg from 'pg';
import { pipeline } from '../../scripts/stack/config.js';
import { adminClient } from '../../scripts/stack/postgres.js';
import { summarize, underLoad } from '../../scripts/lib/load.js';
import { verifyAuditChain } from '../../activities/audit.js';
import { RotationInProgressError, startPostgresCdcRotation } from '../../workers/startRotation.js';
import { rotatePostgresCdcCredentials } from '../../workflows/rotatePostgresCdc.js';
import { startTestWorker, type TestWorker } from '../helpers.js';
import { auditLines, cfg, pipelineState, store, waitPhase, waitStreaming } from './pipeline.js';
import { recordHistory } from './histories.js';

let w: TestWorker;
beforeAll(async () => {
  // recorded histories are replayed in CI without the codec key: record them unencrypted
  w = await startTestWorker(process.env.REKEY_RECORD_HISTORIES === '1' ? { codec: { keyId: 'none', insecureNoEncryption: true } } : {});
});
afterAll(async () => {
  await w?.stop();
});

const start = (input: Partial<Parameters<typeof startPostgresCdcRotation>[1]>) =>
  startPostgresCdcRotation(w.client, { requestedBy: 'e2e', ...input, target: 'ecommerce' }, { taskQueue: w.taskQueue, now: new Date() });

describe('PostgreSQL CDC rotation on the real stack', () => {
  it('rotates under insert load with zero lost events, then drops the old user', async () => {
    const before = await pipelineState();
    expect(before.streamingUser).toBe(before.secretUser);
    const db = await adminClient(cfg, pipeline.database);
    const { result, emails, deliveries } = await underLoad({ db, brokers: w.config.kafka.brokers, topic: pipeline.usersTopic, rate: 40 }, async () => {
      const h = await start({ gracePeriod: 'PT3S', reason: 'e2e under load' });
      return { handle: h, ...(await h.result()) };
    }).finally(() => db.end());
    const handle = result.handle;
    const events = summarize(emails, deliveries);

    expect(result.status).toBe('completed');
    expect(emails.length).toBeGreaterThan(50);
    expect(events.lost).toBe(0);
    const after = await pipelineState();
    expect(after.secretUser).toBe(result.newUser);
    expect(after.streamingUser).toBe(result.newUser);
    expect(after.cdcRoles).not.toContain(before.secretUser);
    expect(after.cdcRoles).toContain(result.newUser);
    expect(after.hasPending || after.hasBackup).toBe(false);
    const audit = await auditLines(handle.workflowId, w.config.audit.path);
    expect(audit.at(-1)).toMatchObject({ action: 'rotate_credentials', status: 'success' });
    expect(await verifyAuditChain(w.config.audit.path)).toMatchObject({ ok: true });
    await recordHistory(handle, 'completed-reload-connector');
  });

  for (const step of ['switch', 'verify'] as const) {
    it(`rolls back automatically when step "${step}" fails, and the old user streams again`, async () => {
      const before = await pipelineState();
      const handle = await start({ gracePeriod: 'PT1H', injectFailure: step });
      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect(((err as WorkflowFailedError).cause as { type?: string }).type).toBe('RotationRolledBack');
      const after = await waitStreaming(before.secretUser!);
      expect(after.streamingUser).toBe(before.secretUser);
      expect(after.secretFingerprint).toBe(before.secretFingerprint);
      expect(after.cdcRoles).toEqual(before.cdcRoles);
      expect(after.hasPending).toBe(false);
      const audit = await auditLines(handle.workflowId, w.config.audit.path);
      expect(audit.at(-1)).toMatchObject({ status: 'rolled_back' });
      if (step === 'switch') await recordHistory(handle, 'rolled-back-after-switch');
    });
  }

  it('rolls back when the new role does not match the old one (privilege parity, a real failure in step 3)', async () => {
    const before = await pipelineState();
    // pg_monitor exists in every cluster: the new user becomes its member instead of debezium_parent
    const handle = await start({ gracePeriod: 'PT1H', parentRole: 'pg_monitor' });
    const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err.cause?.message).toMatch(/privilege parity .* member of \[debezium_parent\] vs \[pg_monitor\]/);
    const after = await pipelineState();
    expect(after.cdcRoles).toEqual(before.cdcRoles);
    expect(after.streamingUser).toBe(before.secretUser);
  });

  it('rolls back on an operator signal during the grace period', async () => {
    const before = await pipelineState();
    const handle = await start({ gracePeriod: 'PT1H' });
    const grace = await waitPhase(handle, 'grace');
    expect(grace.rollbackWouldUndo.map((u) => u.step)).toEqual(['switch', 'backup', 'create-role', 'stage']);
    expect((await pipelineState()).streamingUser).toBe(grace.newUser);
    await handle.signal('rollback', { reason: 'connector errors downstream', by: 'e2e' });
    const result = await handle.result();
    expect(result.status).toBe('rolled-back');
    const after = await waitStreaming(before.secretUser!);
    expect(after).toMatchObject({ streamingUser: before.secretUser, secretFingerprint: before.secretFingerprint, hasBackup: false, hasPending: false });
    expect(after.cdcRoles).not.toContain(grace.newUser);
    await recordHistory(handle, 'rolled-back-by-signal');
  });

  it('extendGrace moves the deadline and cleanupNow ends the wait early', async () => {
    const handle = await start({ gracePeriod: 'PT1H' });
    const grace = await waitPhase(handle, 'grace');
    await handle.signal('extendGrace', { duration: 'PT2H', by: 'e2e' });
    let extended = grace;
    for (let i = 0; i < 20 && extended.graceEndsAt === grace.graceEndsAt; i++) extended = await handle.query('progress');
    expect(Date.parse(extended.graceEndsAt!) - Date.parse(grace.graceEndsAt!)).toBe(2 * 3600_000);
    await handle.signal('cleanupNow', { by: 'e2e' });
    const result = await handle.result();
    expect(result.status).toBe('completed');
    expect((await pipelineState()).cdcRoles).not.toContain(grace.oldUser);
    await recordHistory(handle, 'completed-after-signals');
  });

  it('refuses to drop the old user while it holds a session, and finishes once it is gone', async () => {
    const handle = await start({ gracePeriod: 'PT1H' });
    const grace = await waitPhase(handle, 'grace');
    // connect as the old user, with the password kept in the backup version
    const old = (await store.read(`${pipeline.cdcSecret}-backup`))!;
    const session = new pg.Client({ host: '127.0.0.1', port: cfg.ports.postgres, database: pipeline.database, user: old.data['db-username'], password: old.data['db-password'] });
    await session.connect();
    await handle.signal('cleanupNow', {});
    await waitPhase(handle, 'cleanup');
    await new Promise((r) => setTimeout(r, 4000));
    const during = await handle.query<{ steps: Array<{ name: string; outcome: string }> }>('progress');
    expect(during.steps.find((s) => s.name === 'drop-old-user')?.outcome).toBe('running');
    expect((await pipelineState()).cdcRoles).toContain(grace.oldUser);
    await session.end();
    const result = await handle.result();
    expect(result.status).toBe('completed');
    expect((await pipelineState()).cdcRoles).not.toContain(grace.oldUser);
  });

  it('allows one rotation per target at a time', async () => {
    const first = await start({ gracePeriod: 'PT1H' });
    await waitPhase(first, 'grace');
    await expect(start({ gracePeriod: 'PT1H' })).rejects.toBeInstanceOf(RotationInProgressError);
    // the server-side lock holds even for a client that skips the check
    const bypass = await w.client.workflow.start(rotatePostgresCdcCredentials, {
      taskQueue: w.taskQueue,
      workflowId: `rotate-postgresql-cdc/ecommerce/bypass-${Date.now()}`,
      args: [{ target: 'ecommerce', gracePeriod: 'PT1H' }],
    });
    const err = (await bypass.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect((err.cause as { type?: string }).type).toBe('RotationInProgress');
    await first.signal('cleanupNow', {});
    expect((await first.result()).status).toBe('completed');
  });

  it('rejects bad input before anything runs, naming the field', async () => {
    await expect(start({ gracePeriod: 'PT0S' })).rejects.toThrow(/gracePeriod: must be longer than zero/);
    await expect(start({ parentRole: 'evil"; DROP TABLE users; --' })).rejects.toThrow(/parentRole: must be a lowercase PostgreSQL identifier/);
    await expect(start({ strategy: 'teleport' as never })).rejects.toThrow(/strategy/);
    // and the workflow itself re-validates input from any client
    const handle = await w.client.workflow.start(rotatePostgresCdcCredentials, { taskQueue: w.taskQueue, workflowId: `bad-input-${Date.now()}`, args: [{ target: 'ecommerce', gracePeriod: '-PT1H' }] });
    const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err.cause?.message).toMatch(/gracePeriod/);
  });
});
