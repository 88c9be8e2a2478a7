import { z } from 'zod';
import { components, type Component } from '../checklist.js';
import { defaultSecrets } from '../procedures.js';

const name = z
  .string()
  .regex(
    /^[a-z0-9]([-a-z0-9._]{0,61}[a-z0-9])?$/,
    'must be lowercase letters, digits, "-", "_" or "." (at most 63 characters)',
  );

/** The pipeline's names the checks look at; every default is the runbook's (and the embedded stack's). */
export const ValidationTargets = z
  .object({
    cdcSecret: name.default(defaultSecrets['postgresql-cdc']),
    slot: name.default('debezium_slot'),
    publication: name.default('dbz_publication'),
    connector: name.default('postgres-cdc-users-connector'),
    sinkConnector: name.default('s3-sink-connector'),
    registrySecret: name.default(defaultSecrets['schema-registry']),
    registryAccounts: z.array(name).min(1).max(10).default(['admin', 'developer', 'probe']),
    topicPrefix: z.string().min(1).max(100).default('ecommerce.'),
    awsSecret: name.default(defaultSecrets['aws-keys']),
    kafkaPrincipalSecret: name.default(defaultSecrets['kafka-scram']),
    bucket: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name')
      .default('datapipe-archive'),
    prefix: z.string().max(200).default('topics/'),
    serviceAccounts: z.array(name).max(20).default(['kafka-connect', 'rekey-worker', 'schema-registry']),
    secrets: z
      .array(z.object({ name, keys: z.array(z.string().min(1).max(100)).max(20) }).strict())
      .max(20)
      .default([
        { name: 'debezium-credentials', keys: ['db-username', 'db-password'] },
        {
          name: 'schema-registry-auth',
          keys: ['admin-user', 'admin-password', 'developer-user', 'developer-password'],
        },
        { name: 'aws-credentials', keys: ['access-key-id', 'secret-access-key'] },
        { name: 'postgres-admin', keys: ['username', 'password'] },
      ]),
    networkPolicies: z
      .array(name)
      .max(20)
      .default(['default-deny-ingress', 'allow-kafka-connect', 'allow-schema-registry']),
    workloads: z
      .array(z.object({ kind: z.enum(['Deployment', 'StatefulSet']), name }).strict())
      .max(20)
      .default([
        { kind: 'Deployment', name: 'kafka-connect' },
        { kind: 'StatefulSet', name: 'schema-registry' },
      ]),
  })
  .strict();

const componentName = z.enum(['all', ...components] as [string, ...string[]], {
  message: `must be one of all, ${components.join(', ')}`,
});

/**
 * Input of `validatePipeline`: plain JSON, so the Web UI and `temporal workflow start` can
 * start it: `{ "components": ["all"] }` or a list such as `["postgresql", "s3"]`.
 */
export const ValidationInput = z
  .object({
    components: z
      .array(componentName)
      .min(1)
      .max(components.length + 1)
      .default(['all']),
    /** The CLI prints evidence with --verbose; the report always carries it. */
    verbose: z.boolean().default(false),
    targets: ValidationTargets.prefault({}),
  })
  .strict();

export type ValidationInput = z.input<typeof ValidationInput>;
export type ValidationPlan = z.output<typeof ValidationInput>;
export type ValidationTargetNames = z.output<typeof ValidationTargets>;

export class InvalidValidationInput extends Error {
  override name = 'InvalidValidationInput';
  constructor(readonly issues: Array<{ field: string; message: string }>) {
    super(`invalid validation input: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`);
  }
}

export function parseValidationInput(raw: unknown): ValidationPlan {
  const parsed = ValidationInput.safeParse(raw ?? {});
  if (!parsed.success)
    throw new InvalidValidationInput(
      parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(input)', message: i.message })),
    );
  return parsed.data;
}

/** `all` expanded, duplicates removed, in the checklist's order. */
export function expandComponents(requested: readonly string[]): Component[] {
  return requested.includes('all') ? [...components] : components.filter((c) => requested.includes(c));
}
