import type { ActivityOptions } from '@temporalio/workflow';

/**
 * Timeouts every procedure shares. Activities that wait bound their own wait to at most
 * 600 s and heartbeat while waiting, so the 11-minute start-to-close always covers them
 * and a worker that dies mid-wait is noticed within the 30 s heartbeat timeout.
 */
export const activityOptions = {
  /**
   * Reads: quick, retried for ~45 s (1, 2, 4, 8, then every 10 s): a Kafka Connect REST API
   * answering 503 or a Kubernetes API server away for 30 s (the fault matrix's cells) is waited
   * out instead of rolling a rotation back. A retry policy is not part of the replayed commands:
   * changing it needs no patch.
   */
  read: {
    startToCloseTimeout: '30s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 8 },
  },
  /** Idempotent changes: the same ~45 s budget. */
  change: {
    startToCloseTimeout: '60s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 8 },
  },
  /** Waits on the outside world (≤ 600 s each, heartbeating). */
  wait: { startToCloseTimeout: '11m', heartbeatTimeout: '30s', retry: { initialInterval: '2s', maximumAttempts: 3 } },
  /** Compensations and cleanup: retried longer before an operator is asked. */
  undo: {
    startToCloseTimeout: '11m',
    heartbeatTimeout: '30s',
    retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 6 },
  },
} satisfies Record<string, ActivityOptions>;
