import {
  type CredentialProcedureContract,
  type CredentialProcedureId,
  credentialProcedureIds,
  credentialProcedures,
} from '../contracts/procedures.js';
import { type CaRotationInput, parseCaRotationInput } from '../contracts/input/caRotation.js';
import { rotateCertificateAuthority } from '../workflows/certificates/authority.js';
import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { RotationResult } from '../workflows/rotation/index.js';
import { TypedSearchAttributes } from '@temporalio/common';
import type { AwsKeysRotationInput } from '../contracts/input/awsKeys.js';
import { type CertificateRotationInput, parseCertificateInput } from '../contracts/input/certificate.js';
import { rotateServiceCertificate } from '../workflows/certificates/workflow.js';
import type { PostgresCdcRotationInput } from '../contracts/input/postgresCdc.js';
import type { SchemaRegistryRotationInput } from '../contracts/input/schemaRegistry.js';
import { dryRunWorkflowId, rotationWorkflowId } from '../contracts/ids.js';
import { RotationComponent, RotationPhase, RotationTarget } from '../workflows/rotation/searchAttributes.js';

export class RotationInProgressError extends Error {
  override name = 'RotationInProgressError';
}

interface StartSpec {
  procedure: string;
  /** What one rotation at a time is keyed on (the secret). */
  resource: string;
  target: string;
  dryRun: boolean;
  summary: string;
}

/** Options every rotation starts with; the caller adds its workflow and input. */
interface CommonStartOptions {
  taskQueue: string;
  workflowId: string;
  typedSearchAttributes: TypedSearchAttributes;
  staticSummary: string;
}

/**
 * Starts a rotation under its resource's workflow id, so the server refuses a second running
 * rotation of the same credential. The raw input is what the workflow receives: the worker
 * resolves defaults. (The Web UI and `temporal workflow start` reach the same workflow with
 * plain JSON; the workflow labels itself, so those runs are searchable too.)
 */
async function startRotation<H>(
  s: StartSpec,
  opts: { taskQueue: string; now?: Date },
  launch: (options: CommonStartOptions) => Promise<H>,
): Promise<H> {
  const workflowId = s.dryRun
    ? dryRunWorkflowId(s.procedure, s.resource, opts.now ?? new Date())
    : rotationWorkflowId(s.procedure, s.resource);
  try {
    return await launch({
      taskQueue: opts.taskQueue,
      workflowId,
      typedSearchAttributes: new TypedSearchAttributes([
        { key: RotationComponent, value: s.procedure },
        { key: RotationTarget, value: s.target },
        { key: RotationPhase, value: 'pending' },
      ]),
      staticSummary: `${s.dryRun ? 'Dry run: ' : ''}${s.summary}`,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new RotationInProgressError(
        `a rotation of ${s.resource} is already running (workflow ${workflowId}); follow it with \`rekey progress ${workflowId}\`, or roll it back`,
      );
    }
    throw err;
  }
}

/** What the start of one procedure needs: its input's validator, its workflow, and how the plan names and describes the run. */
interface Procedure<I, P extends { dryRun: boolean }> {
  procedure: string;
  parse: (raw: I) => P;
  /** The workflow, or its type name (a credential procedure's, from its contract). */
  workflow: ((input: I) => Promise<RotationResult>) | string;
  /** What one rotation at a time is keyed on (the secret), and the target label. */
  resource: (plan: P) => string;
  target: (plan: P) => string;
  summary: (plan: P) => string;
}

/** A procedure's start function: validates the input at the edge (errors name the field), then starts it under its resource's id. */
function starter<I, P extends { dryRun: boolean }>(p: Procedure<I, P>) {
  return async (client: Client, raw: I, opts: { taskQueue: string; now?: Date }) => {
    const plan = p.parse(raw);
    return startRotation(
      {
        procedure: p.procedure,
        resource: p.resource(plan),
        target: p.target(plan),
        dryRun: plan.dryRun,
        summary: p.summary(plan),
      },
      opts,
      (o) => client.workflow.start<(input: I) => Promise<RotationResult>>(p.workflow, { ...o, args: [raw] }),
    );
  };
}

const bySecret = { resource: (p: { secret: string }) => p.secret, target: (p: { target: string }) => p.target };

/** A credential procedure's start function, from its contract (contracts/procedures.ts). */
function credentialStarter<I>(id: CredentialProcedureId) {
  const p = credentialProcedures[id] as unknown as CredentialProcedureContract<{ dryRun: boolean }>;
  return starter<I, { dryRun: boolean }>({
    procedure: p.id,
    parse: (raw) => p.parse(raw),
    workflow: p.workflowType,
    resource: p.resource,
    target: p.target,
    summary: p.summary,
  });
}

/** Each credential procedure's start function, by id (the CLI's rotate-* commands): one per contract, none to write. */
export const credentialStarters = Object.fromEntries(
  credentialProcedureIds.map((id) => [id, credentialStarter<Record<string, unknown>>(id)]),
) as Record<CredentialProcedureId, ReturnType<typeof credentialStarter<Record<string, unknown>>>>;

export const startPostgresCdcRotation = credentialStarter<PostgresCdcRotationInput>('postgresql-cdc');
export const startSchemaRegistryRotation = credentialStarter<SchemaRegistryRotationInput>('schema-registry');
export const startAwsKeysRotation = credentialStarter<AwsKeysRotationInput>('aws-keys');

export const startCertificateRotation = starter({
  procedure: 'certificate',
  parse: (raw: CertificateRotationInput) => parseCertificateInput(raw),
  workflow: rotateServiceCertificate,
  ...bySecret,
  summary: (p) =>
    `renew the ${p.service} server certificate (${p.secret}, signed by ${p.caSecret}, ${p.validityDays} days${p.allowSanChange ? ', SANs may change' : ''})`,
});

/** The CA rotation is keyed on the CA's secret (`rotate-ca/<caSecret>`). */
export const startCaRotation = starter({
  procedure: 'ca',
  parse: (raw: CaRotationInput) => parseCaRotationInput(raw),
  workflow: rotateCertificateAuthority,
  resource: (p) => p.caSecret,
  target: () => 'pipeline',
  summary: (p) =>
    `rotate the CA ${p.caSecret}: new CA trusted beside the old, every certificate reissued, old CA dropped after ${p.gracePeriod}`,
});
