import { z } from 'zod';
import { gracePeriodField, noGraceWhenCompromised, objectName, resolvedGrace, runFields } from './fields.js';
import { parseInput } from '../errors.js';

/** The embedded stack's sample application (scripts/stack/sampleApp.ts): the default instance. */
export const DEFAULT_SECRET = 'orders-app-db';

const pgIdentifier = z
  .string()
  .regex(
    /^[a-z_][a-z0-9_]{0,62}$/,
    'must be a lowercase PostgreSQL identifier ([a-z_][a-z0-9_]*, at most 63 characters)',
  );

/** Steps after which a rollback drill may inject a failure (workers started with test hooks only). */
export const postgresAppDrillSteps = ['stage-user', 'create-role', 'promote', 'sessions-moved', 'grace'] as const;

/**
 * Input of one application's PostgreSQL login rotation (the platform plan's NESSIE_PASSWORD,
 * KEYCLOAK_DB_PASSWORD, …): names and limits only, never a password. One instance per
 * application: its secret (db-username, db-password), the NOLOGIN role that owns its objects, how
 * its sessions are recognised (application_name) and the workload that reads the secret at start.
 */
export const PostgresAppRotationInput = z
  .object({
    target: objectName.describe('what is being rotated (a label: search attribute, audit)'),
    secret: objectName
      .default(DEFAULT_SECRET)
      .describe("the application's secret (db-username, db-password); one rotation per secret at a time"),
    ownerRole: pgIdentifier
      .default('orders_owner')
      .describe("the NOLOGIN role that owns the application's objects; every login role is its member"),
    userPrefix: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,40}$/, 'must be a lowercase identifier prefix of at most 41 characters')
      .optional()
      .describe('new login role <prefix>_<yyyymmdd>_<hhmm> (UTC); default: the owner role without _owner, then _app'),
    applicationName: z
      .string()
      .regex(/^[\x20-\x7e]{1,63}$/, 'must be 1–63 printable ASCII characters')
      .default('orders-app')
      .describe("the application_name the application's sessions set: how pg_stat_activity shows them"),
    workload: z
      .object({
        kind: z.enum(['Deployment', 'StatefulSet'], { error: () => 'must be Deployment or StatefulSet' }),
        name: objectName,
      })
      .strict()
      .default({ kind: 'Deployment', name: 'orders-app' })
      .describe('the workload that reads the secret at start: rolled after the switch'),
    workloadWaitSeconds: z.number().int().min(30).max(600).default(300),
    sessionsWaitSeconds: z
      .number()
      .int()
      .min(10)
      .max(900)
      .default(120)
      .describe("how long the application's sessions may take to log in as the new role after the roll"),
    gracePeriod: gracePeriodField({ example: 'PT24H, P1D or PT15M' })
      .optional()
      .describe('how long the old login role stays valid after the sessions moved'),
    ...runFields({
      drillSteps: postgresAppDrillSteps,
      compromise:
        "suspected compromise: no grace, the old role's sessions are ended and it is dropped right after the switch",
    }),
  })
  .strict()
  .superRefine(noGraceWhenCompromised('the old role is dropped at once'))
  .transform((v) => ({ ...v, gracePeriod: resolvedGrace(v, 'PT24H') }));

export type PostgresAppRotationInput = z.input<typeof PostgresAppRotationInput>;
export type PostgresAppRotationPlan = z.output<typeof PostgresAppRotationInput>;

export function parsePostgresAppInput(raw: unknown): PostgresAppRotationPlan {
  return parseInput(PostgresAppRotationInput, raw);
}

/** `<prefix>_yyyymmdd_hhmm` in UTC (prefix: the owner role without `_owner`, then `_app`); seconds when that name is taken. */
export function appUserName(
  plan: Pick<PostgresAppRotationPlan, 'userPrefix' | 'ownerRole'>,
  at: Date,
  current: string,
) {
  const prefix = plan.userPrefix ?? `${plan.ownerRole.replace(/_owner$/, '')}_app`;
  const iso = at.toISOString();
  const base = `${prefix}_${iso.slice(0, 10).replace(/-/g, '')}_${iso.slice(11, 16).replace(':', '')}`;
  return base === current ? `${base}${iso.slice(17, 19)}` : base;
}
