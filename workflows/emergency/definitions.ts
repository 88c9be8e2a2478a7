/**
 * The emergency isolation's names and shapes, defined once: the workflow, the CLI and the
 * tests import these (the Web UI and `temporal workflow signal --name restore` use the same
 * names: signal `restore`, query `isolation`).
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import type { IsolationAllow, IsolationRecord } from '../../activities/isolation.js';
import type { StepRecord } from '../rotation/definitions.js';

export const ISOLATION_COMPONENT = 'emergency-isolate';

/** One isolation per deployment: the server itself refuses a second run while one holds. */
/** `isolate/<deployment>`; a StatefulSet's: `isolate/statefulsets/<name>` (its own id, as a Deployment may share the name). */
export const isolationWorkflowId = (deployment: string, kind: 'Deployment' | 'StatefulSet' = 'Deployment') =>
  `${ISOLATION_COMPONENT}/${kind === 'StatefulSet' ? 'statefulsets/' : ''}${deployment}`;

export type IsolationPhase =
  'inspecting' | 'isolating' | 'isolated' | 'restoring' | 'restored' | 'rolling-back' | 'rolled-back';

export interface RestoreAttempt {
  by: string;
  reason: string;
  at: string;
  outcome: 'running' | 'ok' | 'failed';
  error?: string;
}

/** What the `isolation` query returns: the record restore puts back, and where the run is. */
export interface IsolationState {
  workflowId: string;
  deployment: string;
  phase: IsolationPhase;
  reason: string;
  requestedBy: string;
  allow: IsolationAllow[];
  /** Replicas and selector as they were before anything changed; null until inspected. */
  record: IsolationRecord | null;
  isolatedAt: string | null;
  restores: RestoreAttempt[];
  steps: StepRecord[];
  /** Undo steps that failed during a rollback: to be done by hand. */
  leftByHand: string[];
}

export interface IsolationResult {
  status: 'restored';
  workflowId: string;
  deployment: string;
  record: IsolationRecord;
  isolatedAt: string;
  restoredAt: string;
  restoredBy: string;
  restoreReason: string;
  steps: StepRecord[];
  auditGaps: number;
}

/** Signal payload, validated in the workflow: a malformed one is ignored and recorded, never fatal. */
export const RestoreRequest = z
  .object({ reason: z.string().min(1).max(500).optional(), by: z.string().min(1).max(200).optional() })
  .strict();
export type RestoreRequest = z.infer<typeof RestoreRequest>;

export const isolationQuery = defineQuery<IsolationState>('isolation');
/** Put back exactly what was there: the recorded replicas, and the emergency policy removed. */
export const restoreSignal = defineSignal<[RestoreRequest?]>('restore');
