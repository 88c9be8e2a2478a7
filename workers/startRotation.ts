import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { parsePostgresCdcInput, type PostgresCdcRotationInput } from '../workflows/postgresCdc/input.js';
import { rotatePostgresCdcCredentials } from '../workflows/postgresCdc/workflow.js';
import { dryRunWorkflowId, rotationWorkflowId } from '../workflows/rotation/ids.js';
import { RotationComponent, RotationPhase, RotationTarget } from '../workflows/rotation/searchAttributes.js';

export class RotationInProgressError extends Error {
  override name = 'RotationInProgressError';
}

/**
 * Validates the input at the edge (errors name the field) and starts the rotation under
 * its resource's workflow id, so the server refuses a second running rotation of the same
 * credential. The raw input is what the workflow receives: the worker resolves defaults.
 * (The Web UI and `temporal workflow start` reach the same workflow with plain JSON; the
 * workflow labels itself, so those runs are searchable too.)
 */
export async function startPostgresCdcRotation(client: Client, raw: PostgresCdcRotationInput, opts: { taskQueue: string; now?: Date }) {
  const plan = parsePostgresCdcInput(raw);
  const procedure = 'postgresql-cdc';
  const workflowId = plan.dryRun ? dryRunWorkflowId(procedure, plan.secret, opts.now ?? new Date()) : rotationWorkflowId(procedure, plan.secret);
  try {
    return await client.workflow.start(rotatePostgresCdcCredentials, {
      taskQueue: opts.taskQueue,
      workflowId,
      args: [raw],
      typedSearchAttributes: new TypedSearchAttributes([
        { key: RotationComponent, value: procedure },
        { key: RotationTarget, value: plan.target },
        { key: RotationPhase, value: 'pending' },
      ]),
      staticSummary: `${plan.dryRun ? 'Dry run: ' : ''}rotate the PostgreSQL CDC user of ${plan.target} (${plan.secret}, ${plan.strategy}, grace ${plan.gracePeriod}${plan.compromise ? ', COMPROMISE' : ''})`,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new RotationInProgressError(`a rotation of ${plan.secret} is already running (workflow ${workflowId}); follow it with \`rekey progress ${workflowId}\`, or roll it back`);
    }
    throw err;
  }
}
