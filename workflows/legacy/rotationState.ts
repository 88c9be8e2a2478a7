import {
  defineQuery,
  defineSignal,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { RotationPhase } from '../rotation/searchAttributes.js';

export type Phase =
  | 'preflight'
  | 'staging'
  | 'creating-role'
  | 'switching'
  | 'verifying'
  | 'grace'
  | 'cleanup'
  | 'completed'
  | 'rolling-back'
  | 'rolled-back'
  | 'needs-attention'
  | 'dry-run-complete';

export interface StepRecord {
  name: string;
  startedAt: string;
  endedAt?: string;
  outcome: 'running' | 'ok' | 'failed' | 'compensated' | 'skipped';
  detail?: string;
}

export interface RotationProgress {
  workflowId: string;
  target: string;
  phase: Phase;
  strategy: string;
  oldUser: string | null;
  newUser: string | null;
  graceEndsAt: string | null;
  steps: StepRecord[];
  /** What a rollback would undo now, newest first. */
  rollbackWouldUndo: Array<{ step: string; description: string }>;
  attention: { step: string; error: string } | null;
  reason: string;
  requestedBy: string;
}

export const progressQuery = defineQuery<RotationProgress>('progress');
export const rollbackSignal = defineSignal<[{ reason: string; by?: string }]>('rollback');
export const cleanupNowSignal = defineSignal<[{ by?: string }?]>('cleanupNow');
export const extendGraceSignal = defineSignal<[{ duration: string; by?: string }]>('extendGrace');
/** After a compensation or cleanup parked the rotation in needs-attention: try again. */
export const retrySignal = defineSignal<[{ by?: string }?]>('retry');

/** Progress as the `progress` query, the Web UI's current details and the RotationPhase search attribute show it. */
export class RotationTracker {
  readonly steps: StepRecord[] = [];
  phase: Phase = 'preflight';

  constructor(private readonly describe: (phase: Phase) => string) {}

  setPhase(phase: Phase): void {
    this.phase = phase;
    upsertSearchAttributes([{ key: RotationPhase, value: phase }]);
    setCurrentDetails(`**${phase}** — ${this.describe(phase)}`);
  }

  async step<T>(name: string, run: () => Promise<T>, detail?: (result: T) => string): Promise<T> {
    const record: StepRecord = { name, startedAt: new Date().toISOString(), outcome: 'running' };
    this.steps.push(record);
    try {
      const result = await run();
      record.outcome = 'ok';
      if (detail) record.detail = detail(result);
      return result;
    } catch (err) {
      record.outcome = 'failed';
      record.detail = err instanceof Error ? err.message : String(err);
      throw err;
    } finally {
      record.endedAt = new Date().toISOString();
    }
  }

  note(name: string, outcome: StepRecord['outcome'], detail?: string): void {
    const now = new Date().toISOString();
    this.steps.push({ name, startedAt: now, endedAt: now, outcome, detail });
  }
}

export const workflowId = () => workflowInfo().workflowId;
