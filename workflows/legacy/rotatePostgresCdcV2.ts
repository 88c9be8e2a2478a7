import {
  ApplicationFailure,
  CancellationScope,
  type ChildWorkflowHandle,
  condition,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setHandler,
  startChild,
  upsertMemo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { AuditEvent } from '../../activities/audit.js';
import { formatDuration, parseIsoDuration } from '../../contracts/duration.js';
import { evaluatePreflight } from './preflight.js';
import {
  InvalidInputError,
  parseRotationInput,
  type PostgresCdcRotationInput,
  type PostgresCdcRotationPlan,
} from './postgresCdcInput.js';
import {
  cleanupNowSignal,
  extendGraceSignal,
  progressQuery,
  retrySignal,
  rollbackSignal,
  RotationTracker,
  workflowId,
} from './rotationState.js';
import { describeError, Saga } from './saga.js';
import { releaseLockSignal, targetLock } from './targetLock.js';

// Typed loosely on purpose: this frozen code must keep compiling while today's activities evolve.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Activities = Record<LegacyActivityName, (input?: any) => Promise<any>>;
type LegacyActivityName =
  | 'appendAudit'
  | 'awaitChangeEvent'
  | 'backupCurrentCredential'
  | 'connectorStatus'
  | 'createRoleFromSecret'
  | 'describeCredential'
  | 'describeRole'
  | 'dropRole'
  | 'insertCanary'
  | 'inspectReplication'
  | 'memoryHeadroom'
  | 'pauseConnector'
  | 'promotePendingCredential'
  | 'removeCredentialVersions'
  | 'restartConnectWorker'
  | 'restartConnector'
  | 'restoreBackupCredential'
  | 'resumeConnector'
  | 'stagePendingCredential'
  | 'testReplicationLogin'
  | 'waitConnectorRunning'
  | 'waitSlotPast'
  | 'waitStreamingUser';

const quick = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumAttempts: 5 },
});
const change = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumAttempts: 5 },
});
const waiting = proxyActivities<Activities>({
  startToCloseTimeout: '6m',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '2s', maximumAttempts: 3 },
});
const undo = proxyActivities<Activities>({
  startToCloseTimeout: '6m',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});
const cleanup = proxyActivities<Activities>({
  startToCloseTimeout: '2m',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '10s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 6 },
});
const audit = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumAttempts: 10 },
});

export interface LegacyRotationResult {
  status: 'completed' | 'rolled-back' | 'dry-run';
  workflowId: string;
  target: string;
  strategy: string;
  oldUser: string;
  newUser: string | null;
  steps: RotationTracker['steps'];
}

class RollbackRequested extends Error {}

/**
 * FROZEN: the CDC rotation as it ran before the rotation kit (histories up to v0.1).
 * `rotatePostgresCdcCredentials` runs this only when replaying or continuing a run that
 * started before the `rotation-kit` patch. Do not edit; delete once no such run is open
 * (their grace periods had no upper bound: check `rekey list` before removing).
 */
