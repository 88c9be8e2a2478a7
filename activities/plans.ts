import { ApplicationFailure } from '@temporalio/activity';
import { InvalidInputError, parsePostgresCdcInput, type PostgresCdcRotationPlan } from '../workflows/postgresCdc/input.js';

/**
 * Input resolution, run as a local activity when a rotation starts: validation and defaults
 * happen once on the worker and the resolved plan is recorded in history, so a later change
 * of defaults never alters a running rotation on replay. Failure drills are accepted only
 * by workers started for tests.
 */
export function createPlanActivities(deps: { testHooks: boolean }) {
  async function resolvePostgresCdcPlan(raw: unknown): Promise<PostgresCdcRotationPlan> {
    let plan: PostgresCdcRotationPlan;
    try {
      plan = parsePostgresCdcInput(raw);
    } catch (err) {
      if (err instanceof InvalidInputError) throw ApplicationFailure.nonRetryable(err.message, 'InvalidInput', err.issues);
      throw err;
    }
    if (plan.injectFailure && !deps.testHooks) {
      throw ApplicationFailure.nonRetryable('invalid rotation input: injectFailure: accepted only by a worker started with REKEY_TEST_HOOKS=true (rollback drills)', 'InvalidInput');
    }
    return plan;
  }
  return { resolvePostgresCdcPlan };
}
