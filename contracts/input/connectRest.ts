import { z } from 'zod';
import { gracePeriodField, noGraceWhenCompromised, objectName, resolvedGrace, runFields } from './fields.js';
import { parseInput } from '../errors.js';

/** Kafka Connect's REST credential (the platform plan's KAFKA_CONNECT_PASSWORD). */
export const DEFAULT_SECRET = 'kafka-connect-rest';

const gracePeriod = gracePeriodField({
  example: 'PT24H, P1D or PT15M',
  positiveBecause: 'the old user stays accepted until every client of the REST API has moved',
});

/** Steps after which a rollback drill may inject a failure (workers started with test hooks only). */
export const connectRestDrillSteps = ['stage-user', 'accept-both', 'both-accepted', 'promote', 'grace'] as const;

/**
 * Input of a Kafka Connect REST credential's rotation: names and limits only, never a password
 * (what clients send is the secret's `username`/`password`; what Connect accepts is its
 * `usersKey`, the file Kafka's PropertyFileLoginModule reads). Three phases as for the
 * registry: Connect accepts both users, the clients move, the old user is removed.
 */
export const ConnectRestRotationInput = z
  .object({
    target: objectName.describe('what is being rotated (a label: search attribute, audit)'),
    secret: objectName
      .default(DEFAULT_SECRET)
      .describe('the secret the REST clients read (username, password) and Connect mounts (usersKey)'),
    usersKey: z
      .string()
      .regex(/^[-._a-zA-Z0-9]{1,253}$/, 'must be a Secret key (letters, digits, ".", "_", "-")')
      .default('users.properties')
      .describe("the secret's key holding the users Connect accepts (user=password lines)"),
    userPrefix: z
      .string()
      .regex(/^[a-z][a-z0-9._-]{0,40}$/, 'must be a lowercase user name prefix of at most 41 characters')
      .optional()
      .describe('new user <prefix>-<yyyymmdd>-<hhmm> (UTC); default: the current name without its date'),
    connector: objectName
      .default('postgres-cdc-users-connector')
      .describe(
        'a connector on the Connect cluster: its lease keeps a CDC or registry switch from restarting the same worker meanwhile',
      ),
    connectWaitSeconds: z
      .number()
      .int()
      .min(30)
      .max(600)
      .default(300)
      .describe('how long the Connect worker may take to come back with every connector RUNNING after a restart'),
    gracePeriod: gracePeriod.optional().describe('how long the old user stays accepted after the clients moved'),
    ...runFields({
      drillSteps: connectRestDrillSteps,
      compromise:
        'suspected compromise (emergency rotate-all): no grace, the old user is removed right after the switch',
    }),
  })
  .strict()
  .superRefine(noGraceWhenCompromised('the old user is removed at once'))
  .transform((v) => ({ ...v, gracePeriod: resolvedGrace(v, 'PT24H') }));

export type ConnectRestRotationInput = z.input<typeof ConnectRestRotationInput>;
export type ConnectRestRotationPlan = z.output<typeof ConnectRestRotationInput>;

/** Validates input; every problem names its field. Used at the edge (CLI) and by the worker when a run starts. */
export function parseConnectRestInput(raw: unknown): ConnectRestRotationPlan {
  return parseInput(ConnectRestRotationInput, raw);
}
