import { setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import type { Phase, StepRecord } from './definitions.js';
import { describeError, RollbackRequested } from './errors.js';
import { RotationPhase } from './searchAttributes.js';

/**
 * Progress as operators see it: the `progress` query's steps, the Web UI's current
 * details, and the RotationPhase search attribute (kept current, so lists filter by it).
 */
export class PhaseTracker {
  readonly steps: StepRecord[] = [];
  phase: Phase = 'pending';

  constructor(
    private readonly headline: () => string,
    /** Told when each step ends (rotation metrics). */
    private readonly onStepEnd: (name: string, outcome: 'ok' | 'failed', startedAtMs: number) => void = () => {},
  ) {}

  setPhase(phase: Phase): void {
    if (phase === this.phase) return;
    this.phase = phase;
    upsertSearchAttributes([{ key: RotationPhase, value: phase }]);
    setCurrentDetails(`**${phase}** — ${this.headline()}`);
  }

  async step<T>(name: string, run: () => Promise<T>, detail?: (result: T) => string, undo?: string): Promise<T> {
    const startedAtMs = Date.now();
    const record: StepRecord = {
      name,
      startedAt: new Date(startedAtMs).toISOString(),
      outcome: 'running',
      ...(undo ? { undo } : {}),
    };
    this.steps.push(record);
    try {
      const result = await run();
      record.outcome = 'ok';
      if (detail) record.detail = detail(result);
      return result;
    } catch (err) {
      const stopped = err instanceof RollbackRequested;
      record.outcome = stopped ? 'skipped' : 'failed';
      record.detail = stopped ? `stopped by the rollback: ${err.message}` : describeError(err);
      throw err;
    } finally {
      record.endedAt = new Date().toISOString();
      this.onStepEnd(name, record.outcome === 'ok' ? 'ok' : 'failed', startedAtMs);
    }
  }

  note(name: string, outcome: StepRecord['outcome'], detail?: string): void {
    const now = new Date().toISOString();
    this.steps.push({ name, startedAt: now, endedAt: now, outcome, detail });
  }
}
