import { z } from 'zod';

/** The order an emergency rotates in: the database user first (it reads every row), then the archive's keys, then the registry. */
export const emergencyOrder = ['postgresql-cdc', 'aws-keys', 'schema-registry'] as const;
export type EmergencyProcedure = (typeof emergencyOrder)[number];

const overrides = z.record(z.string(), z.unknown()).default({}).describe("extra input for the procedure (e.g. its secret); compromise, target, reason and requestedBy are set by the emergency");

/** Input of `emergencyRotateAll` (plain JSON: the Web UI and `temporal workflow start` can send it). */
export const RotateAllInput = z
  .object({
    reason: z.string().min(10, 'say in at least 10 characters what is suspected (it goes to every rotation and the audit log)').max(500),
    requestedBy: z.string().min(1).max(200).default('unknown'),
    target: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/, 'must be lowercase letters, digits, "-" or "." (at most 63 characters)').default('ecommerce'),
    skip: z.array(z.enum(emergencyOrder)).max(3).default([]).describe('procedures not to run (e.g. a credential not in use)'),
    inputs: z.object({ 'postgresql-cdc': overrides, 'aws-keys': overrides, 'schema-registry': overrides }).partial().strict().default({}),
    registryAccounts: z
      .array(z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'must be a lowercase account name'))
      .min(1)
      .max(10)
      .default(['developer', 'admin', 'probe'])
      .describe("the Schema Registry accounts rotated, one after another (every account of the runbook's user-info by default: the converter's developer, admin, probe)"),
    /** How long to wait for a rotation already running on a credential to end (it is told the credential is compromised) before reporting it. */
    waitForRunningSeconds: z.number().int().min(0).max(1800).default(600),
  })
  .strict();

export type RotateAllInput = z.input<typeof RotateAllInput>;
export type RotateAllPlan = z.output<typeof RotateAllInput>;
