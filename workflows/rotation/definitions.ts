/**
 * Signals, queries and the shapes they carry, defined once for every procedure.
 * The CLI, tests and workflows import these; nothing re-spells the names as strings.
 * (The Web UI and `temporal workflow signal --name …` use the same names: rollback,
 * cleanupNow, extendGrace, retry, abandon; query: progress.)
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import { MAX_GRACE_MS, parseIsoDuration } from '../../contracts/duration.js';

export type Phase =
  | 'pending'
  | 'preflight'
  | 'staging'
  | 'switching'
  | 'verifying'
  | 'grace'
  | 'cleanup'
  | 'completed'
  | 'rolling-back'
  | 'rolled-back'
  | 'needs-attention'
  | 'dry-run-complete'
  /** A scheduled rotation that could not switch inside its maintenance window: it ended without switching. */
  | 'outside-window';

export interface StepRecord {
  name: string;
  startedAt: string;
  endedAt?: string;
  outcome: 'running' | 'ok' | 'failed' | 'compensated' | 'skipped' | 'ignored' | 'abandoned';
  detail?: string;
  /** A change's compensation, as registered when it ran: the same text the dry-run plan shows for the step. */
  undo?: string;
}

/** One step as the plan (dry run) shows it: what it changes, how, and how it is undone. */
export interface PlannedStep {
  name: string;
  phase: Phase;
  does: string;
  undo?: string;
}

/** A plan entry: what every procedure's steps.ts writes its steps with. */
export const plannedStep = (name: string, phase: Phase, does: string, undo?: string): PlannedStep => ({
  name,
  phase,
  does,
  ...(undo ? { undo } : {}),
});

export interface RotationProgress {
  workflowId: string;
  runId: string;
  procedure: string;
  target: string;
  /** What one rotation at a time is keyed on (e.g. the credential's Secret). */
  resource: string;
  phase: Phase;
  /** The credential before and after (user names, key ids: never values). */
  from: string | null;
  to: string | null;
  details: Record<string, string>;
  graceEndsAt: string | null;
  steps: StepRecord[];
  /** What a rollback would undo now, newest first. */
  rollbackWouldUndo: Array<{ step: string; description: string }>;
  attention: { step: string; error: string } | null;
  /** Work an operator took over with `abandon`, to be finished by hand. */
  leftByHand: string[];
  reason: string;
  requestedBy: string;
}

export interface RotationResult {
  status: 'completed' | 'rolled-back' | 'dry-run' | 'outside-window';
  workflowId: string;
  procedure: string;
  target: string;
  from: string | null;
  to: string | null;
  steps: StepRecord[];
  /** Dry run: every step the rotation would take, with its compensation. */
  plan?: PlannedStep[];
  leftByHand: string[];
  /** Audit appends that failed (the rotation never waits on the audit log). */
  auditGaps: number;
  /** The final verification: the runbook's checklist lines of this procedure's components, after cleanup. */
  validation?: { ok: boolean; failed: string[] };
}

const by = z.string().min(1).max(200).optional();
const duration = z
  .string()
  .max(40)
  .refine((v) => {
    const ms = parseIsoDuration(v);
    return ms !== undefined && ms > 0 && ms <= MAX_GRACE_MS;
  }, 'must be a positive ISO-8601 duration of at most P30D, such as PT12H');

/** Signal payloads, validated inside the workflow: a malformed one is ignored and recorded, never fatal. */
export const RollbackRequest = z.object({ reason: z.string().min(1).max(500), by }).strict();
export const ExtendGraceRequest = z.object({ duration, by }).strict();
export const OperatorRequest = z.object({ by }).strict();
export const AbandonRequest = z.object({ reason: z.string().min(1).max(500), by }).strict();

export type RollbackRequest = z.infer<typeof RollbackRequest>;
export type ExtendGraceRequest = z.infer<typeof ExtendGraceRequest>;
export type OperatorRequest = z.infer<typeof OperatorRequest>;
export type AbandonRequest = z.infer<typeof AbandonRequest>;

export const progressQuery = defineQuery<RotationProgress>('progress');
/** Undo the rotation (any time before cleanup starts). */
export const rollbackSignal = defineSignal<[RollbackRequest]>('rollback');
/** What `requestRollback` answers at once when it accepts a rollback. */
export interface RollbackAccepted {
  accepted: true;
  phase: Phase;
  /** The step whose wait the rollback stops now (null: none in flight, or a change, which runs to its end first). */
  interrupts: string | null;
  /** What the rollback will undo, newest first. */
  willUndo: string[];
}
/**
 * The rollback as an Update: the same request as the signal, but the caller learns at once
 * whether it was accepted (a refused one, e.g. once cleanup started, is rejected with the
 * reason and leaves nothing in the history).
 */
export const requestRollbackUpdate = defineUpdate<RollbackAccepted, [RollbackRequest]>('requestRollback');
/** End the grace period now. */
export const cleanupNowSignal = defineSignal<[OperatorRequest?]>('cleanupNow');
/** Hold the old credential longer (total grace at most P30D). */
export const extendGraceSignal = defineSignal<[ExtendGraceRequest]>('extendGrace');
/**
 * The credential is compromised (sent by the emergency rotate-all): end this rotation the way
 * that leaves the old credential unusable soonest, whatever its phase. In grace: clean up now.
 * Before grace: roll back at once (the emergency then rotates again in compromise mode).
 * In cleanup: nothing to do, the old credential is being removed.
 */
export const compromiseSignal = defineSignal<[OperatorRequest?]>('compromise');
/** After a step parked the rotation in needs-attention: try it again. */
export const retrySignal = defineSignal<[OperatorRequest?]>('retry');
/** After a step parked the rotation in needs-attention: skip it; it is recorded as left to do by hand. */
export const abandonSignal = defineSignal<[AbandonRequest]>('abandon');

export const signalNames = {
  rollback: rollbackSignal.name,
  cleanupNow: cleanupNowSignal.name,
  extendGrace: extendGraceSignal.name,
  retry: retrySignal.name,
  abandon: abandonSignal.name,
  compromise: compromiseSignal.name,
} as const;

export const updateNames = { requestRollback: requestRollbackUpdate.name } as const;
