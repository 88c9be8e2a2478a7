import * as awsKeys from './input/awsKeys.js';
import * as connectRest from './input/connectRest.js';
import * as kafkaScram from './input/kafkaScram.js';
import * as postgresAdmin from './input/postgresAdmin.js';
import * as postgresApp from './input/postgresApp.js';
import * as postgresCdc from './input/postgresCdc.js';
import * as schemaRegistry from './input/schemaRegistry.js';

/**
 * The credential procedures, one entry each (as Vault's database engine lists its plugins):
 * what the rest of rekey used to list by hand. Ids, default secrets, the calendar's and the
 * emergency's procedures, plan resolution, start functions, the schedules file and the list of
 * runs all read this table; the workflow itself is added beside it in workflows/procedures.ts
 * (contracts import no workflow code). Workflow and activity type names stay as recorded
 * histories know them.
 */
export interface CredentialProcedureContract<Plan extends { dryRun: boolean }> {
  /** The procedure's id: `rotate-<id>/<resource>` workflow ids, the RotationComponent search attribute, schedules. */
  readonly id: string;
  /** What an operator reads in lists and reports. */
  readonly title: string;
  /** The workflow type a start, a schedule or the emergency launches (as histories record it). */
  readonly workflowType: string;
  /** The local activity that resolves the input into the plan on the worker. */
  readonly planResolver: string;
  readonly defaultSecret: string;
  /** Validates the plain-JSON input (every problem names its field). */
  readonly parse: (raw: unknown) => Plan;
  /** What one rotation at a time is keyed on, and the target label. */
  readonly resource: (plan: Plan) => string;
  readonly target: (plan: Plan) => string;
  /** The one-line summary the Web UI shows for a run. */
  readonly summary: (plan: Plan) => string;
  /** Position in `emergency rotate-all` (lower first); absent: not part of it. */
  readonly emergencyOrder?: number;
  /**
   * The `patched()` id under which the procedure joined the emergency after it first shipped:
   * emergencies started before it replay without launching it. A new participant names one.
   */
  readonly emergencySince?: string;
  /**
   * Run by the emergency only when its input names this procedure (`inputs: {"<id>": {...}}`):
   * a procedure whose default input is no real credential (one instance per application).
   */
  readonly emergencyOnlyWithInput?: boolean;
  /** May a schedule run it. */
  readonly scheduled: boolean;
}

/** A contract; `resource` and `target` default to the plan's secret and target. Names keep their literal types (typed activity lookups). */
const define = <Plan extends { dryRun: boolean; secret: string; target: string }, Resolver extends string>(
  p: Omit<CredentialProcedureContract<Plan>, 'resource' | 'target' | 'planResolver'> & {
    planResolver: Resolver;
  } & Partial<Pick<CredentialProcedureContract<Plan>, 'resource' | 'target'>>,
): CredentialProcedureContract<Plan> & { readonly planResolver: Resolver } => ({
  resource: (plan) => plan.secret,
  target: (plan) => plan.target,
  ...p,
});

