import { log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { AuditEvent } from '../../activities/audit.js';
import type { Activities } from '../../activities/index.js';

// Short and bounded: an audit outage must never hold a rotation or its rollback.
const audit = proxyActivities<Pick<Activities, 'appendAudit'>>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '1s', maximumAttempts: 3 },
});

export interface AuditContext {
  component: string;
  requestedBy: string;
  /** Current from/to credential names and whether a rollback could still undo anything. */
  snapshot(): { from: string | null; to: string | null; rollbackAvailable: boolean };
}

/**
 * The runbook's audit trail, written by an activity to the hash-chained log. Appends run
 * in the background: the rotation never waits on them (a failed append is counted and
 * logged, never thrown), and the workflow settles them all before it returns.
 * Event ids carry the run id, so a retried append is recognised and a new run of the same
 * workflow id never collides with an earlier one.
 */
export class AuditTrail {
  private seq = 0;
  private readonly inFlight = new Set<Promise<void>>();
  /** Appends are chained one after another, so the log's order is the events' order (runs before this patch appended concurrently). */
  private readonly ordered: boolean;
  private tail: Promise<void> = Promise.resolve();
  gaps = 0;

  constructor(
    ordered: boolean,
    private readonly ctx: AuditContext,
  ) {
    this.ordered = ordered;
  }

  record(step: string, action: string, status: AuditEvent['status'], extra: Partial<AuditEvent> = {}): void {
    const { workflowId, runId } = workflowInfo();
    const now = this.ctx.snapshot();
    const event: AuditEvent = {
      eventId: `${workflowId}/${runId}#${++this.seq}`,
      timestamp: new Date().toISOString(),
      event_type: 'credential_rotation',
      component: this.ctx.component,
      user: this.ctx.requestedBy,
      action,
      old_user: now.from,
      new_user: now.to,
      status,
      validation_status: 'not_applicable',
      rollback_available: now.rollbackAvailable,
      workflow_id: workflowId,
      step,
      ...extra,
    };
    const append = () => audit.appendAudit(event);
    // once an append has failed the log has a gap anyway: stop queueing behind a slow audit volume
    const p = (this.ordered && this.gaps === 0 ? this.tail.then(append) : append()).then(
      () => undefined,
      (err: unknown) => {
        this.gaps++;
        log.warn('audit append failed; the rotation goes on', {
          action,
          error: err instanceof Error ? err.message : String(err),
        });
      },
    );
    if (this.ordered) this.tail = p;
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}
