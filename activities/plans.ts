import { ApplicationFailure } from '@temporalio/activity';
import { type CaRotationPlan, parseCaRotationInput } from '../contracts/input/caRotation.js';
import { type CertificateRotationPlan, parseCertificateInput } from '../contracts/input/certificate.js';
import { parseRenewalScanInput, type RenewalScanPlan } from '../contracts/input/renewalScan.js';
import { InvalidInputError } from '../contracts/errors.js';
import { type CredentialPlanResolvers, credentialProcedureIds, credentialProcedures } from '../contracts/procedures.js';

/**
 * Input resolution, run as a local activity when a rotation starts: validation and defaults
 * happen once on the worker and the resolved plan is recorded in history, so a later change
 * of defaults never alters a running rotation on replay. Failure drills are accepted only
 * by workers started for tests.
 */
export function createPlanActivities(deps: { testHooks: boolean }) {
  function resolve<P extends { injectFailure?: string }>(parse: (raw: unknown) => P, raw: unknown): P {
    let plan: P;
    try {
      plan = parse(raw);
    } catch (err) {
      if (err instanceof InvalidInputError)
        throw ApplicationFailure.nonRetryable(err.message, 'InvalidInput', err.issues);
      throw err;
    }
    if (plan.injectFailure && !deps.testHooks) {
      throw ApplicationFailure.nonRetryable(
        'invalid rotation input: injectFailure: accepted only by a worker started with REKEY_TEST_HOOKS=true (rollback drills)',
        'InvalidInput',
      );
    }
    return plan;
  }

  /** One per credential procedure, named by its contract (contracts/procedures.ts). */
  const credentialResolvers = Object.fromEntries(
    credentialProcedureIds.map((id) => {
      const parse = credentialProcedures[id].parse as (raw: unknown) => { injectFailure?: string };
      return [credentialProcedures[id].planResolver, async (raw: unknown) => resolve(parse, raw)];
    }),
  ) as CredentialPlanResolvers;

  async function resolveCertificatePlan(raw: unknown): Promise<CertificateRotationPlan> {
    return resolve(parseCertificateInput, raw);
  }

  async function resolveCaRotationPlan(raw: unknown): Promise<CaRotationPlan> {
    return resolve(parseCaRotationInput, raw);
  }

  async function resolveRenewalScanPlan(raw: unknown): Promise<RenewalScanPlan> {
    return resolve(parseRenewalScanInput as (r: unknown) => RenewalScanPlan & { injectFailure?: never }, raw);
  }

  return {
    ...credentialResolvers,
    resolveCertificatePlan,
    resolveCaRotationPlan,
    resolveRenewalScanPlan,
  };
}
