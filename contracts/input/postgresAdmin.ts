import { z } from 'zod';
import { objectName, runFields } from './fields.js';
import { parseInput } from '../errors.js';

/** The PostgreSQL superuser's credential (the platform plan's POSTGRES_PASSWORD), which rekey itself logs in with. */
export const DEFAULT_SECRET = 'postgres-admin';

/** Steps after which a rollback drill may inject a failure (workers started with test hooks only). */
export const postgresAdminDrillSteps = [
  'stage-password',
  'backup',
  'set-password',
  'promote',
  'sessions-kept',
] as const;

const workload = z
  .object({
    kind: z.enum(['Deployment', 'StatefulSet'], { error: () => 'must be Deployment or StatefulSet' }),
    name: objectName,
  })
  .strict();

/**
 * Input of an admin password's rotation in place: names and limits only, never a password.
 * One role holds one password, so there is no grace: the old password stops working at the
 * switch; sessions already open stay (PostgreSQL checks a password only at login).
 */
export const PostgresAdminRotationInput = z
  .object({
    target: objectName.describe('what is being rotated (a label: search attribute, audit)'),
    secret: objectName
      .default(DEFAULT_SECRET)
      .describe("the secret holding the role's username and password (rekey's own admin secret by default)"),
    workloads: z
      .array(workload)
      .max(20)
      .default([])
      .describe('workloads that read the secret at start: rolled after the switch (Kubernetes rollout restart)'),
    workloadWaitSeconds: z.number().int().min(30).max(600).default(300),
    ...runFields({
      drillSteps: postgresAdminDrillSteps,
      compromise:
        "suspected compromise (emergency rotate-all): the role's other sessions, an attacker's among them, are ended after the switch",
    }),
  })
  .strict();

export type PostgresAdminRotationInput = z.input<typeof PostgresAdminRotationInput>;
export type PostgresAdminRotationPlan = z.output<typeof PostgresAdminRotationInput>;

/** Validates input; every problem names its field. Used at the edge (CLI) and by the worker when a run starts. */
export function parsePostgresAdminInput(raw: unknown): PostgresAdminRotationPlan {
  return parseInput(PostgresAdminRotationInput, raw);
}
