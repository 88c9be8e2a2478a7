import { z } from 'zod';
import { parseIsoDuration } from '../../contracts/duration.js';

/** PostgreSQL identifiers rekey creates or names: lowercase, unquoted shape, at most 63 bytes. */
const pgIdentifier = z
  .string()
  .regex(
    /^[a-z_][a-z0-9_]{0,62}$/,
    'must be a lowercase PostgreSQL identifier ([a-z_][a-z0-9_]*, at most 63 characters)',
  );
/** Kubernetes-style object names (secrets, targets, connectors). */
const objectName = z
  .string()
  .regex(
    /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/,
    'must be lowercase letters, digits, "-" or "." (at most 63 characters)',
  );
const isoDuration = z
  .string()
  .refine((v) => parseIsoDuration(v) !== undefined, 'must be an ISO-8601 duration such as PT24H, P1D or PT15M');

export const applyStrategies = ['reload-connector', 'restart-worker'] as const;

/**
 * Input of a PostgreSQL CDC rotation. It carries names and limits only: never a
 * secret value (those live in the secret store, referenced by `secret`).
 */
export const PostgresCdcRotationInput = z
  .object({
    target: objectName.describe('what is being rotated, used in the workflow id and search attributes'),
    connector: objectName.default('postgres-cdc-users-connector'),
    slot: pgIdentifier.default('debezium_slot'),
    parentRole: pgIdentifier.default('debezium_parent'),
    userPrefix: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,40}$/, 'must be a lowercase identifier prefix of at most 41 characters')
      .default('debezium'),
    secret: objectName
      .default('debezium-credentials')
      .describe('secret the pipeline consumes; -pending and -backup are its siblings'),
    adminConnection: objectName.default('postgres-admin').describe('secret holding the admin connection credential'),
    topic: z
      .string()
      .min(1)
      .default('ecommerce.public.users')
      .describe('topic on which the canary change event is read back'),
    strategy: z.enum(applyStrategies).default('reload-connector'),
    gracePeriod: isoDuration.default('PT24H'),
    compromise: z.boolean().default(false).describe('suspected compromise: allows a zero grace period'),
    maxLagBytes: z
      .number()
      .int()
      .positive()
      .default(64 * 1024 * 1024),
    maxLagSeconds: z.number().positive().default(30),
    minFreeMemoryPercent: z.number().min(0).max(100).default(20),
    reason: z.string().min(1).max(500).default('scheduled rotation'),
    requestedBy: z.string().min(1).max(200).default('unknown'),
    dryRun: z.boolean().default(false),
    /** Test hook: fail the named step after it ran (proves compensation). Only honoured when set explicitly. */
    injectFailure: z.enum(['create-role', 'switch', 'verify']).optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    const grace = parseIsoDuration(v.gracePeriod);
    if (grace !== undefined && grace <= 0 && !v.compromise) {
      ctx.addIssue({
        code: 'custom',
        path: ['gracePeriod'],
        message: 'must be longer than zero (a zero grace period is only allowed with compromise: true)',
      });
    }
  });

export type PostgresCdcRotationInput = z.input<typeof PostgresCdcRotationInput>;
export type PostgresCdcRotationPlan = z.output<typeof PostgresCdcRotationInput>;

export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
  constructor(readonly issues: Array<{ field: string; message: string }>) {
    super(`invalid rotation input: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`);
  }
}

/** Validates input; every problem names its field. Used by the CLI (at the edge) and again by the workflow. */
export function parseRotationInput(raw: unknown): PostgresCdcRotationPlan {
  const parsed = PostgresCdcRotationInput.safeParse(raw);
  if (!parsed.success) {
    throw new InvalidInputError(
      parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(input)', message: i.message })),
    );
  }
  return parsed.data;
}
