import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { AuditTrail } from './audit.js';
import { OperatorControl } from './control.js';
import { LeaseHolder } from './lease.js';
import {
  type Phase,
  type PlannedStep,
  progressQuery,
  type RotationProgress,
  type RotationResult,
} from './definitions.js';
import { describeError, RollbackRequested } from './errors.js';
import { rotationWorkflowId } from '../../contracts/ids.js';
import { Saga } from './saga.js';
import { RotationComponent, RotationPhase, RotationTarget } from './searchAttributes.js';
import { PhaseTracker } from './tracker.js';
import type { RotationPlanBasics, RotationSpec } from './spec.js';
import { OutsideMaintenanceWindow, windowRefusal } from '../../contracts/window.js';
import { runValidationChecks } from '../validation/checks.js';
import { RotationMetrics } from './metrics.js';

/**
 * The kit every procedure composes: identity (one rotation per resource), phase tracking
 * (progress query, current details, search attributes, memo), operator signals, the saga
 * of compensations, the grace timer, the audit trail, and the outcome of the run.
 */
/** What a changing step runs, how it is undone (absent: nothing to undo), and how its result reads in the progress. */
export interface ChangeStep<T> {
  run: () => Promise<T>;
  undo?: () => Promise<unknown>;
  show?: (result: T) => string;
}

export class Rotation {
  from: string | null = null;
  to: string | null = null;
  readonly saga = new Saga();
  readonly tracker: PhaseTracker;
  readonly audit: AuditTrail;
  readonly control: OperatorControl;
  private graceEndsAt: number | null = null;
  private graceTotalMs = 0;
  private cleanupStarted = false;
  private attention: { step: string; error: string } | null = null;
  private readonly leftByHand: string[] = [];
  private plan?: PlannedStep[];
  private validation?: RotationResult['validation'];
  private readonly metrics: RotationMetrics;
  /** The lease on the workload (spec.lease), from the first change through verification. */
  private lease: LeaseHolder | null = null;
  private leaseDecided = false;
  /** Leases held until the run ends (holdUntilEnd), released by run(). */
  private endLeases: LeaseHolder[] = [];
  /** The interruptible step in flight (the rollback Update names it). */
  private waitInFlight: string | null = null;

  private constructor(readonly spec: RotationSpec) {
    this.metrics = new RotationMetrics({ ...spec, component: spec.metricsComponent ?? spec.component });
    this.tracker = new PhaseTracker(
      () => `${spec.target}: ${this.from ?? '?'} → ${this.to ?? '?'}`,
      (step, outcome, at) => this.metrics.step(step, outcome, at),
    );
    this.audit = new AuditTrail(spec.orderedAudit, {
      component: spec.component,
      requestedBy: spec.requestedBy,
      snapshot: () => ({ from: this.from, to: this.to, rollbackAvailable: this.saga.pending().length > 0 }),
    });
    this.control = new OperatorControl({
      audit: this.audit,
      tracker: this.tracker,
      rollbackRefusal: () => (this.cleanupStarted ? 'cleanup has started: the old credential is being removed' : null),
      graceTotalMs: () => (this.graceEndsAt === null ? null : this.graceTotalMs + this.control.extendedByMs),
      rollbackPreview: () => ({
        phase: this.tracker.phase,
        interrupts: this.waitInFlight,
        willUndo: this.saga.pending().map((c) => c.step),
      }),
    });
  }

  /** Claims the identity, labels the run for the Web UI and installs the query and signal handlers. */
  /** `begin` for a procedure keyed on its plan's secret: the plan's common fields, the whole plan as the memo. */
  static forPlan(
    plan: RotationPlanBasics,
    spec: Pick<
      RotationSpec,
      'procedure' | 'component' | 'metricsComponent' | 'details' | 'orderedAudit' | 'validation' | 'lease'
    >,
  ): Rotation {
    const { target, secret, reason, requestedBy, dryRun, injectFailure, maintenanceWindow } = plan;
    return Rotation.begin({
      ...spec,
      target,
      resource: secret,
      reason,
      requestedBy,
      dryRun,
      injectFailure,
      memo: { ...plan },
      maintenanceWindow,
    });
  }

