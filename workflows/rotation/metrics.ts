import { metricMeter } from '@temporalio/workflow';
import { metricNames } from './metricNames.js';

export type RollbackCause = 'operator' | 'failure' | 'cancelled';

/**
 * A rotation's metrics through the SDK's workflow meter: sent to the worker's exporter on
 * first execution only (the SDK drops them on replay), recorded nowhere in history, so
 * adding or changing them needs no patch. Dry runs change nothing and are not counted.
 * Times are workflow time (the activation's clock), in seconds.
 */
export class RotationMetrics {
  private readonly tags: Record<string, string>;
  private readonly counting: boolean;

  constructor(spec: { procedure: string; component: string; target: string; dryRun: boolean }) {
    this.tags = { procedure: spec.procedure, component: spec.component, target: spec.target };
    this.counting = !spec.dryRun;
  }

  started(): void {
    this.count(metricNames.started, 'rotations started (dry runs excluded)');
  }

  /** Also moves the last-success gauge the RotationOverdue alert reads. */
  completed(): void {
    this.count(metricNames.completed, 'rotations that reached the end of cleanup');
    if (!this.counting) return;
    metricMeter
      .createGauge(metricNames.lastSuccess, 'float', 's', 'unix time of the last completed rotation')
      .set(Date.now() / 1000, this.tags);
  }

  rolledBack(cause: RollbackCause): void {
    this.count(metricNames.rolledBack, 'rotations whose changes were undone', { cause });
  }

  /** Failed before changing anything (pre-flight, input, an unreachable system). */
  notStarted(): void {
    this.count(metricNames.notStarted, 'rotations that failed before changing anything');
  }

  needsAttention(step: string): void {
    this.count(metricNames.needsAttention, 'times a rotation parked waiting for an operator', { step });
  }

  step(name: string, outcome: 'ok' | 'failed', startedAtMs: number): void {
    const seconds = Math.max(0, (Date.now() - startedAtMs) / 1000);
    metricMeter
      .createHistogram(metricNames.stepDuration, 'float', 's', 'duration of each rotation step')
      .record(seconds, { ...this.tags, step: name, outcome });
  }

  private count(name: string, description: string, extra: Record<string, string> = {}): void {
    if (this.counting) metricMeter.createCounter(name, undefined, description).add(1, { ...this.tags, ...extra });
  }
}
