import type { CheckResult, CheckStatus, Component } from '../contracts/checklist.js';

export type { CheckResult, Component };

/** What a check found: its status and what it saw (never a secret value). */
export interface Finding {
  status: CheckStatus;
  saw: string;
}

export const pass = (saw: string): Finding => ({ status: 'pass', saw });
export const fail = (saw: string): Finding => ({ status: 'fail', saw });
export const skip = (saw: string): Finding => ({ status: 'skip', saw });
export const verdict = (ok: boolean, saw: string): Finding => ({ status: ok ? 'pass' : 'fail', saw });

/** First line of an error, bounded: what a check that could not even ask saw. */
export const errorText = (err: unknown): string =>
  `error: ${String((err as Error)?.message ?? err)
    .split('\n')[0]!
    .slice(0, 300)}`;

/**
 * Runs one read-only check: an exception (unreachable, refused, timed out) is a failed check
 * with the error as evidence, never an activity failure, so one broken system does not hide
 * the results of the others.
 */
export async function runCheck(
  component: Component,
  check: string,
  queried: string,
  expected: string,
  probe: () => Promise<Finding>,
): Promise<CheckResult> {
  let finding: Finding;
  try {
    finding = await probe();
  } catch (err) {
    finding = fail(errorText(err));
  }
  return { component, check, status: finding.status, evidence: { queried, saw: finding.saw, expected } };
}

/** `a, b, c` or `none`. */
export const list = (items: readonly string[]): string => (items.length ? items.join(', ') : 'none');