  static begin(spec: RotationSpec): Rotation {
    const id = workflowInfo().workflowId;
    const canonical = rotationWorkflowId(spec.procedure, spec.resource);
    if (spec.dryRun ? !id.startsWith(`${canonical}/`) && id !== canonical : id !== canonical) {
      throw ApplicationFailure.nonRetryable(
        `start this rotation with workflow id ${canonical}${spec.dryRun ? ' (or a dry run under it, e.g. ' + canonical + '/dry-run/…)' : ''}: the id is what keeps it to one rotation of ${spec.resource} at a time; nothing was changed`,
        'NonCanonicalWorkflowId',
      );
    }
    const r = new Rotation(spec);
    upsertSearchAttributes([
      { key: RotationComponent, value: spec.procedure },
      { key: RotationTarget, value: spec.target },
      { key: RotationPhase, value: 'preflight' },
    ]);
    upsertMemo({ plan: spec.memo });
    setHandler(progressQuery, () => r.progress());
    r.control.install();
    return r;
  }

  /** Entering staging or switching also enforces the maintenance window (scheduled runs). */
  setPhase(phase: Phase): void {
    if (phase === 'staging' || phase === 'switching') this.enforceWindow(phase);
    this.tracker.setPhase(phase);
  }

  private enforceWindow(phase: 'staging' | 'switching'): void {
    const window = this.spec.maintenanceWindow;
    // only runs started with a window (none existed before this patch) take the new path
    if (!window || !patched('maintenance-window')) return;
    const refusal = windowRefusal(window, phase, Date.now());
    if (refusal) throw new OutsideMaintenanceWindow(refusal);
  }

  /** A step that changes nothing, or nothing a rollback would have to undo. */
  step<T>(name: string, run: () => Promise<T>, detail?: (result: T) => string): Promise<T> {
    return this.tracker.step(name, run, detail);
  }

  /**
   * A step that only waits or reads (a verification: the new user accepted, the canary read
   * back). An accepted rollback stops it at once instead of at the next checkpoint: it runs in
   * a cancellation scope the rollback cancels (its activity is asked to stop). Changes, and
   * steps such as a restart, are not waits: they run to their end, then the checkpoint after
   * them rolls back. Runs started before the patch waited for the step, and replay that way.
   */
  wait<T>(name: string, run: () => Promise<T>, detail?: (result: T) => string): Promise<T> {
    if (this.cleanupStarted || !patched('rollback-interrupts-waits')) return this.tracker.step(name, run, detail);
    return this.tracker.step(name, () => this.untilRollback(name, run), detail);
  }

  private async untilRollback<T>(name: string, run: () => Promise<T>): Promise<T> {
    this.checkpointRollback();
    const work = new CancellationScope();
    const watch = new CancellationScope();
    void watch
      .run(() => condition(() => this.control.rollback !== null))
      .then(
        () => work.cancel(),
        () => undefined, // the step ended first: the watch was cancelled
      );
    this.waitInFlight = name;
    try {
      return await work.run(run);
    } catch (err) {
      if (this.control.rollback && isCancellation(err)) this.checkpointRollback();
      throw err;
    } finally {
      this.waitInFlight = null;
      watch.cancel();
    }
  }

  /**
   * A step that changes something: its compensation is on record before the change is made,
   * under the text the dry-run plan shows for it (`step.undo`). The first one takes the lease
   * on the workload the procedure restarts (runs started before the patch took none).
   */
  async change<T>(step: PlannedStep, how: ChangeStep<T>): Promise<T> {
    const { run: effect, undo, show: detail } = how;
    if (this.spec.lease && !this.leaseDecided) {
      this.leaseDecided = true;
      if (patched('workload-lease')) {
        this.lease = new LeaseHolder(this.spec.lease, this.tracker);
        await this.lease.acquire();
      }
    }
    // a compensation the plan does not describe is shown as such: the plan-equals-run tests catch it
    const description = undo ? (step.undo ?? `undo ${step.name} (NOT IN THE PLAN)`) : undefined;
    if (undo) this.saga.register({ step: step.name, description: description!, run: undo });
    const result = await this.tracker.step(step.name, effect, detail, description);
    this.audit.record(step.name, step.name, 'success');
    this.checkpoint(step.name);
    return result;
  }

