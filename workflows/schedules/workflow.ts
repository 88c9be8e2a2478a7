import { ApplicationFailure, ParentClosePolicy, executeChild, patched, workflowInfo } from '@temporalio/workflow';
import {
  defineSearchAttributeKey,
  SearchAttributeType,
  WorkflowExecutionAlreadyStartedError,
} from '@temporalio/common';
import { credentialRotations } from '../procedures.js';
import { parseIsoDuration, rotationWorkflowId, type RotationResult } from '../rotation/index.js';
import type { ValidationReport } from '../../contracts/checklist.js';
import { validatePipeline } from '../validation/workflow.js';
import { renewCertificates } from '../certificates/renew.js';
import {
  MAX_WINDOW_LENGTH_MS,
  RUNBOOK_WINDOW,
  ScheduledRunInput,
  type ScheduledProcedure,
  type ScheduledRotation,
  type ScheduledRunPlan,
} from '../../contracts/input/schedules.js';

/** Set by the server on every workflow a Schedule starts: the action's nominal time (not when it actually ran). */
const TemporalScheduledStartTime = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

export interface ScheduledRunResult {
  schedule: string;
  procedure: ScheduledProcedure;
  /** The rotation this run started (or found running). */
  workflowId: string;
  scheduledAt: string;
  switchBy: string | null;
  status: RotationResult['status'] | 'already-running' | 'passed' | 'scanned';
  detail: string;
}

/**
 * What a Schedule starts: the procedure's rotation as a child under its one-per-credential id
 * (`rotate-<procedure>/<secret>`; a Schedule itself would append a timestamp), with the
 * maintenance window turned into the instant the switch must start by. A rotation already
 * running for the credential (a manual one) is left alone and reported. The rotation is
 * abandoned, not cancelled, if this run is terminated: a switch is never cut in half.
 */
export async function runScheduled(raw: ScheduledRunInput): Promise<ScheduledRunResult> {
  const parsed = ScheduledRunInput.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ');
    throw ApplicationFailure.nonRetryable(`invalid scheduled run input: ${issues}`, 'InvalidInput');
  }
  const plan = parsed.data;
  const info = workflowInfo();
  const scheduledAt = info.typedSearchAttributes.get(TemporalScheduledStartTime) ?? info.startTime;
  if (plan.procedure === 'validation') return validate(plan, scheduledAt);
  if (plan.procedure === 'certificate-renewal') return renewDue(plan, scheduledAt);
  // runs started before the patch: no default window, windows up to 12 h, no opening time passed on
  const runbookWindow = patched('schedule-window-as-runbook');
  if (runbookWindow) plan.maintenanceWindow = runbookWindowOf(plan);
  const switchBy = deadline(plan, scheduledAt);
  const secret = String(plan.input.secret);
  const workflowId = rotationWorkflowId(plan.procedure, secret);
  const base = {
    schedule: plan.schedule,
    procedure: plan.procedure,
    workflowId,
    scheduledAt: scheduledAt.toISOString(),
    switchBy,
  };
  const opensAt = runbookWindow ? { opensAt: scheduledAt.toISOString() } : {};
  const input = {
    ...plan.input,
    ...(switchBy
      ? { maintenanceWindow: { ...opensAt, switchBy, stagingBudget: plan.maintenanceWindow!.stagingBudget } }
      : {}),
  };
  try {
    const result = await executeChild(credentialRotations[plan.procedure as ScheduledRotation].run, {
      workflowId,
      args: [input],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      staticSummary: `${plan.procedure} rotation of ${String(plan.input.target)} from schedule ${plan.schedule}${switchBy ? `, switch by ${switchBy}` : ''}`,
    });
    return { ...base, status: result.status, detail: `${result.from ?? '?'} → ${result.to ?? '?'}` };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      return {
        ...base,
        status: 'already-running',
        detail: `a rotation of ${secret} is already running; this scheduled run left it alone`,
      };
    }
    throw err;
  }
}

/** The runbook's window (PT2H) when a rotation's schedule names none; longer than the runbook's 2 h is refused. */
function runbookWindowOf(plan: ScheduledRunPlan): ScheduledRunPlan['maintenanceWindow'] {
  const window = plan.maintenanceWindow ?? { ...RUNBOOK_WINDOW };
  if (parseIsoDuration(window.length)! > MAX_WINDOW_LENGTH_MS) {
    throw ApplicationFailure.nonRetryable(
      `invalid scheduled run input: maintenanceWindow.length: must be at most PT2H (the runbook's 02:00–04:00 UTC), got ${window.length}`,
      'InvalidInput',
    );
  }
  return window;
}

function deadline(plan: ScheduledRunPlan, scheduledAt: Date): string | null {
  if (!plan.maintenanceWindow) return null;
  return new Date(scheduledAt.getTime() + parseIsoDuration(plan.maintenanceWindow.length)!).toISOString();
}

/** The weekly access validation: a failed check fails the child (red in the Web UI) and this run with it. */
async function validate(plan: ScheduledRunPlan, scheduledAt: Date): Promise<ScheduledRunResult> {
  const workflowId = `validate/scheduled/${plan.schedule}/${scheduledAt.toISOString().replace(/\.\d{3}Z$/, 'Z')}`;
  const report: ValidationReport = await executeChild(validatePipeline, { workflowId, args: [plan.input] });
  const { pass, skip } = report.summary;
  return {
    schedule: plan.schedule,
    procedure: 'validation',
    workflowId,
    scheduledAt: scheduledAt.toISOString(),
    switchBy: null,
    status: 'passed',
    detail: `${pass} pass, ${skip} skip`,
  };
}

/**
 * The daily certificate scan: renewals of what is due run as its children (each under
 * `rotate-certificate/<secret>`). A renewal that failed makes this run fail (red in the Web UI).
 */
async function renewDue(plan: ScheduledRunPlan, scheduledAt: Date): Promise<ScheduledRunResult> {
  const workflowId = `renew-certificates/scheduled/${plan.schedule}/${scheduledAt.toISOString().replace(/\.\d{3}Z$/, 'Z')}`;
  const scan = await executeChild(renewCertificates, {
    workflowId,
    args: [plan.input],
    parentClosePolicy: ParentClosePolicy.ABANDON,
  });
  const count = (a: string) => scan.certificates.filter((c) => c.action === a).length;
  const detail = `${scan.certificates.length} scanned, ${count('renewed')} renewed, ${count('deferred')} deferred, ${count('failed')} failed, ${count('unreadable')} unreadable`;
  if (count('failed') + count('unreadable') > 0)
    throw ApplicationFailure.nonRetryable(`certificate renewal: ${detail}`, 'RenewalFailed', scan);
  return {
    schedule: plan.schedule,
    procedure: 'certificate-renewal',
    workflowId,
    scheduledAt: scheduledAt.toISOString(),
    switchBy: null,
    status: 'scanned',
    detail,
  };
}
