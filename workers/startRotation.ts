import { type CaRotationInput, parseCaRotationInput } from '../workflows/certificates/authorityInput.js';
import { rotateCertificateAuthority } from '../workflows/certificates/authority.js';
import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { type AwsKeysRotationInput, parseAwsKeysInput } from '../workflows/awsKeys/input.js';
import { rotateAwsAccessKeys } from '../workflows/awsKeys/workflow.js';
import { type CertificateRotationInput, parseCertificateInput } from '../workflows/certificates/input.js';
import { rotateServiceCertificate } from '../workflows/certificates/workflow.js';
import { parsePostgresCdcInput, type PostgresCdcRotationInput } from '../workflows/postgresCdc/input.js';
import { rotatePostgresCdcCredentials } from '../workflows/postgresCdc/workflow.js';
import { parseSchemaRegistryInput, type SchemaRegistryRotationInput } from '../workflows/schemaRegistry/input.js';
import { rotateSchemaRegistryCredentials } from '../workflows/schemaRegistry/workflow.js';
import { dryRunWorkflowId, rotationWorkflowId } from '../workflows/rotation/ids.js';
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
async function startRotation<H>(s: StartSpec, opts: { taskQueue: string; now?: Date }, launch: (options: CommonStartOptions) => Promise<H>): Promise<H> {
  const workflowId = s.dryRun ? dryRunWorkflowId(s.procedure, s.resource, opts.now ?? new Date()) : rotationWorkflowId(s.procedure, s.resource);
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
      throw new RotationInProgressError(`a rotation of ${s.resource} is already running (workflow ${workflowId}); follow it with \`rekey progress ${workflowId}\`, or roll it back`);
    }
    throw err;
  }
}

/** Validates the input at the edge (errors name the field) and starts the PostgreSQL CDC rotation. */
export async function startPostgresCdcRotation(client: Client, raw: PostgresCdcRotationInput, opts: { taskQueue: string; now?: Date }) {
  const plan = parsePostgresCdcInput(raw);
  return startRotation(
    {
      procedure: 'postgresql-cdc',
      resource: plan.secret,
      target: plan.target,
      dryRun: plan.dryRun,
      summary: `rotate the PostgreSQL CDC user of ${plan.target} (${plan.secret}, ${plan.strategy}, grace ${plan.gracePeriod}${plan.compromise ? ', COMPROMISE' : ''})`,
    },
    opts,
    (o) => client.workflow.start(rotatePostgresCdcCredentials, { ...o, args: [raw] }),
  );
}

/** Validates the input at the edge (errors name the field) and starts the Schema Registry rotation. */
export async function startSchemaRegistryRotation(client: Client, raw: SchemaRegistryRotationInput, opts: { taskQueue: string; now?: Date }) {
  const plan = parseSchemaRegistryInput(raw);
  return startRotation(
    {
      procedure: 'schema-registry',
      resource: plan.secret,
      target: plan.target,
      dryRun: plan.dryRun,
      summary: `rotate the Schema Registry user of account ${plan.account} for ${plan.target} (${plan.secret}, connector ${plan.connector}, grace ${plan.gracePeriod})`,
    },
    opts,
    (o) => client.workflow.start(rotateSchemaRegistryCredentials, { ...o, args: [raw] }),
  );
}

/** Validates the input at the edge (errors name the field) and starts the S3 sink's access-key rotation. */
export async function startAwsKeysRotation(client: Client, raw: AwsKeysRotationInput, opts: { taskQueue: string; now?: Date }) {
  const plan = parseAwsKeysInput(raw);
  return startRotation(
    {
      procedure: 'aws-keys',
      resource: plan.secret,
      target: plan.target,
      dryRun: plan.dryRun,
      summary: `rotate the access key of IAM user ${plan.user} for ${plan.target} (${plan.secret}, connector ${plan.connector}, grace ${plan.gracePeriod}${plan.deleteInactiveKey ? ', delete an inactive second key' : ''})`,
    },
    opts,
    (o) => client.workflow.start(rotateAwsAccessKeys, { ...o, args: [raw] }),
  );
}

/** Validates the input at the edge (errors name the field) and starts a service-certificate rotation. */
export async function startCertificateRotation(client: Client, raw: CertificateRotationInput, opts: { taskQueue: string; now?: Date }) {
  const plan = parseCertificateInput(raw);
  return startRotation(
    {
      procedure: 'certificate',
      resource: plan.secret,
      target: plan.target,
      dryRun: plan.dryRun,
      summary: `renew the ${plan.service} server certificate (${plan.secret}, signed by ${plan.caSecret}, ${plan.validityDays} days${plan.allowSanChange ? ', SANs may change' : ''})`,
    },
    opts,
    (o) => client.workflow.start(rotateServiceCertificate, { ...o, args: [raw] }),
  );
}

/** Validates the input at the edge (errors name the field) and starts the CA rotation (`rotate-ca/<caSecret>`). */
export async function startCaRotation(client: Client, raw: CaRotationInput, opts: { taskQueue: string; now?: Date }) {
  const plan = parseCaRotationInput(raw);
  return startRotation(
    {
      procedure: 'ca',
      resource: plan.caSecret,
      target: 'pipeline',
      dryRun: plan.dryRun,
      summary: `rotate the CA ${plan.caSecret}: new CA trusted beside the old, every certificate reissued, old CA dropped after ${plan.gracePeriod}`,
    },
    opts,
    (o) => client.workflow.start(rotateCertificateAuthority, { ...o, args: [raw] }),
  );
}