export async function legacyRotatePostgresCdcV2(raw: PostgresCdcRotationInput): Promise<LegacyRotationResult> {
  let plan: PostgresCdcRotationPlan;
  try {
    plan = parseRotationInput(raw);
  } catch (err) {
    if (err instanceof InvalidInputError)
      throw ApplicationFailure.nonRetryable(err.message, 'InvalidInput', err.issues);
    throw err;
  }
  const id = workflowId();
  const saga = new Saga();
  let oldUser: string | null = null;
  let newUser: string | null = null;
  let graceMs = parseIsoDuration(plan.gracePeriod)!;
  let graceEndsAt: number | null = null;
  let rollbackReason: string | null = null;
  let cleanupRequested = false;
  let cleanupStarted = false;
  let graceChanges = 0;
  const tracker = new RotationTracker(() => `${plan.target}: ${oldUser ?? '?'} → ${newUser ?? '?'} (${plan.strategy})`);
  let auditSeq = 0;
  const record = (step: string, action: string, status: AuditEvent['status'], extra: Partial<AuditEvent> = {}) =>
    audit.appendAudit({
      eventId: `${id}#${++auditSeq}`,
      timestamp: new Date().toISOString(),
      event_type: 'credential_rotation',
      component: 'postgresql_cdc',
      user: plan.requestedBy,
      action,
      old_user: oldUser,
      new_user: newUser,
      status,
      validation_status: 'not_applicable',
      rollback_available: saga.pending().length > 0,
      workflow_id: id,
      step,
      ...extra,
    });

  setHandler(progressQuery, () => ({
    workflowId: id,
    target: plan.target,
    phase: tracker.phase,
    strategy: plan.strategy,
    oldUser,
    newUser,
    graceEndsAt: graceEndsAt === null ? null : new Date(graceEndsAt).toISOString(),
    steps: tracker.steps,
    rollbackWouldUndo: saga.pending(),
    attention: saga.attention,
    reason: plan.reason,
    requestedBy: plan.requestedBy,
  }));
  setHandler(rollbackSignal, ({ reason, by }) => {
    if (cleanupStarted || rollbackReason) return;
    rollbackReason = `${reason} (by ${by ?? 'operator'})`;
    void record('signal', 'rollback_requested', 'received', { event_type: 'signal', detail: rollbackReason });
  });
  setHandler(cleanupNowSignal, (arg) => {
    cleanupRequested = true;
    void record('signal', 'cleanup_now', 'received', { event_type: 'signal', detail: `by ${arg?.by ?? 'operator'}` });
  });
  setHandler(extendGraceSignal, ({ duration, by }) => {
    const ms = parseIsoDuration(duration);
    if (ms === undefined || ms <= 0 || graceEndsAt === null) return;
    graceEndsAt += ms;
    graceMs += ms;
    graceChanges++;
    void record('signal', 'extend_grace', 'received', {
      event_type: 'signal',
      detail: `+${duration} by ${by ?? 'operator'}`,
    });
  });
  setHandler(retrySignal, () => {
    saga.retryRequested = true;
  });

  upsertMemo({
    plan: { ...plan, steps: ['preflight', 'stage', 'create-role', 'switch', 'verify', 'grace', 'cleanup'] },
  });

  // One rotation per target: the lock is a child workflow with a fixed id, which the server keeps unique.
  let lock: ChildWorkflowHandle<typeof targetLock>;
  try {
    lock = await startChild(targetLock, {
      workflowId: `rotate-postgresql-cdc/${plan.target}/lock`,
      parentClosePolicy: ParentClosePolicy.TERMINATE,
      args: [{ holder: id }],
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw ApplicationFailure.nonRetryable(
        `another rotation of target ${plan.target} is running; wait for it or roll it back (see workflows with RotationTarget="${plan.target}")`,
        'RotationInProgress',
      );
    }
    throw err;
  }

  try {
    return await runRotation();
  } finally {
    // release the lock so it completes instead of being terminated with its parent (tidy in the Web UI)
    if (patched('release-target-lock'))
      await CancellationScope.nonCancellable(() => lock.signal(releaseLockSignal)).catch(() => undefined);
  }

  async function runRotation(): Promise<LegacyRotationResult> {
    // 1. Pre-flight: read only.
    tracker.setPhase('preflight');
    const facts = await tracker.step('preflight', async () => {
      const [replication, connector, current, memory] = await Promise.all([
        quick.inspectReplication({ slot: plan.slot }),
        quick.connectorStatus({ connector: plan.connector }),
        quick.describeCredential({ secret: plan.secret }),
        quick.memoryHeadroom(),
      ]);
      return { replication, connector, current, memory };
    });
    oldUser = facts.current.user;
    const checks = evaluatePreflight(
      {
        walLevel: facts.replication.walLevel,
        maxReplicationSlots: facts.replication.maxReplicationSlots,
        slot: facts.replication.slot,
        lagSeconds: facts.replication.lagSeconds,
        streamingUser: facts.replication.streamingUser,
        currentSecretUser: facts.current.user,
        connector: facts.connector,
        memoryAvailablePercent: facts.memory.availablePercent,
        nodesUnderMemoryPressure: facts.memory.nodesUnderPressure,
      },
      plan,
    );
    const failed = checks.filter((c) => !c.ok);
    if (failed.length > 0) {
      const summary = failed.map((c) => `${c.check}: saw ${c.seen}, expected ${c.expected}`).join('; ');
      await record('preflight', 'preflight', 'failed', { validation_status: 'failed', detail: summary });
      throw ApplicationFailure.nonRetryable(
        `pre-flight failed, nothing was changed: ${summary}`,
        'PreflightFailed',
        checks,
      );
    }
    await record('preflight', 'preflight', 'success', { validation_status: 'passed' });
    newUser = cdcUserName(plan.userPrefix, new Date(), oldUser);
    if (plan.dryRun) {
      tracker.setPhase('dry-run-complete');
      return {
        status: 'dry-run',
        workflowId: id,
        target: plan.target,
        strategy: plan.strategy,
        oldUser: oldUser!,
        newUser,
        steps: tracker.steps,
      };
    }

    const checkpoint = (step: string) => {
      if (plan.injectFailure === step)
        throw ApplicationFailure.nonRetryable(`rollback drill: failure injected after step ${step}`, 'InjectedFailure');
      if (rollbackReason) throw new RollbackRequested(rollbackReason);
    };
    const rotationId = id;

    try {
      // 2. Stage the pending credential (the only place its password exists is the secret store).
      tracker.setPhase('staging');
      saga.register({
        step: 'stage',
        description: `remove ${plan.secret}-pending`,
        run: () => undo.removeCredentialVersions({ secret: plan.secret, versions: ['pending'] }),
      });
      const pending = await tracker.step(
        'stage',
        () => change.stagePendingCredential({ secret: plan.secret, newUser: newUser!, rotationId }),
        (r) => `pending ${r.user} fp=${r.fingerprint}`,
      );
      await record('stage', 'stage_pending_credential', 'success', { detail: `fingerprint ${pending.fingerprint}` });
      checkpoint('stage');

      // 3. Create the role and prove it is equivalent to the old one.
      tracker.setPhase('creating-role');
      saga.register({
        step: 'create-role',
        description: `drop role ${newUser}`,
        run: async () => void (await undo.dropRole({ role: newUser!, parentRole: plan.parentRole, terminate: true })),
      });
      await tracker.step(
        'create-role',
        () => change.createRoleFromSecret({ secret: pending.secret, parentRole: plan.parentRole }),
        (r) => `${r.role} ${r.created ? 'created' : 'already existed'}`,
      );
      await tracker.step('privilege-parity', async () => {
        const [was, now] = await Promise.all([
          quick.describeRole({ role: oldUser! }),
          quick.describeRole({ role: newUser! }),
        ]);
        const diffs: string[] = [];
        if (was.canLogin !== now.canLogin) diffs.push(`login ${was.canLogin} vs ${now.canLogin}`);
        if (was.replication !== now.replication) diffs.push(`replication ${was.replication} vs ${now.replication}`);
        if (was.memberOf.join(',') !== now.memberOf.join(','))
          diffs.push(`member of [${was.memberOf.join(',')}] vs [${now.memberOf.join(',')}]`);
        if (diffs.length)
          throw ApplicationFailure.nonRetryable(
            `privilege parity with ${oldUser} failed: ${diffs.join('; ')}`,
            'PrivilegeParity',
          );
      });
      await tracker.step(
        'replication-login',
        () => quick.testReplicationLogin({ secret: pending.secret }),
        (r) => `IDENTIFY_SYSTEM ok (system ${r.systemId})`,
      );
      await record('create-role', 'create_cdc_user', 'success', { validation_status: 'passed' });
      checkpoint('create-role');

      // 4. Switch the pipeline to the new credential.
      tracker.setPhase('switching');
      saga.register({
        step: 'backup',
        description: `remove ${plan.secret}-backup`,
        run: () => undo.removeCredentialVersions({ secret: plan.secret, versions: ['backup'] }),
      });
      saga.register({
        step: 'switch',
        description: `restore ${plan.secret} from its backup (${oldUser}), apply by ${plan.strategy}, resume ${plan.connector}, verify ${oldUser} streams`,
        run: async () => {
          await undo.restoreBackupCredential({ secret: plan.secret, rotationId });
          await apply(undo);
          await undo.resumeConnector({ connector: plan.connector });
          await undo.waitStreamingUser({ slot: plan.slot, user: oldUser!, timeoutMs: 120_000 });
        },
      });
      await tracker.step(
        'backup',
        () => change.backupCurrentCredential({ secret: plan.secret, rotationId }),
        (r) => `backup holds ${r.user}`,
      );
      // reload-connector restarts the tasks in one call, so pausing around it only adds to the
      // blackout; restart-worker keeps the runbook's pause/resume around the worker restart.
      const pauseAround = plan.strategy === 'restart-worker' || !patched('reload-connector-without-pause');
      if (pauseAround) await tracker.step('pause', () => change.pauseConnector({ connector: plan.connector }));
      await tracker.step(
        'promote',
        () => change.promotePendingCredential({ secret: plan.secret, rotationId }),
        (r) => `current now ${r.user} fp=${r.fingerprint}`,
      );
      await tracker.step(`apply:${plan.strategy}`, () => apply(waiting, !pauseAround));
      if (pauseAround) await tracker.step('resume', () => waiting.resumeConnector({ connector: plan.connector }));
      else await tracker.step('running', () => waiting.waitConnectorRunning({ connector: plan.connector }));
      await record('switch', 'switch_credential', 'success');
      checkpoint('switch');

      // 5. Verify: new user streams, the slot moves, a canary change arrives in Kafka.
      tracker.setPhase('verifying');
      await tracker.step(
        'streaming-user',
        () => waiting.waitStreamingUser({ slot: plan.slot, user: newUser!, timeoutMs: 120_000 }),
        (r) => `walsender pid ${r.slot.activePid} runs as ${r.streamingUser}`,
      );
      const since = Date.now() - 5000;
      const canary = await tracker.step(
        'canary-insert',
        () => change.insertCanary({ table: 'users', marker: `rekey-${id.replace(/[^a-zA-Z0-9]/g, '-')}` }),
        (r) => `row ${r.id} at ${r.lsn}`,
      );
      await tracker.step(
        'slot-advanced',
        () => waiting.waitSlotPast({ slot: plan.slot, lsn: canary.lsn, timeoutMs: 120_000 }),
        (r) => `confirmed_flush_lsn ${r.confirmedFlushLsn}`,
      );
      await tracker.step(
        'canary-read-back',
        () =>
          waiting.awaitChangeEvent({
            topic: plan.topic,
            field: 'email',
            value: canary.email,
            sinceMs: since,
            timeoutMs: 120_000,
          }),
        (r) => `partition ${r.partition} offset ${r.offset}`,
      );
      await record('verify', 'validate_cdc', 'success', { validation_status: 'passed' });
      checkpoint('verify');
    } catch (err) {
      const reason = err instanceof RollbackRequested ? `operator rollback: ${err.message}` : describeError(err);
      await rollBack(reason);
      if (err instanceof RollbackRequested) return result('rolled-back');
      throw ApplicationFailure.nonRetryable(`rotation rolled back: ${reason}`, 'RotationRolledBack');
    }

    // 6. Grace: the old user stays valid until the timer fires, cleanupNow, or a rollback.
    tracker.setPhase('grace');
    graceEndsAt = Date.now() + graceMs;
    await record('grace', 'grace_started', 'success', { detail: `grace ${formatDuration(graceMs)}` });
    for (;;) {
      const seen = graceChanges;
      const remaining = graceEndsAt - Date.now();
      if (cleanupRequested || rollbackReason || remaining <= 0) break;
      await condition(() => cleanupRequested || rollbackReason !== null || graceChanges !== seen, remaining);
    }
    if (rollbackReason) {
      await rollBack(`operator rollback during grace: ${rollbackReason}`);
      return result('rolled-back');
    }

    // 7. Cleanup: drop the old user once nothing uses it.
    cleanupStarted = true;
    tracker.setPhase('cleanup');
    for (;;) {
      try {
        await tracker.step(
          'drop-old-user',
          () => cleanup.dropRole({ role: oldUser!, parentRole: plan.parentRole }),
          (r) => (r.dropped ? `dropped ${oldUser}` : `${oldUser} was already gone`),
        );
        break;
      } catch (err) {
        saga.attention = { step: 'cleanup', error: describeError(err) };
        tracker.setPhase('needs-attention');
        await record('cleanup', 'drop_old_user', 'needs_attention', { detail: saga.attention.error });
        saga.retryRequested = false;
        await condition(() => saga.retryRequested);
        saga.attention = null;
        tracker.setPhase('cleanup');
      }
    }
    await tracker.step('remove-versions', () =>
      cleanup.removeCredentialVersions({ secret: plan.secret, versions: ['pending', 'backup'] }),
    );
    for (const step of ['switch', 'backup', 'create-role', 'stage']) saga.forget(step);
    tracker.setPhase('completed');
    await record('cleanup', 'rotate_credentials', 'success', { validation_status: 'passed' });
    return result('completed');
  }

  function result(status: LegacyRotationResult['status']): LegacyRotationResult {
    return {
      status,
      workflowId: id,
      target: plan.target,
      strategy: plan.strategy,
      oldUser: oldUser!,
      newUser,
      steps: tracker.steps,
    };
  }

  async function apply(acts: typeof waiting, tasksOnly = false): Promise<void> {
    if (plan.strategy === 'restart-worker')
      await acts.restartConnectWorker({ connector: plan.connector, timeoutMs: 300_000 });
    else await acts.restartConnector({ connector: plan.connector, tasksOnly });
  }

  async function rollBack(reason: string): Promise<void> {
    // Compensation must finish even if the workflow is being cancelled.
    await CancellationScope.nonCancellable(async () => {
      tracker.setPhase('rolling-back');
      await record('rollback', 'rollback_started', 'started', { event_type: 'compensation', detail: reason });
      await saga.compensate({
        onStart: async () => undefined,
        onDone: async (c) => {
          tracker.note(`undo:${c.step}`, 'compensated', c.description);
          await record(c.step, `compensate_${c.step}`, 'success', { event_type: 'compensation' });
        },
        onStuck: async (c, error) => {
          tracker.note(`undo:${c.step}`, 'failed', error);
          tracker.setPhase('needs-attention');
          await record(c.step, `compensate_${c.step}`, 'needs_attention', {
            event_type: 'compensation',
            detail: error,
          });
        },
        onRetry: async () => tracker.setPhase('rolling-back'),
      });
      tracker.setPhase('rolled-back');
      await record('rollback', 'rotate_credentials', 'rolled_back', {
        event_type: 'compensation',
        validation_status: 'passed',
        detail: reason,
      });
    });
  }
}

/** `debezium_yyyymmdd_hhmm` in UTC; seconds are added if that name is the current user's. */
export function cdcUserName(prefix: string, at: Date, current: string | null): string {
  const iso = at.toISOString();
  const base = `${prefix}_${iso.slice(0, 10).replace(/-/g, '')}_${iso.slice(11, 16).replace(':', '')}`;
  return base === current ? `${base}${iso.slice(17, 19)}` : base;
}
