import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import type { IsolationRecord } from '../../activities/isolation.js';
import { activityOptions } from '../rotation/activityOptions.js';
import { AuditTrail } from '../rotation/audit.js';
import type { StepRecord } from '../rotation/definitions.js';
import { describeError } from '../rotation/errors.js';
import { Saga } from '../rotation/saga.js';
import { RotationComponent, RotationPhase, RotationTarget } from '../rotation/searchAttributes.js';
import {
  ISOLATION_COMPONENT,
  type IsolationPhase,
  type IsolationResult,
  type IsolationState,
  isolationQuery,
  isolationWorkflowId,
  RestoreRequest,
  restoreSignal,
} from './definitions.js';
import { type IsolationPlan, parseIsolationInput, workloadPath } from '../../contracts/input/isolation.js';

const read = proxyActivities<Activities>(activityOptions.read);
const change = proxyActivities<Activities>(activityOptions.change);
const undo = proxyActivities<Activities>(activityOptions.undo);

/**
 * The runbook's "Service Compromise → Isolation" for one Deployment: record what is there,
 * cut its network at once (an emergency NetworkPolicy: deny all ingress and egress except
 * what the operator lists), scale it to 0, and hold the record until an operator sends
 * `restore`, which puts back exactly that: the recorded replicas, and the emergency policy
 * removed (every other policy untouched). A failure halfway undoes what was done.
 * Cancelling the run while isolated leaves the isolation in place: only `restore` lifts it.
 */
export async function isolateDeployment(raw: unknown): Promise<IsolationResult> {
  const parsed = parseIsolationInput(raw);
  if (!parsed.ok)
    throw ApplicationFailure.create({
      message: `${parsed.message}; nothing was changed`,
      type: 'InvalidInput',
      nonRetryable: true,
    });
  const { workflowId } = workflowInfo();
  const canonical = isolationWorkflowId(parsed.plan.deployment, parsed.plan.kind);
  if (workflowId !== canonical) {
    throw ApplicationFailure.nonRetryable(
      `start this isolation with workflow id ${canonical}: the id is what keeps it to one isolation of ${workloadPath(parsed.plan)} at a time; nothing was changed`,
      'NonCanonicalWorkflowId',
    );
  }
  return new Isolation(parsed.plan).run();
}

class Isolation {
  private readonly state: IsolationState;
  private readonly saga = new Saga();
  private readonly audit: AuditTrail;
  private restoreRequest: { by: string; reason: string } | null = null;

  constructor(private readonly plan: IsolationPlan) {
    this.state = {
      workflowId: workflowInfo().workflowId,
      deployment: plan.deployment,
      phase: 'inspecting',
      reason: plan.reason,
      requestedBy: plan.requestedBy,
      allow: plan.allow,
      record: null,
      isolatedAt: null,
      restores: [],
      steps: [],
      leftByHand: [],
    };
    this.audit = new AuditTrail(true, {
      component: 'emergency',
      requestedBy: plan.requestedBy,
      snapshot: () => ({ from: null, to: null, rollbackAvailable: this.saga.pending().length > 0 }),
    });
    upsertSearchAttributes([
      { key: RotationComponent, value: ISOLATION_COMPONENT },
      { key: RotationTarget, value: plan.deployment },
      { key: RotationPhase, value: 'inspecting' },
    ]);
    setHandler(isolationQuery, () => this.state);
    setHandler(restoreSignal, (payload: unknown) => this.onRestore(payload));
  }

  async run(): Promise<IsolationResult> {
    this.record('start', 'isolation_started', 'started', this.plan.reason);
    try {
      await this.isolate();
    } catch (err) {
      await this.rollBack(err);
    }
    return this.holdUntilRestored();
  }

