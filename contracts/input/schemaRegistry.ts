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
import { clientWatchField } from '../durationField.js';

/** The secret this procedure rotates when its input names none (the runbook's name). */
export const DEFAULT_SECRET = 'schema-registry-auth';

export { InvalidInputError };

const kafkaName = z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'must be a Kafka topic name');
const gracePeriod = gracePeriodField({
  example: 'PT24H, P1D or PT15M',
  positiveBecause: 'the old user stays accepted until clients have moved',
});

/** Steps after which a rollback drill may inject a failure (workers started with test hooks only). */
export const registryDrillSteps = [
  'stage-user',
  'accept-user',
  'both-accepted',
  'promote',
  'canary-read-back',
  'grace',
] as const;

/**
 * Input of a Schema Registry credential rotation: names and limits only, never a secret
 * value (the users' passwords live in the secret store, `secret`). Every field is bounded.
 * Defaults are resolved once, by the worker, and recorded in the workflow's history.
 */
export const SchemaRegistryRotationInput = z
  .object({
    target: objectName.describe('what is being rotated (a label: search attribute, audit)'),
    secret: objectName
      .default(DEFAULT_SECRET)
      .describe('the secret both the registry and its clients read; one rotation per secret at a time'),
    account: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,30}$/, 'must be a lowercase account name ([a-z][a-z0-9-]*, at most 31 characters)')
      .default('developer')
      .describe(
        "the account whose user is rotated: its keys are <account>-user/-password (Kafka Connect's Avro converter uses developer)",
      ),
    userPrefix: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,40}$/, 'must be a lowercase user name prefix of at most 41 characters')
      .optional()
      .describe('new user <prefix>_<yyyymmdd_hhmm> (UTC); default: the account'),
    connector: objectName
      .default('postgres-cdc-users-connector')
      .describe('the connector whose converter authenticates with this account'),
    subjectPrefix: z
      .string()
      .regex(/^[a-zA-Z0-9._-]{0,200}$/, 'must be letters, digits, ".", "_" or "-" (at most 200 characters)')
      .default('ecommerce.'),
    canaryTopic: kafkaName.default('ecommerce.public.rekey_canary'),
    slot: z
      .string()
      .regex(
        /^[a-z_][a-z0-9_]{0,62}$/,
        'must be a lowercase PostgreSQL identifier ([a-z_][a-z0-9_]*, at most 63 characters)',
      )
      .default('debezium_slot'),
    gracePeriod: gracePeriod.optional().describe('how long the old user stays accepted after clients moved'),
    clientWatch: clientWatchField().default('PT15S'),
    registryWaitSeconds: z
      .number()
      .int()
      .min(10)
      .max(900)
      .default(120)
      .describe('how long to wait for the registry to accept or refuse a user after a restart'),
    force: forceField(),
    ...requestFields('scheduled rotation'),
    compromise: compromiseField(
      'suspected compromise (emergency rotate-all): no grace, the old user is removed right after the switch',
    ),
    maintenanceWindow: maintenanceWindowField,
    dryRun: dryRunField,
    injectFailure: drillField(registryDrillSteps),
  })
  .strict()
  .superRefine(noGraceWhenCompromised('the old user is removed at once'))
  .transform((v) => ({
    ...v,
    userPrefix: v.userPrefix ?? v.account,
    gracePeriod: resolvedGrace(v, 'PT24H'),
  }));

export type SchemaRegistryRotationInput = z.input<typeof SchemaRegistryRotationInput>;
export type SchemaRegistryRotationPlan = z.output<typeof SchemaRegistryRotationInput>;

/** Validates input; every problem names its field. Used at the edge (CLI) and by the worker when a run starts. */
export function parseSchemaRegistryInput(raw: unknown): SchemaRegistryRotationPlan {
  return parseInput(SchemaRegistryRotationInput, raw);
}

/** `<prefix>_yyyymmdd_hhmm` in UTC; seconds are added if that name is already in use (the current or a leftover user). */
export function registryUserName(prefix: string, at: Date, taken: Array<string | null>): string {
  const iso = at.toISOString();
  const base = `${prefix}_${iso.slice(0, 10).replace(/-/g, '')}_${iso.slice(11, 16).replace(':', '')}`;
  return taken.includes(base) ? `${base}${iso.slice(17, 19)}` : base;
}

/** The subject the verification looks up with the new credential: the users table's value schema. */
export const lookupSubject = (p: Pick<SchemaRegistryRotationPlan, 'subjectPrefix'>) =>
  `${p.subjectPrefix}public.users-value`;
