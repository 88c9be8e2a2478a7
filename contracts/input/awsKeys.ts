import { z } from 'zod';
import { compromiseField, drillField, noGraceWhenCompromised, resolvedGrace } from './fields.js';
import {
  dryRunField,
  forceField,
  gracePeriodField,
  maintenanceWindowField,
  objectName,
  requestFields,
} from './fields.js';
import { InvalidInputError, parseInput } from '../errors.js';

/** The secret this procedure rotates when its input names none (the runbook's name). */
export const DEFAULT_SECRET = 'aws-credentials';

export { InvalidInputError };

const gracePeriod = gracePeriodField({
  example: 'P7D, PT24H or PT15M',
  positiveBecause: 'the old key stays, inactive, so a rollback can reactivate it',
});

/** Steps after which a rollback drill may inject a failure (workers started with test hooks only). */
export const awsDrillSteps = [
  'create-key',
  'promote',
  'switch-proven',
  'deactivate-old-key',
  'old-key-unused',
  'grace',
] as const;

/**
 * Input of an AWS access-key rotation for the S3 sink: names and limits only, never a secret
 * (the keys live in the secret store, `secret`: `access-key-id`, `secret-access-key`). Every
 * field is bounded. Defaults are resolved once, by the worker, and recorded in history.
 */
export const AwsKeysRotationInput = z
  .object({
    target: objectName.describe('what is being rotated (a label: search attribute, audit)'),
    secret: objectName
      .default(DEFAULT_SECRET)
      .describe('the secret the sink reads its key from; one rotation per secret at a time'),
    user: z
      .string()
      .regex(/^[\w+=,.@-]{1,64}$/, 'must be an IAM user name (letters, digits and +=,.@_-, at most 64 characters)')
      .default('datapipe-s3-user')
      .describe('the IAM user whose access key is rotated'),
    connector: objectName.default('s3-sink-connector').describe('the S3 sink connector that signs with the key'),
    bucket: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
        'must be an S3 bucket name (3-63 lowercase letters, digits, "." or "-")',
      )
      .default('datapipe-archive')
      .describe('where the sink writes: a fresh object proves it works'),
    prefix: z
      .string()
      .regex(
        /^[\w!*'()/=+.-]{0,512}$/,
        "must be an S3 key prefix of at most 512 characters (letters, digits and !_.*'()/=+-)",
      )
      .default('topics/')
      .describe('the sink’s key prefix (topics.dir); narrow it to one topic for a big archive'),
    canaryTopic: z
      .string()
      .regex(/^[a-zA-Z0-9._-]{1,249}$/, 'must be a Kafka topic name')
      .default('ecommerce.public.rekey_canary')
      .describe(
        'the topic Debezium writes public.rekey_canary to: when the sink archives it, a canary row proves the switch whatever the traffic',
      ),
    gracePeriod: gracePeriod.optional().describe('how long the old key stays (inactive) before it is deleted'),
    watchSeconds: z
      .number()
      .int()
      .min(10)
      .max(900)
      .default(60)
      .describe('how long to watch the deactivated old key for uses'),
    deleteInactiveKey: z
      .boolean()
      .default(false)
      .describe('the user already has two keys and the other one is Inactive: delete it first (never an Active one)'),
    force: forceField('pre-flight checks fail (not the key checks)'),
    ...requestFields('scheduled rotation'),
    compromise: compromiseField(
      'suspected compromise (emergency rotate-all): no grace, the old key is removed right after the switch',
    ),
    maintenanceWindow: maintenanceWindowField,
    dryRun: dryRunField,
    injectFailure: drillField(awsDrillSteps),
  })
  .strict()
  .superRefine(noGraceWhenCompromised('the old key is removed at once'))
  .transform((v) => ({ ...v, gracePeriod: resolvedGrace(v, 'P7D') }));

export type AwsKeysRotationInput = z.input<typeof AwsKeysRotationInput>;
export type AwsKeysRotationPlan = z.output<typeof AwsKeysRotationInput>;

/** Validates input; every problem names its field. Used at the edge (CLI) and by the worker when a run starts. */
export function parseAwsKeysInput(raw: unknown): AwsKeysRotationPlan {
  return parseInput(AwsKeysRotationInput, raw);
}
