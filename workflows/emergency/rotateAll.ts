import {
  ApplicationFailure,
  ChildWorkflowFailure,
  defineQuery,
  executeChild,
  getExternalWorkflowHandle,
  ParentClosePolicy,
  patched,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { rotateCertificateAuthority } from '../certificates/authority.js';
import { DEFAULT_CERT_SECRETS, type TlsService } from '../../contracts/input/certificate.js';
import { rotateServiceCertificate } from '../certificates/workflow.js';
import { credentialRotations } from '../procedures.js';
import { credentialProcedures } from '../../contracts/procedures.js';
import { AuditTrail } from '../rotation/audit.js';
import {
  cleanupNowSignal,
  compromiseSignal,
  describeError,
  rotationWorkflowId,
  type RotationResult,
} from '../rotation/index.js';
import { RotationComponent, RotationPhase, RotationTarget } from '../rotation/searchAttributes.js';
import type { ValidationReport } from '../../contracts/checklist.js';
import { validatePipeline } from '../validation/workflow.js';
import {
  type EmergencyProcedure,
  emergencyOrder,
  RotateAllInput,
  type RotateAllPlan,
} from '../../contracts/input/rotateAll.js';

export interface EmergencyRotation {
  /** A credential's procedure, or TLS material (`include`): a service certificate, the CA. */
  procedure: EmergencyProcedure | 'certificate' | 'ca';
  /** The Schema Registry account (one rotation per account). */
  account?: string;
  /** The service whose certificate is reissued. */
  service?: TlsService;
  workflowId: string;
  status: 'pending' | 'running' | 'completed' | 'rolled-back' | 'failed' | 'skipped';
  from?: string | null;
  to?: string | null;
  error?: string;
  /** What was done about a rotation of the credential that was already running. */
  preempted?: string;
}
export interface EmergencyResult {
  status: 'completed' | 'incomplete';
  reason: string;
  rotations: EmergencyRotation[];
  validation: { ok: boolean; failed: string[]; workflowId: string } | null;
}

export const emergencyProgressQuery = defineQuery<EmergencyResult & { phase: string }>('emergencyProgress');

/**
 * The runbook's "Suspected Credential Compromise": every credential rotated at once in
 * compromise mode (no grace: old credentials disabled and dropped, their sessions
 * terminated), one procedure after another so two never restart the connector together,
 * going on past a failed one and reporting each; then the full access validation. Every
 * rotation is a child (one tree in the Web UI); cancelling this asks them to roll back.
 */
export async function emergencyRotateAll(raw: RotateAllInput): Promise<EmergencyResult> {
  const parsed = RotateAllInput.safeParse(raw);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(
      `invalid emergency input: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ')}`,
      'InvalidInput',
    );
  }
  const plan = parsed.data;
  const { workflowId } = workflowInfo();
  // every registry account, not only the converter's (runs before the patch rotated developer only)
  const everyAccount = patched('emergency-every-registry-account');
  // a procedure that joined later (its contract's emergencySince): runs started before it never launch it
  const procedures = emergencyOrder.filter((p) => {
    const { emergencySince: since, emergencyOnlyWithInput } = credentialProcedures[p];
    if (!(since === undefined || patched(since))) return false;
    // one instance per application: only the one the input names
    return !emergencyOnlyWithInput || plan.inputs[p] !== undefined;
  });
  const rotations: EmergencyRotation[] = procedures.flatMap((procedure) =>
    (procedure === 'schema-registry' && everyAccount ? plan.registryAccounts : [undefined]).map((account) => ({
      procedure,
      ...(account ? { account } : {}),
      workflowId: rotationWorkflowId(
        procedure,
        String(plan.inputs[procedure]?.secret ?? credentialRotations[procedure].defaultSecret),
      ),
      status: plan.skip.includes(procedure) ? ('skipped' as const) : ('pending' as const),
    })),
  );
  // TLS material only when asked (`include`, an input that runs from before it never carry)
  rotations.push(...tlsRotations(plan));
  const result: EmergencyResult = { status: 'completed', reason: plan.reason, rotations, validation: null };
  let phase = 'rotating';
  setHandler(emergencyProgressQuery, () => ({ ...result, phase }));
  upsertSearchAttributes([
    { key: RotationComponent, value: 'emergency-rotate-all' },
    { key: RotationTarget, value: plan.target },
    { key: RotationPhase, value: phase },
  ]);
  const audit = new AuditTrail(true, {
    component: 'emergency',
    requestedBy: plan.requestedBy,
    snapshot: () => ({ from: null, to: null, rollbackAvailable: false }),
  });
  audit.record('start', 'emergency_rotate_all', 'started', { detail: plan.reason });

  for (const rotation of rotations.filter((x) => x.status === 'pending')) {
    rotation.status = 'running';
    upsertSearchAttributes([{ key: RotationPhase, value: rotation.procedure }]);
    await rotateOne(plan, rotation);
    audit.record(
      emergencyLabel(rotation),
      'emergency_rotation',
      (rotation.status as EmergencyRotation['status']) === 'completed' ? 'success' : 'failed',
      { detail: rotation.error ?? `${rotation.from} → ${rotation.to}` },
    );
  }

  phase = 'validating';
  upsertSearchAttributes([{ key: RotationPhase, value: phase }]);
  result.validation = await validateAll(`${workflowId}/validate`);
  audit.record('validate', 'access_validation', result.validation.ok ? 'success' : 'failed', {
    validation_status: result.validation.ok ? 'passed' : 'failed',
    detail: result.validation.failed.join('; ') || 'all checks passed',
  });

  result.status =
    rotations.every((x) => x.status === 'completed' || x.status === 'skipped') && result.validation.ok
      ? 'completed'
      : 'incomplete';
  phase = result.status;
  upsertSearchAttributes([{ key: RotationPhase, value: phase }]);
  audit.record('done', 'emergency_rotate_all', result.status === 'completed' ? 'success' : 'failed');
  await audit.settled();
  return result;
}

