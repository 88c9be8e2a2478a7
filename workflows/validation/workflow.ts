import {
  ApplicationFailure,
  patched,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { RotationComponent, RotationPhase, RotationTarget } from '../rotation/searchAttributes.js';
import type { ValidationReport } from '../../contracts/checklist.js';
import { runValidationChecks } from './checks.js';
import { expandComponents, InvalidValidationInput, parseValidationInput } from '../../contracts/input/validation.js';

export const VALIDATION_FAILED = 'ValidationFailed';

const mark = { pass: '✓', fail: '✗', skip: '–' } as const;

/** The report as the Web UI's current details (markdown): one line per check. */
function details(report: ValidationReport): string {
  const head = `**${report.ok ? 'passed' : 'failed'}**: ${report.summary.pass} pass, ${report.summary.fail} fail, ${report.summary.skip} skip`;
  return [
    head,
    ...report.checks.map(
      (c) => `- ${mark[c.status]} ${c.component}: ${c.check}${c.status === 'pass' ? '' : ` — ${c.evidence.saw}`}`,
    ),
  ].join('\n');
}

/**
 * The access-validation checklist as a read-only workflow (`rekey validate`, the weekly
 * schedule, or the Web UI with `{ "components": ["all"] }`). Completes with the report when
 * nothing failed; otherwise fails with a non-retryable `ValidationFailed` whose details are the
 * report, so the run is red in the Web UI and its failure names the failed checks.
 */
export async function validatePipeline(raw: unknown): Promise<ValidationReport> {
  let plan;
  try {
    plan = parseValidationInput(raw);
  } catch (err) {
    if (err instanceof InvalidValidationInput)
      throw ApplicationFailure.create({ message: err.message, type: 'InvalidInput', nonRetryable: true });
    throw err;
  }
  // `all` took in the secured Kafka's lines later: runs started before keep the lines they had
  const components = expandComponents(plan.components).filter(
    (c) => c !== 'kafka' || plan.components.includes('kafka') || patched('validation-kafka'),
  );
  upsertSearchAttributes([
    { key: RotationComponent, value: 'validation' },
    { key: RotationTarget, value: plan.components.includes('all') ? 'all' : components.join(',') },
    { key: RotationPhase, value: 'checking' },
  ]);
  setCurrentDetails(`**checking** ${components.join(', ')} (${workflowInfo().workflowId})`);
  const report = await runValidationChecks(components, plan.targets);
  upsertSearchAttributes([{ key: RotationPhase, value: report.ok ? 'passed' : 'failed' }]);
  setCurrentDetails(details(report));
  if (!report.ok) {
    const failed = report.checks.filter((c) => c.status === 'fail').map((c) => `${c.component}: ${c.check}`);
    throw ApplicationFailure.create({
      message: `${failed.length} of ${report.checks.length} checks failed: ${failed.join('; ')}`,
      type: VALIDATION_FAILED,
      nonRetryable: true,
      details: [report],
    });
  }
  return report;
}