  /**
   * A lease held for the whole run, grace and cleanup included (e.g. `iam-user/<user>`: one
   * rotation per IAM user), refused at once when another run holds it. Released when the run ends.
   */
  async holdUntilEnd(resource: string, step: string): Promise<void> {
    const lease = new LeaseHolder(resource, this.tracker, { step, waitMs: 0 });
    await lease.acquire();
    this.endLeases.push(lease);
  }

  /**
   * `body` while holding `resource`'s lease (waiting for it as a first change does): a cleanup
   * that restarts the workload again after grace, when the lease taken for the switch is long
   * released. A lease that stays busy parks the run (retry, or abandon: `body` runs without it).
   */
  async withLease<T>(resource: string, step: string, body: () => Promise<T>): Promise<T> {
    // no grace (compromise) released nothing: the switch's lease is still this run's
    if (this.lease?.holds(resource)) return body();
    const lease = new LeaseHolder(resource, this.tracker, { step });
    for (;;) {
      try {
        await lease.acquire();
        break;
      } catch (err) {
        if ((await this.park(step, describeError(err), step)) === 'abandon') return body();
      }
    }
    try {
      return await body();
    } finally {
      await lease.release();
    }
  }

  /** Between steps: an operator's rollback (or a drill's injected failure) stops the forward path here. */
  checkpoint(after: string): void {
    if (this.spec.injectFailure === after)
      throw ApplicationFailure.nonRetryable(`rollback drill: failure injected after step ${after}`, 'InjectedFailure');
    this.checkpointRollback();
  }

  private checkpointRollback(): void {
    if (this.control.rollback)
      throw new RollbackRequested(`${this.control.rollback.reason} (by ${this.control.rollback.by})`);
  }

  /**
   * Durable grace period: the old credential stays valid until the timer fires or an
   * operator sends cleanupNow; extendGrace moves the deadline (onExtended follows it, e.g.
   * the old role's expiry); rollback leaves through RollbackRequested.
   */
  async holdGrace(ms: number, onExtended?: (endsAt: Date) => Promise<unknown>): Promise<void> {
    this.setPhase('grace');
    this.graceTotalMs = ms;
    let applied = 0;
    this.graceEndsAt = Date.now() + ms;
    this.audit.record('grace', 'grace_started', 'success', {
      detail: `until ${new Date(this.graceEndsAt).toISOString()}`,
    });
    // the switch is verified: other procedures may restart the workload again (after the grace state is set: queries and signals
    // see it). Only when a lease is held: an await with nothing to wait for still moves later commands in the activation
    if (this.lease) await this.lease.release();
    for (;;) {
      this.checkpoint('grace');
      if (this.control.extendedByMs !== applied) {
        this.graceEndsAt += this.control.extendedByMs - applied;
        applied = this.control.extendedByMs;
        if (onExtended) await this.followExtension(onExtended);
        continue;
      }
      const remaining = this.graceEndsAt - Date.now();
      if (this.control.cleanupNow || remaining <= 0) return;
      await condition(
        () => this.control.cleanupNow || this.control.rollback !== null || this.control.extendedByMs !== applied,
        remaining,
      );
    }
  }

  /**
   * What follows an extended deadline (the old role's expiry). Its failure must not undo a
   * switch that was already verified: it parks in needs-attention until `retry`, or `abandon`
   * (the old credential then expires at its earlier time, recorded as left by hand). Runs
   * started before this change rolled back instead and replay that way (patched).
   */
  private async followExtension(onExtended: (endsAt: Date) => Promise<unknown>): Promise<void> {
    const run = () => onExtended(new Date(this.graceEndsAt!));
    const detail = () => `until ${new Date(this.graceEndsAt!).toISOString()}`;
    if (!patched('grace-extension-parks')) {
      await this.step('extend-grace', run, detail);
      return;
    }
    for (;;) {
      try {
        await this.step('extend-grace', run, detail);
        return;
      } catch (err) {
        if (err instanceof RollbackRequested || isCancellation(err)) throw err;
        const left = 'extend-grace: the old credential still expires at the earlier deadline';
        if ((await this.park('extend-grace', describeError(err), left)) === 'abandon') return;
      }
    }
  }