  /** Inspect and record, cut the network, scale to 0: each undo is on record before its change. */
  private async isolate(): Promise<void> {
    const { deployment } = this.plan;
    // a StatefulSet's calls name its kind; a Deployment's stay as they were (runs from before replay unchanged)
    const kind = this.plan.kind === 'StatefulSet' ? { kind: this.plan.kind } : {};
    const found = await this.step(
      'inspect',
      () => read.inspectDeployment({ deployment, ...kind }),
      (r) => `replicas ${r.replicas}, selector ${labels(r.matchLabels)}`,
    );
    if (found.alreadyIsolated) {
      const by = found.existing?.workflowId ? ` by ${found.existing.workflowId}` : '';
      throw ApplicationFailure.nonRetryable(
        `${workloadPath(this.plan)} is already isolated${by}: networkpolicies/${found.policy} exists (replicas before: ${found.existing?.replicasBefore ?? 'unknown'}). ` +
          `Restore it first (rekey emergency restore ${deployment}); if no isolation workflow holds it any more, scale it back and delete that policy by hand. Nothing was changed`,
        'AlreadyIsolated',
      );
    }
    const record: IsolationRecord = {
      deployment: found.deployment,
      ...(found.kind ? { kind: found.kind } : {}),
      namespace: found.namespace,
      replicas: found.replicas,
      matchLabels: found.matchLabels,
      policy: found.policy,
    };
    this.state.record = record;
    this.record(
      'inspect',
      'record_deployment',
      'success',
      `replicas ${record.replicas}, selector ${labels(record.matchLabels)}`,
    );
    this.setPhase('isolating');
    const owner = { workflowId: this.state.workflowId, runId: workflowInfo().runId };
    this.saga.register({
      step: 'apply-emergency-policy',
      description: `delete networkpolicies/${record.policy}`,
      run: () => undo.removeEmergencyPolicy({ policy: record.policy, ownedBy: owner }),
    });
    await this.step(
      'apply-emergency-policy',
      () => change.applyEmergencyPolicy({ record, allow: this.plan.allow, reason: this.plan.reason, ...owner }),
      () => `${record.policy}: deny all but ${this.plan.allow.length} allowed peer(s)`,
    );
    this.record('apply-emergency-policy', 'apply_emergency_policy', 'success', record.policy);
    this.saga.register({
      step: 'scale-to-zero',
      description: `scale ${workloadPath(this.plan)} back to ${record.replicas}`,
      run: () => undo.scaleDeployment({ deployment, replicas: record.replicas, ...kind }),
    });
    await this.step(
      'scale-to-zero',
      () => change.scaleDeployment({ deployment, replicas: 0, ...kind }),
      (r) => `${r.previous} → 0`,
    );
    this.record('scale-to-zero', 'scale_to_zero', 'success', `${record.replicas} → 0`);
    this.state.isolatedAt = new Date().toISOString();
    this.setPhase('isolated');
    this.record('isolated', 'isolated', 'success', `${record.replicas} replica(s) recorded; waiting for restore`);
  }

  /** Undo what was done, newest first; an undo that still fails is recorded as left by hand. Then fail the run. */
  private async rollBack(err: unknown): Promise<never> {
    const reason = isCancellation(err) ? 'workflow cancelled' : describeError(err);
    if (this.saga.pending().length === 0) {
      this.record('isolation', 'isolation_refused', 'failed', reason);
      await this.audit.settled();
      if (err instanceof ApplicationFailure || isCancellation(err)) throw err;
      throw ApplicationFailure.nonRetryable(`nothing was changed: ${reason}`, 'IsolationNotStarted');
    }
    await CancellationScope.nonCancellable(async () => {
      this.setPhase('rolling-back');
      this.record('rollback', 'rollback_started', 'started', reason, 'compensation');
      await this.saga.compensate({
        done: (c) => {
          this.note(`undo:${c.step}`, 'compensated', c.description);
          this.record(c.step, `compensate_${c.step}`, 'success', c.description, 'compensation');
        },
        stuck: async (c, error) => {
          this.state.leftByHand.push(`${c.description} — failed: ${error}`);
          this.note(`undo:${c.step}`, 'failed', error);
          this.record(c.step, `compensate_${c.step}`, 'needs_attention', error, 'compensation');
          return 'abandon';
        },
      });
      this.setPhase('rolled-back');
      this.record('rollback', 'isolation', 'rolled_back', reason, 'compensation');
      await this.audit.settled();
    });
    if (isCancellation(err)) throw err;
    const left = this.state.leftByHand.length ? `; left to do by hand: ${this.state.leftByHand.join('; ')}` : '';
    throw ApplicationFailure.nonRetryable(
      `isolation of ${workloadPath(this.plan)} failed and was undone: ${reason}${left}`,
      'IsolationRolledBack',
      { leftByHand: this.state.leftByHand },
    );
  }