export const credentialProcedures = {
  'postgresql-cdc': define({
    id: 'postgresql-cdc',
    title: 'PostgreSQL CDC user',
    workflowType: 'rotatePostgresCdcCredentials',
    planResolver: 'resolvePostgresCdcPlan',
    defaultSecret: postgresCdc.DEFAULT_SECRET,
    parse: postgresCdc.parsePostgresCdcInput,
    summary: (p) =>
      `rotate the PostgreSQL CDC user of ${p.target} (${p.secret}, ${p.strategy}, grace ${p.gracePeriod}${p.compromise ? ', COMPROMISE' : ''})`,
    emergencyOrder: 1,
    scheduled: true,
  }),
  'schema-registry': define({
    id: 'schema-registry',
    title: 'Schema Registry user',
    workflowType: 'rotateSchemaRegistryCredentials',
    planResolver: 'resolveSchemaRegistryPlan',
    defaultSecret: schemaRegistry.DEFAULT_SECRET,
    parse: schemaRegistry.parseSchemaRegistryInput,
    summary: (p) =>
      `rotate the Schema Registry user of account ${p.account} for ${p.target} (${p.secret}, connector ${p.connector}, grace ${p.gracePeriod})`,
    emergencyOrder: 3,
    scheduled: true,
  }),
  'aws-keys': define({
    id: 'aws-keys',
    title: 'AWS access key',
    workflowType: 'rotateAwsAccessKeys',
    planResolver: 'resolveAwsKeysPlan',
    defaultSecret: awsKeys.DEFAULT_SECRET,
    parse: awsKeys.parseAwsKeysInput,
    summary: (p) =>
      `rotate the access key of IAM user ${p.user} for ${p.target} (${p.secret}, connector ${p.connector}, grace ${p.gracePeriod}${p.deleteInactiveKey ? ', delete an inactive second key' : ''})`,
    emergencyOrder: 2,
    scheduled: true,
  }),
  'kafka-scram': define({
    id: 'kafka-scram',
    title: 'Kafka SCRAM principal',
    workflowType: 'rotateKafkaScramCredentials',
    planResolver: 'resolveKafkaScramPlan',
    defaultSecret: kafkaScram.DEFAULT_SECRET,
    parse: kafkaScram.parseKafkaScramInput,
    summary: (p) =>
      `rotate the Kafka SCRAM principal of ${p.target} (${p.secret}, ${p.mechanism}, connector ${p.connector}, grace ${p.gracePeriod}${p.compromise ? ', COMPROMISE' : ''})`,
    emergencyOrder: 4,
    emergencySince: 'emergency-kafka-scram',
    scheduled: true,
  }),
  'connect-rest': define({
    id: 'connect-rest',
    title: 'Kafka Connect REST user',
    workflowType: 'rotateConnectRestCredentials',
    planResolver: 'resolveConnectRestPlan',
    defaultSecret: connectRest.DEFAULT_SECRET,
    parse: connectRest.parseConnectRestInput,
    summary: (p) =>
      `rotate Kafka Connect's REST user for ${p.target} (${p.secret}, users in ${p.usersKey}, grace ${p.gracePeriod}${p.compromise ? ', COMPROMISE' : ''})`,
    emergencyOrder: 5,
    emergencySince: 'emergency-connect-rest',
    scheduled: true,
  }),
  'postgresql-admin': define({
    id: 'postgresql-admin',
    title: 'PostgreSQL admin password',
    workflowType: 'rotatePostgresAdminPassword',
    planResolver: 'resolvePostgresAdminPlan',
    defaultSecret: postgresAdmin.DEFAULT_SECRET,
    parse: postgresAdmin.parsePostgresAdminInput,
    summary: (p) =>
      `rotate the PostgreSQL admin password of ${p.target} in place (${p.secret}${p.workloads.length ? `, then roll ${p.workloads.map((w) => w.name).join(', ')}` : ''}${p.compromise ? ', COMPROMISE' : ''})`,
    emergencyOrder: 6,
    emergencySince: 'emergency-postgresql-admin',
    scheduled: true,
  }),
  // one instance per application (its own secret, owner role and workload): in the emergency only
  // when its input names the instance (its default is the stack's sample application)
  'postgresql-app': define({
    id: 'postgresql-app',
    title: 'PostgreSQL application user',
    workflowType: 'rotatePostgresAppCredentials',
    planResolver: 'resolvePostgresAppPlan',
    defaultSecret: postgresApp.DEFAULT_SECRET,
    parse: postgresApp.parsePostgresAppInput,
    summary: (p) =>
      `rotate the PostgreSQL login of ${p.workload.kind}/${p.workload.name} for ${p.target} (${p.secret}, owner ${p.ownerRole}, grace ${p.gracePeriod}${p.compromise ? ', COMPROMISE' : ''})`,
    emergencyOrder: 7,
    emergencySince: 'emergency-postgresql-app',
    emergencyOnlyWithInput: true,
    scheduled: true,
  }),
};

export type CredentialProcedureId = keyof typeof credentialProcedures;
type IdTuple = readonly [CredentialProcedureId, ...CredentialProcedureId[]];
const all = Object.values(credentialProcedures) as Array<
  (typeof credentialProcedures)[CredentialProcedureId] & { id: CredentialProcedureId }
>;

/** Every credential procedure's id, in the table's order. */
export const credentialProcedureIds = all.map((p) => p.id) as unknown as IdTuple;

/** The secret each credential rotation works on when its input names none (the runbook's names). */
export const defaultSecrets = Object.fromEntries(all.map((p) => [p.id, p.defaultSecret])) as {
  readonly [K in CredentialProcedureId]: string;
};

/** The procedures a schedule may run. */
export const scheduledRotations = all.filter((p) => p.scheduled).map((p) => p.id) as unknown as IdTuple;

/** The order an emergency rotates in: the database user first (it reads every row), then the archive's keys, then the registry. */
export const emergencyOrder = all
  .filter((p) => p.emergencyOrder !== undefined)
  .sort((a, b) => a.emergencyOrder! - b.emergencyOrder!)
  .map((p) => p.id) as unknown as IdTuple;

/** Each credential procedure's plan resolver (a local activity, by the name its contract gives): what activities/plans.ts serves. */
export type CredentialPlanResolvers = {
  [K in CredentialProcedureId as (typeof credentialProcedures)[K]['planResolver']]: (
    raw: unknown,
  ) => Promise<ReturnType<(typeof credentialProcedures)[K]['parse']>>;
};
