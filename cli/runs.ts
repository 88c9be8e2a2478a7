import type { Client } from '@temporalio/client';
import { credentialProcedures } from '../contracts/procedures.js';

/**
 * Every kind of run an operator can start (CLI, Web UI, Schedules), by workflow type: what
 * `rekey list` shows and how `rekey progress` reads it. A workflow registered by the worker and
 * missing here fails test/unit/cliRuns.test.ts. Lock and lease children are internal: not listed.
 */
export type ProgressReader = 'rotation' | 'emergency' | 'isolation' | 'result';
export const RUN_KINDS: Record<string, { kind: string; progress: ProgressReader }> = {
  ...Object.fromEntries(
    Object.values(credentialProcedures).map((p) => [p.workflowType, { kind: p.id, progress: 'rotation' as const }]),
  ),
  rotateServiceCertificate: { kind: 'certificate', progress: 'rotation' },
  rotateCertificateAuthority: { kind: 'ca', progress: 'rotation' },
  emergencyRotateAll: { kind: 'emergency', progress: 'emergency' },
  isolateDeployment: { kind: 'isolation', progress: 'isolation' },
  validatePipeline: { kind: 'validation', progress: 'result' },
  runScheduled: { kind: 'schedule-run', progress: 'result' },
  renewCertificates: { kind: 'renewal-scan', progress: 'result' },
  issueFirstCertificate: { kind: 'certificate-issue', progress: 'result' },
  initCertificateAuthority: { kind: 'ca-init', progress: 'result' },
};
/** Internal children, never started by an operator. */
export const INTERNAL_TYPES = ['targetLock', 'workloadLease'];

export interface RunRow {
  workflowId: string;
  /** The procedure or kind of run (`postgresql-cdc`, `emergency`, `validation`, …): RotationComponent, else the workflow type's kind. */
  component: string;
  /** The rotation phase a rotation labels itself with; `running` for the others. */
  phase: string;
  target: string;
  startedAt: string;
}

const quoted = (names: string[]) => names.map((n) => `"${n}"`).join(', ');
/** Running runs of rekey's workflow types; rotations started before their labels are found by type too. */
export const RUNNING_RUNS_QUERY = `ExecutionStatus = "Running" AND WorkflowType IN (${quoted(Object.keys(RUN_KINDS))})`;

export function componentOf(type: string, workflowId: string, attribute: unknown): string {
  if (typeof attribute === 'string' && attribute) return attribute;
  return RUN_KINDS[type]?.kind ?? /^rotate-([^/]+)\//.exec(workflowId)?.[1] ?? type;
}

export async function listRuns(client: Client): Promise<RunRow[]> {
  const rows: RunRow[] = [];
  for await (const wf of client.workflow.list({ query: RUNNING_RUNS_QUERY })) {
    const sa = wf.searchAttributes as Record<string, unknown[] | undefined>;
    rows.push({
      workflowId: wf.workflowId,
      component: componentOf(wf.type, wf.workflowId, sa.RotationComponent?.[0]),
      phase: String(sa.RotationPhase?.[0] ?? 'running'),
      target: String(sa.RotationTarget?.[0] ?? '—'),
      startedAt: wf.startTime.toISOString(),
    });
  }
  return rows.sort((a, b) => a.component.localeCompare(b.component) || a.startedAt.localeCompare(b.startedAt));
}