  /** Cleanup runs to its end even if the workflow is cancelled; after it there is nothing to roll back. */
  async cleanup(body: () => Promise<void>): Promise<void> {
    this.cleanupStarted = true;
    this.graceEndsAt = null;
    await CancellationScope.nonCancellable(async () => {
      this.setPhase('cleanup');
      await body();
      this.saga.forgetAll();
    });
  }

  /** A cleanup step that must not be skipped silently: on failure it parks in needs-attention until retry or abandon. */
  async persist<T>(name: string, run: () => Promise<T>, detail?: (result: T) => string): Promise<T | undefined> {
    for (;;) {
      try {
        return await this.step(name, run, detail);
      } catch (err) {
        if ((await this.park(name, describeError(err), name)) === 'abandon') return undefined;
      }
    }
  }

  /** Dry run: the plan an operator reviews, from the same step definitions the rotation runs. */
  dryRun(plan: PlannedStep[]): 'dry-run' {
    this.plan = plan;
    this.setPhase('dry-run-complete');
    return 'dry-run';
  }

  /** Runs the procedure; any failure, rollback signal or cancellation before cleanup undoes what was done, newest first. */
  async run(body: () => Promise<'completed' | 'dry-run'>): Promise<RotationResult> {
    try {
      return await this.runBody(body);
    } finally {
      // the next procedure on the workload need not wait for the server to terminate the lease with this run
      if (this.lease?.held) await CancellationScope.nonCancellable(() => this.lease!.release()).catch(() => undefined);
      for (const lease of this.endLeases)
        await CancellationScope.nonCancellable(() => lease.release()).catch(() => undefined);
    }
  }

  private async runBody(body: () => Promise<'completed' | 'dry-run'>): Promise<RotationResult> {
    this.audit.record('start', 'rotation_started', 'started', { detail: this.spec.reason });
    this.metrics.started();
    try {
      const status = await body();
      if (status === 'completed') {
        await this.finalValidation();
        this.setPhase('completed');
        this.audit.record('done', 'rotate_credentials', 'success', {
          validation_status: this.validation?.ok === false ? 'failed' : 'passed',
        });
        this.metrics.completed();
      }
      return await this.result(status);
    } catch (err) {
      if (this.cleanupStarted) throw err;
      if (err instanceof OutsideMaintenanceWindow) return await this.endOutsideWindow(err.message);
      const requested = err instanceof RollbackRequested;
      const reason = requested
        ? `operator rollback: ${err.message}`
        : isCancellation(err)
          ? 'workflow cancelled'
          : describeError(err);
      if (this.saga.pending().length === 0 && !requested) {
        // nothing was changed (pre-flight, input, an unreachable system): say so, keep typed failures as they are
        await this.audit.settled();
        this.metrics.notStarted();
        if (err instanceof ApplicationFailure || isCancellation(err)) throw err;
        throw ApplicationFailure.nonRetryable(`nothing was changed: ${reason}`, 'RotationNotStarted');
      }
      await this.rollBack(reason);
      this.metrics.rolledBack(requested ? 'operator' : isCancellation(err) ? 'cancelled' : 'failure');
      if (requested) return await this.result('rolled-back');
      await this.audit.settled();
      if (isCancellation(err)) throw err;
      throw ApplicationFailure.nonRetryable(`rotation rolled back: ${reason}`, 'RotationRolledBack', {
        leftByHand: this.leftByHand,
      });
    }
  }

