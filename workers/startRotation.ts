import type { Client } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { rotationWorkflowId } from '../workflows/ids.js';
import { parseRotationInput, type PostgresCdcRotationInput } from '../workflows/postgresCdcInput.js';
import { RotationComponent, RotationPhase, RotationTarget } from '../workflows/searchAttributes.js';
import { rotatePostgresCdcCredentials } from '../workflows/rotatePostgresCdc.js';

export class RotationInProgressError extends Error {
  override name = 'RotationInProgressError';
}

/**
 * Validates the input at the edge (errors name the field), refuses a second rotation of
 * a running target, and starts the workflow with a readable id, search attributes and memo.
 */
export async function startPostgresCdcRotation(client: Client, raw: PostgresCdcRotationInput, opts: { taskQueue: string; now?: Date }) {
  const plan = parseRotationInput(raw);
  const running = client.workflow.list({ query: `RotationTarget = "${plan.target}" AND RotationComponent = "postgresql-cdc" AND ExecutionStatus = "Running"` });
  for await (const wf of running) {
    throw new RotationInProgressError(`a rotation of target ${plan.target} is already running: ${wf.workflowId}; wait for it, or send it a rollback/cleanupNow signal`);
  }
  const workflowId = rotationWorkflowId('postgresql-cdc', plan.target, opts.now ?? new Date());
  return client.workflow.start(rotatePostgresCdcCredentials, {
    taskQueue: opts.taskQueue,
    workflowId,
    args: [raw],
    typedSearchAttributes: new TypedSearchAttributes([
      { key: RotationComponent, value: 'postgresql-cdc' },
      { key: RotationTarget, value: plan.target },
      { key: RotationPhase, value: 'pending' },
    ]),
    memo: { reason: plan.reason, requestedBy: plan.requestedBy, strategy: plan.strategy, gracePeriod: plan.gracePeriod, dryRun: plan.dryRun },
    staticSummary: `Rotate PostgreSQL CDC user of ${plan.target} (${plan.strategy}, grace ${plan.gracePeriod})`,
  });
}
