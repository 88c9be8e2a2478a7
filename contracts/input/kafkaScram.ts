import { z } from 'zod';
import {
  datedUserName,
  gracePeriodField,
  noGraceWhenCompromised,
  objectName,
  resolvedGrace,
  runFields,
} from './fields.js';
import { parseInput } from '../errors.js';

/** The Kafka Connect worker's principal (the platform plan's KAFKA_SASL_PASSWORD). */
export const DEFAULT_SECRET = 'kafka-connect-sasl';

export const scramMechanismNames = ['SCRAM-SHA-512', 'SCRAM-SHA-256'] as const;

const gracePeriod = gracePeriodField({
  example: 'PT24H, P1D or PT15M',
  positiveBecause: 'the old principal stays valid until every client has moved',
});

/** Steps after which a rollback drill may inject a failure (workers started with test hooks only). */
export const kafkaScramDrillSteps = [
  'stage-principal',
  'create-principal',
  'promote',
  'canary-read-back',
  'grace',
] as const;

const kafkaName = z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'must be a Kafka topic name');

/**
 * Input of a Kafka SCRAM principal's rotation: names and limits only, never a password (the
 * principal's `username`/`password` live in the secret `secret`). Two principals, as AWS
 * Secrets Manager's alternating users: a new one with the old one's ACLs, the clients moved,
 * the old one removed after grace.
 */
export const KafkaScramRotationInput = z
  .object({
    target: objectName.describe('what is being rotated (a label: search attribute, audit)'),
    secret: objectName
      .default(DEFAULT_SECRET)
      .describe("the secret the principal's clients read (username, password); one rotation per secret at a time"),
    userPrefix: z
      .string()
      .regex(/^[a-z][a-z0-9._-]{0,40}$/, 'must be a lowercase principal name prefix of at most 41 characters')
      .optional()
      .describe('new principal <prefix>-<yyyymmdd>-<hhmm> (UTC); default: the current name without its date'),
    mechanism: z
      .enum(scramMechanismNames, { error: () => `must be one of: ${scramMechanismNames.join(', ')}` })
      .default('SCRAM-SHA-512'),
    connector: objectName
      .default('postgres-cdc-users-connector')
      .describe('the connector whose change events prove the switch (the canary); its worker is restarted'),
    canaryTopic: kafkaName.default('ecommerce.public.rekey_canary'),
    slot: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lowercase PostgreSQL identifier (at most 63 characters)')
      .default('debezium_slot'),
    gracePeriod: gracePeriod.optional().describe('how long the old principal stays valid after the clients moved'),
    connectWaitSeconds: z
      .number()
      .int()
      .min(30)
      .max(600)
      .default(300)
      .describe('how long the Connect worker may take to come back with its connectors RUNNING after its restart'),
    ...runFields({
      drillSteps: kafkaScramDrillSteps,
      compromise:
        'suspected compromise (emergency rotate-all): no grace, the old principal is removed right after the switch',
    }),
  })
  .strict()
  .superRefine(noGraceWhenCompromised('the old principal is removed at once'))
  .transform((v) => ({ ...v, gracePeriod: resolvedGrace(v, 'PT24H') }));

export type KafkaScramRotationInput = z.input<typeof KafkaScramRotationInput>;
export type KafkaScramRotationPlan = z.output<typeof KafkaScramRotationInput>;

/** Validates input; every problem names its field. Used at the edge (CLI) and by the worker when a run starts. */
export function parseKafkaScramInput(raw: unknown): KafkaScramRotationPlan {
  return parseInput(KafkaScramRotationInput, raw);
}

/** The new principal's name: `<prefix>-yyyymmdd-hhmm` in UTC (the same shape as every alternating user rekey makes). */
export const kafkaPrincipalName = datedUserName;
