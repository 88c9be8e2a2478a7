/**
 * rekey's own Prometheus metrics, as scraped (the exporter adds `_total` to counters).
 * Shared by the workflow kit that emits them and the worker that configures the exporter;
 * no imports, so worker code can read it without loading workflow APIs.
 */
export const metricNames = {
  started: 'rekey_rotations_started',
  completed: 'rekey_rotations_completed',
  rolledBack: 'rekey_rotations_rolled_back',
  notStarted: 'rekey_rotations_not_started',
  needsAttention: 'rekey_rotations_needs_attention',
  stepDuration: 'rekey_rotation_step_duration_seconds',
  lastSuccess: 'rekey_rotation_last_success_timestamp_seconds',
} as const;

/** Seconds: a query takes well under one, a connector restart or a verification minutes. */
export const stepDurationBuckets = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
