import type { ActivityOptions } from '@temporalio/workflow';

/**
 * Timeouts every procedure shares. Activities that wait bound their own wait to at most
 * 600 s and heartbeat while waiting, so the 11-minute start-to-close always covers them
 * and a worker that dies mid-wait is noticed within the 30 s heartbeat timeout.
 */
export const activityOptions = {
  /** Reads: quick, retried briefly. */
  read: { startToCloseTimeout: '30s', retry: { initialInterval: '1s', maximumAttempts: 5 } },
  /** Idempotent changes. */
  change: { startToCloseTimeout: '60s', retry: { initialInterval: '1s', backoffCoefficient: 2, maximumAttempts: 5 } },
  /** Waits on the outside world (≤ 600 s each, heartbeating). */
  wait: { startToCloseTimeout: '11m', heartbeatTimeout: '30s', retry: { initialInterval: '2s', maximumAttempts: 3 } },
  /** Compensations and cleanup: retried longer before an operator is asked. */
  undo: { startToCloseTimeout: '11m', heartbeatTimeout: '30s', retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 6 } },
} satisfies Record<string, ActivityOptions>;
