import { z } from 'zod';
import { compromiseField, drillField, resolvedGrace } from './fields.js';
import {
  dryRunField,
  forceField,
  gracePeriodField,
  maintenanceWindowField,
  objectName,
  requestFields,
} from './fields.js';
import { InvalidInputError, parseInput } from '../errors.js';
import { parseIsoDuration } from '../duration.js';

/** The secret this procedure rotates when its input names none (the runbook's name). */
export const DEFAULT_SECRET = 'debezium-credentials';

/** PostgreSQL identifiers rekey creates or names: lowercase, unquoted shape, at most 63 bytes. */
const pgIdentifier = z
  .string()
  .regex(
    /^[a-z_][a-z0-9_]{0,62}$/,
    'must be a lowercase PostgreSQL identifier ([a-z_][a-z0-9_]*, at most 63 characters)',
  );
const gracePeriod = gracePeriodField({ example: 'PT24H, P1D or PT15M' });

export const applyStrategies = ['reload-connector', 'restart-worker'] as const;
/** Steps after which a rollback drill may inject a failure (workers started with test hooks only). */
export const drillSteps = ['stage', 'create-role', 'promote', 'expire-old-role', 'canary-read-back', 'grace'] as const;

/**
 * Input of a PostgreSQL CDC rotation: names and limits only, never a secret value (those
 * live in the secret store, referenced by `secret`). Every field is bounded. Defaults are
 * resolved once, by the worker, and recorded in the workflow's history.
 */
export const PostgresCdcRotationInput = z
  .object({
    target: objectName.describe('what is being rotated (a label: search attribute, audit)'),
    secret: objectName
      .default(DEFAULT_SECRET)
      .describe('the credential the pipeline consumes; one rotation per secret at a time'),
    connector: objectName.default('postgres-cdc-users-connector'),
    slot: pgIdentifier.default('debezium_slot'),
    publication: pgIdentifier.default('dbz_publication'),
    parentRole: pgIdentifier.default('debezium_parent'),
    userPrefix: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,40}$/, 'must be a lowercase identifier prefix of at most 41 characters')
      .default('debezium'),
    canaryTopic: z
      .string()
      .regex(/^[a-zA-Z0-9._-]{1,249}$/, 'must be a Kafka topic name')
      .default('ecommerce.public.rekey_canary'),
    strategy: z.enum(applyStrategies).default('reload-connector'),
    gracePeriod: gracePeriod
      .optional()
      .describe('how long the old user stays valid; default PT24H, PT0S with compromise'),
    compromise: compromiseField('suspected compromise: revoke the old user at once after the switch (grace PT0S)'),
    maxLagBytes: z
      .number()
      .int()
      .min(1)
      .max(1024 ** 3)
      .default(64 * 1024 ** 2),
    maxLagSeconds: z.number().min(1).max(600).default(30),
    minFreeMemoryPercent: z.number().min(5).max(90).default(20),
    force: forceField(),
    ...requestFields('scheduled rotation'),
    maintenanceWindow: maintenanceWindowField,
    dryRun: dryRunField,
    injectFailure: drillField(drillSteps),
  })
  .strict()
  .superRefine((v, ctx) => {
    const grace = v.gracePeriod === undefined ? undefined : parseIsoDuration(v.gracePeriod);
    if (grace === undefined) return;
    if (grace <= 0 && !v.compromise)
      ctx.addIssue({
        code: 'custom',
        path: ['gracePeriod'],
        message: 'must be longer than zero (PT0S only with compromise: true)',
      });
    if (grace > 0 && v.compromise)
      ctx.addIssue({
        code: 'custom',
        path: ['gracePeriod'],
        message: 'must be PT0S or absent with compromise: true (the old user is revoked at once)',
      });
  })
  .transform((v) => ({ ...v, gracePeriod: resolvedGrace(v, 'PT24H') }));

export type PostgresCdcRotationInput = z.input<typeof PostgresCdcRotationInput>;
export type PostgresCdcRotationPlan = z.output<typeof PostgresCdcRotationInput>;

export { InvalidInputError };

/** Validates input; every problem names its field. Used at the edge (CLI) and by the worker when a run starts. */
export function parsePostgresCdcInput(raw: unknown): PostgresCdcRotationPlan {
  return parseInput(PostgresCdcRotationInput, raw);
}

/** `debezium_yyyymmdd_hhmm` in UTC; seconds are added if that name is the current user's. */
export function cdcUserName(prefix: string, at: Date, current: string | null): string {
  const iso = at.toISOString();
  const base = `${prefix}_${iso.slice(0, 10).replace(/-/g, '')}_${iso.slice(11, 16).replace(':', '')}`;
  return base === current ? `${base}${iso.slice(17, 19)}` : base;
}
