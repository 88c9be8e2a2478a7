import { type Command, InvalidArgumentError } from 'commander';
import { withClient } from '../context.js';
import { components as allComponents, type CheckResult, type ValidationReport } from '../../contracts/checklist.js';
import type { validatePipeline } from '../../workflows/validation/workflow.js';

const choices = ['all', ...allComponents];

/** `--component` may repeat or hold a comma list; an unknown name is named with the valid ones. */
function component(value: string, previous: string[] = []): string[] {
  const names = value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  const bad = names.filter((n) => !choices.includes(n));
  if (bad.length || names.length === 0)
    throw new InvalidArgumentError(
      `unknown component ${JSON.stringify(bad.join(',') || value)}: use ${choices.join('|')}`,
    );
  return [...previous, ...names];
}

const mark = { pass: '✓', fail: '✗', skip: '–' } as const;

function printCheck(c: CheckResult, verbose: boolean): void {
  console.log(`${mark[c.status]} ${c.component.padEnd(15)} ${c.check}`);
  if (verbose || c.status !== 'pass') {
    if (verbose) console.log(`    queried:  ${c.evidence.queried}`);
    console.log(`    saw:      ${c.evidence.saw}`);
    if (verbose) console.log(`    expected: ${c.evidence.expected}`);
  }
}

/** The report a finished run carries: its result, or the details of its ValidationFailed failure. */
async function reportOfFailure(err: unknown): Promise<ValidationReport | undefined> {
  const { ApplicationFailure, WorkflowFailedError } = await import('@temporalio/client');
  const { VALIDATION_FAILED } = await import('../../workflows/validation/workflow.js');
  if (
    !(err instanceof WorkflowFailedError) ||
    !(err.cause instanceof ApplicationFailure) ||
    err.cause.type !== VALIDATION_FAILED
  )
    return undefined;
  return err.cause.details?.[0] as ValidationReport | undefined;
}

export const validationWorkflowId = (components: string[], at: Date) =>
  `validate/${components.join('+')}/${at.toISOString().replace(/\.\d{3}Z$/, 'Z')}`;

/** `rekey validate`: the runbook's access-validation checklist as a read-only workflow. */
export function registerValidateCommands(program: Command): void {
  program
    .command('validate')
    .description(
      "run the runbook's access-validation checklist (read only) and print one line per check; exit code 1 if any check fails",
    )
    .option('--component <name>', `${choices.join('|')} (repeat or comma-separate for several)`, component)
    .option('--verbose', 'print every check with its evidence (what was queried, what came back, what a pass needs)')
    .option('--json', 'print the report as JSON')
    .action(async (o: { component?: string[]; verbose?: boolean; json?: boolean }) => {
      const requested = [...new Set(o.component ?? ['all'])];
      await withClient(async (client, taskQueue) => {
        const workflowId = validationWorkflowId(requested, new Date());
        const handle = await client.workflow.start<typeof validatePipeline>('validatePipeline', {
          taskQueue,
          workflowId,
          args: [{ components: requested, verbose: Boolean(o.verbose) }],
        });
        if (!o.json) console.log(`started ${workflowId}`);
        let report: ValidationReport;
        try {
          report = await handle.result();
        } catch (err) {
          const r = await reportOfFailure(err);
          if (!r)
            throw err instanceof Error && err.name === 'WorkflowFailedError'
              ? new Error(`${workflowId} failed: ${(err.cause as Error | undefined)?.message ?? err.message}`)
              : err;
          report = r;
        }
        if (o.json) console.log(JSON.stringify(report));
        else {
          for (const c of report.checks) printCheck(c, Boolean(o.verbose));
          console.log(
            `${report.ok ? 'PASSED' : 'FAILED'}: ${report.summary.pass} pass, ${report.summary.fail} fail, ${report.summary.skip} skip (${workflowId})`,
          );
        }
        if (!report.ok) process.exitCode = 1;
      });
    });
}
