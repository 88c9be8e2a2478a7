import { ChildWorkflowFailure, ParentClosePolicy, startChild } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  describeError,
  rotationWorkflowId,
  type RotationResult,
  procedureActivities,
  resolvePlanOnWorker,
} from '../rotation/index.js';
import {
  managedCertificates,
  renewalDecisions,
  type RenewalDecision,
  type ScannedCertificate,
} from '../../contracts/managedCertificates.js';
import { certificateExpiryGauges } from './metrics.js';
import type { RenewalScanInput, RenewalScanPlan } from '../../contracts/input/renewalScan.js';
import { rotateServiceCertificate } from './workflow.js';

const { read, worker } = procedureActivities();

export type RenewalAction =
  'none' | 'would-renew' | 'renewed' | 'failed' | 'already-running' | 'deferred' | 'unreadable';

export interface RenewalRow extends RenewalDecision {
  fingerprint: string | null;
  notAfter: string | null;
  action: RenewalAction;
  /** The renewal's workflow (`rotate-certificate/<secret>`) when one was started or found running. */
  workflowId?: string;
  /** The renewal's outcome: the new fingerprint, or why it failed. */
  detail?: string;
}

export interface RenewalScanResult {
  scannedAt: string;
  policy: string;
  dryRun: boolean;
  certificates: RenewalRow[];
  /** A CA rotation's staged versions exist: renewals wait for it (it reissues every certificate itself). */
  caRotationInProgress: string | null;
}

/**
 * cert-manager's `renewBefore`, as a workflow the daily schedule starts: a read-only scan of
 * every managed certificate, then a renewal (`rotateServiceCertificate` under its own id
 * `rotate-certificate/<secret>`, so it never overlaps a manual one) for each with less than the
 * configured share of its lifetime left. Renewals are abandoned, never cancelled, if the scan
 * is terminated. Days to expiry go to the worker's metrics (CertificateExpiringSoon).
 */
export async function renewCertificates(input: RenewalScanInput = {}): Promise<RenewalScanResult> {
  const plan = await resolvePlanOnWorker(() => worker.resolveRenewalScanPlan(input));
  const scan = await read.scanManagedCertificates({ certificates: managedCertificates(), caSecret: plan.caSecret });
  const now = Date.now();
  certificateExpiryGauges(scan.certificates, now);
  const decisions = renewalDecisions(
    scan.certificates,
    { renewBeforeRatio: plan.renewBeforeRatio, renewBeforeDays: plan.renewBeforeDays },
    now,
  );
  const rows = decisions.map((d, i) => initialRow(d, scan.certificates[i]!, plan, scan.caRotationInProgress));
  await Promise.all(rows.filter((r) => r.action === 'renewed').map((r) => renew(r, plan)));
  const renewed = rows.filter((r) => r.action === 'renewed');
  if (renewed.length > 0) {
    // what is valid now, not what the scan saw: the expiry gauge follows the renewal at once
    const after = await read.scanManagedCertificates({
      certificates: renewed.map(({ service, secret }) => ({ service, secret })),
      caSecret: plan.caSecret,
    });
    certificateExpiryGauges(after.certificates, Date.now());
  }
  const policy =
    plan.renewBeforeDays !== undefined
      ? `renew with fewer than ${plan.renewBeforeDays} days left`
      : `renew with less than ${Math.round(plan.renewBeforeRatio * 1000) / 10}% of the lifetime left`;
  return {
    scannedAt: new Date(now).toISOString(),
    policy,
    dryRun: plan.dryRun,
    certificates: rows,
    caRotationInProgress: scan.caRotationInProgress,
  };
}

function initialRow(
  d: RenewalDecision,
  c: ScannedCertificate,
  plan: RenewalScanPlan,
  caRotation: string | null,
): RenewalRow {
  const base = { ...d, fingerprint: 'error' in c ? null : c.fingerprint, notAfter: 'error' in c ? null : c.notAfter };
  if ('error' in c) return { ...base, action: 'unreadable', detail: c.error };
  if (!d.due) return { ...base, action: 'none' };
  if (plan.dryRun) return { ...base, action: 'would-renew' };
  if (caRotation)
    return {
      ...base,
      action: 'deferred',
      detail: `a CA rotation is under way (${caRotation}): it reissues this certificate itself`,
    };
  // marked here, settled by renew()
  return { ...base, action: 'renewed', workflowId: rotationWorkflowId('certificate', d.secret) };
}

/** Starts the renewal as a child and waits for it (a renewal has no grace period: minutes at most). */
async function renew(row: RenewalRow, plan: RenewalScanPlan): Promise<void> {
  const workflowId = rotationWorkflowId('certificate', row.secret);
  try {
    const child = await startChild(rotateServiceCertificate, {
      workflowId,
      args: [
        {
          service: row.service,
          secret: row.secret,
          caSecret: plan.caSecret,
          validityDays: plan.validityDays ?? row.validityDays!,
          reason: `${plan.reason}: ${row.why}`,
          requestedBy: plan.requestedBy,
        },
      ],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      staticSummary: `renewal of ${row.secret} (${row.service}) before expiry: ${row.why}`,
    });
    const result: RotationResult = await child.result();
    row.detail = `${result.from ?? '?'} → ${result.to ?? '?'}`;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      row.action = 'already-running';
      row.detail = `a rotation of ${row.secret} is already running; the scan left it alone`;
      return;
    }
    row.action = 'failed';
    row.detail = describeChildError(err);
  }
}

/** A child's failure by its cause (the rotation's own message), not the wrapper's "Child Workflow execution failed". */
export function describeChildError(err: unknown): string {
  return err instanceof ChildWorkflowFailure && err.cause ? describeError(err.cause) : describeError(err);
}