  /** Isolated: wait for `restore`; a restore that fails keeps the isolation and the record, and waits for the next one. */
  private async holdUntilRestored(): Promise<IsolationResult> {
    const record = this.state.record!;
    for (;;) {
      try {
        await condition(() => this.restoreRequest !== null);
      } catch (err) {
        if (!isCancellation(err)) throw err;
        this.record(
          'isolated',
          'isolation_left_in_place',
          'skipped',
          `workflow cancelled: ${workloadPath(this.plan)} stays isolated; restore by hand: scale to ${record.replicas}, delete networkpolicies/${record.policy}`,
        );
        await CancellationScope.nonCancellable(() => this.audit.settled());
        throw err;
      }
      const request = this.restoreRequest!;
      const attempt = this.state.restores[this.state.restores.length - 1]!;
      try {
        await CancellationScope.nonCancellable(() => this.restore(record));
        attempt.outcome = 'ok';
        this.setPhase('restored');
        this.record(
          'restored',
          'restored',
          'success',
          `${record.replicas} replica(s), emergency policy removed (by ${request.by}: ${request.reason})`,
        );
        await this.audit.settled();
        return {
          status: 'restored',
          workflowId: this.state.workflowId,
          deployment: record.deployment,
          record,
          isolatedAt: this.state.isolatedAt!,
          restoredAt: attempt.at,
          restoredBy: request.by,
          restoreReason: request.reason,
          steps: this.state.steps,
          auditGaps: this.audit.gaps,
        };
      } catch (err) {
        attempt.outcome = 'failed';
        attempt.error = describeError(err);
        this.restoreRequest = null;
        this.setPhase('isolated');
        this.record('restore', 'restore', 'failed', `${attempt.error}; still isolated, send restore again`);
      }
    }
  }

  /** Exactly what was there: the recorded replicas first (pods start still cut off), then the network back. */
  private async restore(record: IsolationRecord): Promise<void> {
    this.setPhase('restoring');
    await this.step(
      'restore-replicas',
      () =>
        undo.scaleDeployment({
          deployment: record.deployment,
          replicas: record.replicas,
          ...(this.plan.kind === 'StatefulSet' ? { kind: this.plan.kind } : {}),
        }),
      (r) => `${r.previous} → ${r.replicas}`,
    );
    this.record('restore-replicas', 'restore_replicas', 'success', `→ ${record.replicas}`);
    const owner = { workflowId: this.state.workflowId, runId: workflowInfo().runId };
    await this.step(
      'remove-emergency-policy',
      () => undo.removeEmergencyPolicy({ policy: record.policy, ownedBy: owner }),
      (r) => (r.removed ? `${record.policy} deleted` : `${record.policy} was already gone`),
    );
    this.record('remove-emergency-policy', 'remove_emergency_policy', 'success', record.policy);
  }

  private onRestore(payload: unknown): void {
    const parsed = RestoreRequest.safeParse(payload ?? {});
    if (!parsed.success)
      return this.ignore(
        `malformed input ignored — ${parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ')}`,
      );
    if (['restoring', 'restored', 'rolling-back', 'rolled-back'].includes(this.state.phase) || this.restoreRequest)
      return this.ignore(`nothing to restore now (phase ${this.state.phase})`);
    const by = parsed.data.by ?? 'operator';
    const reason = parsed.data.reason ?? 'restore requested';
    this.restoreRequest = { by, reason };
    // a restore sent while still isolating is applied as soon as the isolation is complete
    this.state.restores.push({ by, reason, at: new Date().toISOString(), outcome: 'running' });
    this.note('signal:restore', 'ok', `${reason} (by ${by})`);
    this.record('signal', 'restore', 'received', `${reason} (by ${by})`, 'signal');
  }

  private ignore(why: string): void {
    this.note('signal:restore', 'ignored', why);
    this.record('signal', 'restore', 'skipped', `ignored: ${why}`, 'signal');
  }

  private setPhase(phase: IsolationPhase): void {
    this.state.phase = phase;
    upsertSearchAttributes([{ key: RotationPhase, value: phase }]);
    const r = this.state.record;
    setCurrentDetails(
      `**${phase}** — ${workloadPath(this.plan)}${r ? `: ${r.replicas} replica(s) recorded, policy ${r.policy}` : ''}\n\nreason: ${this.plan.reason} (by ${this.plan.requestedBy})`,
    );
  }

  private async step<T>(name: string, fn: () => Promise<T>, detail?: (r: T) => string): Promise<T> {
    const s: StepRecord = { name, startedAt: new Date().toISOString(), outcome: 'running' };
    this.state.steps.push(s);
    try {
      const result = await fn();
      s.outcome = 'ok';
      if (detail) s.detail = detail(result);
      return result;
    } catch (err) {
      s.outcome = 'failed';
      s.detail = describeError(err);
      this.record(name, name, 'failed', s.detail);
      throw err;
    } finally {
      s.endedAt = new Date().toISOString();
    }
  }

  private note(name: string, outcome: StepRecord['outcome'], detail: string): void {
    const now = new Date().toISOString();
    this.state.steps.push({ name, startedAt: now, endedAt: now, outcome, detail });
  }

  private record(
    step: string,
    action: string,
    status: Parameters<AuditTrail['record']>[2],
    detail: string,
    type: 'emergency' | 'compensation' | 'signal' = 'emergency',
  ): void {
    this.audit.record(step, action, status, { event_type: type, detail: `${workloadPath(this.plan)}: ${detail}` });
  }
}

const labels = (l: Record<string, string>) =>
  Object.entries(l)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