/** How a rotation is named in the audit log and the CLI: procedure/account, certificate/service, or the procedure. */
export const emergencyLabel = (r: Pick<EmergencyRotation, 'procedure' | 'account' | 'service'>) =>
  r.account ? `${r.procedure}/${r.account}` : r.service ? `${r.procedure}/${r.service}` : r.procedure;

/** The CA rotation (which reissues every certificate from the new CA), else one reissue per service, else nothing. */
function tlsRotations(plan: RotateAllPlan): EmergencyRotation[] {
  if (plan.include.includes('ca'))
    return [{ procedure: 'ca', workflowId: rotationWorkflowId('ca', plan.caSecret), status: 'pending' }];
  if (!plan.include.includes('certificates')) return [];
  return plan.certificateServices.map((service) => ({
    procedure: 'certificate',
    service,
    workflowId: rotationWorkflowId('certificate', DEFAULT_CERT_SECRETS[service]),
    status: 'pending',
  }));
}

/** The child workflow that replaces what `rotation` names, and its input (plain JSON, validated by the child). */
function childOf(
  plan: RotateAllPlan,
  rotation: EmergencyRotation,
): { run: (input: Record<string, unknown>) => Promise<RotationResult>; input: Record<string, unknown> } {
  const why = { reason: `emergency: ${plan.reason}`, requestedBy: plan.requestedBy };
  if (rotation.procedure === 'ca') {
    return {
      run: rotateCertificateAuthority as (i: Record<string, unknown>) => Promise<RotationResult>,
      input: { caSecret: plan.caSecret, services: plan.certificateServices, gracePeriod: plan.caGrace, ...why },
    };
  }
  if (rotation.procedure === 'certificate') {
    return {
      run: rotateServiceCertificate as (i: Record<string, unknown>) => Promise<RotationResult>,
      input: { service: rotation.service, caSecret: plan.caSecret, ...why },
    };
  }
  const overrides = { ...plan.inputs[rotation.procedure], ...(rotation.account ? { account: rotation.account } : {}) };
  return {
    run: credentialRotations[rotation.procedure].run,
    input: { ...overrides, target: plan.target, compromise: true, ...why },
  };
}

/** One procedure as a child in compromise mode; a rotation already running on the credential is asked to finish first. */
async function rotateOne(plan: RotateAllPlan, rotation: EmergencyRotation): Promise<void> {
  const { run, input } = childOf(plan, rotation);
  const deadline = Date.now() + plan.waitForRunningSeconds * 1000;
  for (let asked = false; ;) {
    try {
      const r = await executeChild(run, {
        workflowId: rotation.workflowId,
        args: [input],
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        staticSummary: `emergency ${emergencyLabel(rotation)} rotation${rotation.procedure === 'ca' || rotation.procedure === 'certificate' ? '' : ' (compromise mode)'}: ${plan.reason}`,
      });
      Object.assign(rotation, { status: r.status === 'completed' ? 'completed' : 'failed', from: r.from, to: r.to });
      if (asked) rotation.preempted = `${rotation.preempted}; it ended, and this rotation ran after it`;
      return;
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError && Date.now() < deadline) {
        // a scheduled or manual rotation holds the credential's id: end it, then rotate again in compromise mode
        if (!asked) await endRunningRotation(plan, rotation);
        asked = true;
        await sleep('15s');
        continue;
      }
      rotation.status = 'failed';
      rotation.error =
        err instanceof WorkflowExecutionAlreadyStartedError
          ? `a rotation of this credential kept running for ${plan.waitForRunningSeconds} s after it was told to end (is it parked in needs-attention? retry or abandon it); then run the emergency again`
          : describeError(err instanceof ChildWorkflowFailure && err.cause ? err.cause : err);
      return;
    }
  }
}

/**
 * A rotation already running on the credential is told the credential is compromised: in
 * grace it cleans up now; before grace it rolls back at once (even mid-wait); in cleanup it is
 * already removing the old credential. Runs before the patch only sent cleanupNow, which a
 * rotation outside its grace period ignores, so the emergency waited and gave up.
 */
async function endRunningRotation(plan: RotateAllPlan, rotation: EmergencyRotation): Promise<void> {
  const running = getExternalWorkflowHandle(rotation.workflowId);
  const by = `emergency: ${plan.requestedBy}`;
  if (patched('emergency-ends-running-rotations')) {
    await running.signal(compromiseSignal, { by }).catch(() => undefined);
    rotation.preempted = `a rotation was running under ${rotation.workflowId}: told the credential is compromised (in grace: cleaned up now; before it: rolled back at once)`;
  } else await running.signal(cleanupNowSignal, { by }).catch(() => undefined);
}

/** `validate --component all` as a child: a failed check fails that child, whose details carry the report. */
async function validateAll(id: string): Promise<NonNullable<EmergencyResult['validation']>> {
  const failedLines = (r: ValidationReport) =>
    r.checks.filter((c) => c.status === 'fail').map((c) => `${c.component}: ${c.check}`);
  try {
    const report = await executeChild(validatePipeline, {
      workflowId: id,
      args: [{ components: ['all'] }],
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
    });
    return { ok: report.ok, failed: failedLines(report), workflowId: id };
  } catch (err) {
    const cause = err instanceof ChildWorkflowFailure ? err.cause : undefined;
    const report =
      cause instanceof ApplicationFailure ? (cause.details?.[0] as ValidationReport | undefined) : undefined;
    return { ok: false, failed: report ? failedLines(report) : [describeError(cause ?? err)], workflowId: id };
  }
}
