import {
  ApplicationFailure,
  type ChildWorkflowHandle,
  condition,
  defineSignal,
  ParentClosePolicy,
  setHandler,
  sleep,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { PhaseTracker } from './tracker.js';

/** Ends a lease: sent by its holder once its restarts are verified. */
export const releaseLeaseSignal = defineSignal('releaseLease');

/** How long a procedure waits for a workload another procedure holds, and how often it looks. */
export const LEASE_WAIT_MS = 10 * 60_000;
const LEASE_POLL = '5 seconds';

export const leaseWorkflowId = (resource: string) => `lease/${resource}`;

/**
 * A lease on a workload (`connector/<name>`): a child workflow under the id
 * `lease/<resource>`, which the server lets exist only once, so two procedures never restart
 * one connector at once (a CDC switch and a registry switch started together after a Temporal
 * outage; a Connect certificate rotation under a CDC switch). It lives until its holder
 * releases it, or until the holder closes (parent-close policy TERMINATE). In the Web UI it
 * is a child of its holder.
 */
export async function workloadLease(_input: { resource: string; holder: string }): Promise<void> {
  let released = false;
  setHandler(releaseLeaseSignal, () => {
    released = true;
  });
  await condition(() => released);
}

/** The holder's side: acquire before the first change (waiting up to LEASE_WAIT_MS), release after verification. */
export class LeaseHolder {
  private handle: ChildWorkflowHandle<typeof workloadLease> | null = null;

  /**
   * `step`: the name its waits and acquisition are recorded under; `waitMs`: how long to wait
   * for another holder (0: refuse at once, for a lease held through grace, days long).
   */
  constructor(
    private readonly resource: string,
    private readonly tracker: PhaseTracker,
    private readonly opts: { step?: string; waitMs?: number } = {},
  ) {}

  private get step(): string {
    return this.opts.step ?? 'lease';
  }

  get held(): boolean {
    return this.handle !== null;
  }

  /** Whether this holder holds `resource`'s lease now. */
  holds(resource: string): boolean {
    return this.held && this.resource === resource;
  }

  async acquire(): Promise<void> {
    const workflowId = leaseWorkflowId(this.resource);
    const started = Date.now();
    for (let noted = false; ;) {
      try {
        this.handle = await startChild(workloadLease, {
          workflowId,
          args: [{ resource: this.resource, holder: workflowInfo().workflowId }],
          parentClosePolicy: ParentClosePolicy.TERMINATE,
          staticSummary: `lease on ${this.resource}, held by ${workflowInfo().workflowId}`,
        });
        if (noted)
          this.tracker.note(
            this.step,
            'ok',
            `${this.resource} acquired after ${Math.round((Date.now() - started) / 1000)} s`,
          );
        return;
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        const waitMs = this.opts.waitMs ?? LEASE_WAIT_MS;
        if (Date.now() - started >= waitMs) {
          throw ApplicationFailure.nonRetryable(
            `${this.resource} is busy: another procedure holds ${workflowId} (its parent in the Web UI, or temporal workflow describe -w ${workflowId})${waitMs > 0 ? ` and did not release it within ${waitMs / 60_000} min` : ''}; nothing was changed, start this one again when it is done`,
            'WorkloadBusy',
          );
        }
        if (!noted)
          this.tracker.note(
            this.step,
            'skipped',
            `waiting: another procedure holds ${workflowId} (it restarts ${this.resource}); waits up to ${waitMs / 60_000} min`,
          );
        noted = true;
        await sleep(LEASE_POLL);
      }
    }
  }

  async release(): Promise<void> {
    const h = this.handle;
    if (!h) return;
    this.handle = null;
    await h.signal(releaseLeaseSignal);
    // closed before its holder: nothing left for the parent-close policy to act on
    await h.result();
  }
}
