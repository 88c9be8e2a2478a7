import type { Client } from '@temporalio/client';

export interface RotationRow {
  workflowId: string;
  /** The procedure (`postgresql-cdc`, `schema-registry`, `aws-keys`): RotationComponent, or the workflow id's `rotate-<procedure>/` prefix. */
  component: string;
  phase: string;
  target: string;
  startedAt: string;
}

/**
 * Running rotations of every procedure. Rotations label themselves with RotationComponent;
 * runs without it (started before the labels, or whose first task has not run yet) are
 * found by their workflow id, `rotate-<procedure>/<resource>`. The pre-kit lock children
 * (`targetLock`) share the prefix and are left out.
 */
export const RUNNING_ROTATIONS_QUERY = 'ExecutionStatus = "Running" AND WorkflowType != "targetLock" AND (RotationComponent IS NOT NULL OR WorkflowId STARTS_WITH "rotate-")';

export function componentOf(workflowId: string, attribute: unknown): string {
  if (typeof attribute === 'string' && attribute) return attribute;
  return /^rotate-([^/]+)\//.exec(workflowId)?.[1] ?? '?';
}

export async function listRotations(client: Client): Promise<RotationRow[]> {
  const rows: RotationRow[] = [];
  for await (const wf of client.workflow.list({ query: RUNNING_ROTATIONS_QUERY })) {
    const sa = wf.searchAttributes as Record<string, unknown[] | undefined>;
    rows.push({
      workflowId: wf.workflowId,
      component: componentOf(wf.workflowId, sa.RotationComponent?.[0]),
      phase: String(sa.RotationPhase?.[0] ?? '?'),
      target: String(sa.RotationTarget?.[0] ?? '?'),
      startedAt: wf.startTime.toISOString(),
    });
  }
  return rows.sort((a, b) => a.component.localeCompare(b.component) || a.startedAt.localeCompare(b.startedAt));
}