  /** The runbook's "validate" after a rotation: the procedure's checklist lines, evidence in the step and the audit log. */
  private async finalValidation(): Promise<void> {
    const v = this.spec.validation;
    // runs that started before this patch end as they did
    if (!v || !patched('final-validation')) return;
    const report = await this.step(
      'access-validation',
      () => runValidationChecks(v.components, v.targets),
      (x) => `${x.summary.pass} pass, ${x.summary.fail} fail, ${x.summary.skip} skip`,
    );
    const failed = report.checks
      .filter((c) => c.status === 'fail')
      .map((c) => `${c.component}: ${c.check} (saw ${c.evidence.saw})`);
    this.validation = { ok: report.ok, failed };
    this.audit.record('access-validation', 'access_validation', report.ok ? 'success' : 'failed', {
      validation_status: report.ok ? 'passed' : 'failed',
      detail: failed.join('; ') || `${report.summary.pass} checks passed`,
    });
  }

  /** The window closed before the switch: undo staging (if any), record it, end cleanly (not a failure: nothing is half-done). */
  private async endOutsideWindow(reason: string): Promise<RotationResult> {
    if (this.saga.pending().length > 0) await this.rollBack(reason);
    this.tracker.note('maintenance-window', 'skipped', reason);
    this.tracker.setPhase('outside-window');
    this.audit.record('maintenance-window', 'rotate_credentials', 'skipped', { detail: reason });
    return this.result('outside-window');
  }

  private async rollBack(reason: string): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      this.setPhase('rolling-back');
      this.audit.record('rollback', 'rollback_started', 'started', { event_type: 'compensation', detail: reason });
      await this.saga.compensate({
        done: (c) => {
          this.tracker.note(`undo:${c.step}`, 'compensated', c.description);
          this.audit.record(c.step, `compensate_${c.step}`, 'success', { event_type: 'compensation' });
        },
        stuck: (c, error) => this.park(`undo:${c.step}`, error, c.description),
      });
      this.setPhase('rolled-back');
      this.audit.record('rollback', 'rotate_credentials', 'rolled_back', {
        event_type: 'compensation',
        detail: reason,
      });
    });
  }

  /** needs-attention: wait for an operator's retry, or abandon (recorded as work left by hand). */
  private async park(step: string, error: string, whatIsLeft: string): Promise<'retry' | 'abandon'> {
    const before = this.tracker.phase;
    this.attention = { step, error };
    this.tracker.note(step, 'failed', error);
    this.setPhase('needs-attention');
    this.audit.record(step, step, 'needs_attention', { detail: error });
    this.metrics.needsAttention(step);
    const decision = await this.control.awaitDecision();
    this.attention = null;
    if (decision.kind === 'abandon') {
      this.leftByHand.push(`${whatIsLeft} — abandoned by ${decision.by}: ${decision.reason}`);
      this.tracker.note(step, 'abandoned', decision.reason);
    }
    this.setPhase(before);
    return decision.kind;
  }

  private async result(status: RotationResult['status']): Promise<RotationResult> {
    await this.audit.settled();
    const { workflowId } = workflowInfo();
    return {
      status,
      workflowId,
      procedure: this.spec.procedure,
      target: this.spec.target,
      from: this.from,
      to: this.to,
      steps: this.tracker.steps,
      plan: this.plan,
      leftByHand: this.leftByHand,
      auditGaps: this.audit.gaps,
      ...(this.validation ? { validation: this.validation } : {}),
    };
  }

  private progress(): RotationProgress {
    const { workflowId, runId } = workflowInfo();
    return {
      workflowId,
      runId,
      procedure: this.spec.procedure,
      target: this.spec.target,
      resource: this.spec.resource,
      phase: this.tracker.phase,
      from: this.from,
      to: this.to,
      details: this.spec.details,
      graceEndsAt: this.graceEndsAt === null ? null : new Date(this.graceEndsAt).toISOString(),
      steps: this.tracker.steps,
      rollbackWouldUndo: this.cleanupStarted ? [] : this.saga.pending(),
      attention: this.attention,
      leftByHand: this.leftByHand,
      reason: this.spec.reason,
      requestedBy: this.spec.requestedBy,
    };
  }
}
