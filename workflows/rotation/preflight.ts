import { ApplicationFailure } from '@temporalio/workflow';
import type { AuditTrail } from './audit.js';
import { describeError } from './errors.js';

/** One pre-flight check: what it saw and what it needed (shown by the CLI, kept in the failure's details). */
export interface CheckResult {
  check: string;
  ok: boolean;
  seen: string;
  expected: string;
}

export const check = (name: string, ok: boolean, seen: string, expected: string): CheckResult => ({
  check: name,
  ok,
  seen,
  expected,
});

/**
 * A procedure's plan (defaults and limits) resolved once by the worker through `resolve`, a
 * local activity, so it is recorded in history. Bad input fails the run as `InvalidInput`
 * with the validator's message, which names the field; nothing is retried or changed.
 */
export async function resolvePlanOnWorker<T>(resolve: () => Promise<T>): Promise<T> {
  try {
    return await resolve();
  } catch (err) {
    throw ApplicationFailure.nonRetryable(describeError(err).replace(/^InvalidInput: /, ''), 'InvalidInput');
  }
}

/**
 * How every pre-flight ends: a failed check refuses the rotation before anything changes
 * (`PreflightFailed`, the checks as details), unless the operator forced it with a reason,
 * which the audit records; a check named in `unforceable` refuses even then.
 */
export function gatePreflight(
  audit: AuditTrail,
  checks: CheckResult[],
  opts: { force?: { reason: string } | null; unforceable?: readonly string[] } = {},
): void {
  const failed = checks.filter((c) => !c.ok);
  if (failed.length === 0) {
    audit.record('preflight', 'preflight', 'success', { validation_status: 'passed' });
    return;
  }
  const summary = failed.map((c) => `${c.check}: saw ${c.seen}, expected ${c.expected}`).join('; ');
  const hard = failed.filter((c) => opts.unforceable?.includes(c.check));
  if (!opts.force || hard.length > 0) {
    const unforceable = opts.force ? ` (force does not apply to: ${hard.map((c) => c.check).join(', ')})` : '';
    throw ApplicationFailure.nonRetryable(
      `pre-flight failed, nothing was changed: ${summary}${unforceable}`,
      'PreflightFailed',
      checks,
    );
  }
  audit.record('preflight', 'preflight_forced', 'success', {
    validation_status: 'failed',
    detail: `forced past ${summary}; reason: ${opts.force.reason}`,
  });
}
