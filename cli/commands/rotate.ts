import type { Command } from 'commander';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { AwsKeysRotationInput } from '../../contracts/input/awsKeys.js';
import type { PostgresCdcRotationInput } from '../../contracts/input/postgresCdc.js';
import type { SchemaRegistryRotationInput } from '../../contracts/input/schemaRegistry.js';
import type { ConnectRestRotationInput } from '../../contracts/input/connectRest.js';
import type { KafkaScramRotationInput } from '../../contracts/input/kafkaScram.js';
import type { PostgresAdminRotationInput } from '../../contracts/input/postgresAdmin.js';
import type { PostgresAppRotationInput } from '../../contracts/input/postgresApp.js';
import {
  type CredentialProcedureId,
  credentialProcedureIds,
  credentialProcedures,
  defaultSecrets,
} from '../../contracts/procedures.js';
import type { RotationResult } from '../../workflows/rotation/index.js';
import { duration, operator, seconds, withClient } from '../context.js';
import { printPlan, printResult } from '../print.js';

/** Options every rotate-* command has, after its procedure's own. */
interface CommonOptions {
  grace?: string;
  compromise?: boolean;
  reason: string;
  requestedBy: string;
  dryRun?: boolean;
  force?: string;
  wait?: boolean;
  json?: boolean;
}

/** `grace` absent: the procedure has none (one password in place), so no --grace option. */
function commonOptions(cmd: Command, what: { grace?: string; compromise: string; force?: string }): Command {
  if (what.grace) cmd.option('--grace <duration>', what.grace, duration);
  return cmd
    .option('--compromise', what.compromise)
    .option('--reason <text>', 'why', 'scheduled rotation')
    .option('--requested-by <who>', 'who (default: the OS user)', operator)
    .option('--dry-run', 'run pre-flight and print the plan: every step, its call and its compensation')
    .option('--force <reason>', what.force ?? 'go on although pre-flight checks fail (reason goes to the audit log)')
    .option('--wait', 'follow the rotation until it ends (a dry run always does)')
    .option('--json', 'print JSON');
}

/** The fields every procedure's input shares, from the common options. */
const commonInput = (o: CommonOptions) => ({
  ...(o.grace ? { gracePeriod: o.grace } : {}),
  compromise: Boolean(o.compromise),
  reason: o.reason,
  requestedBy: o.requestedBy,
  dryRun: Boolean(o.dryRun),
  ...(o.force ? { force: { reason: o.force } } : {}),
});

/** Waits for the result, printing one line per phase change (the progress query, polled). */
export async function follow(handle: WorkflowHandle, json: boolean): Promise<RotationResult> {
  const { progressQuery } = await import('../../workflows/rotation/definitions.js');
  let last = '';
  const t0 = Date.now();
  const timer = setInterval(() => {
    void handle.query(progressQuery).then(
      (p) => {
        const running = p.steps
          .filter((s) => s.outcome === 'running')
          .map((s) => s.name)
          .join(', ');
        const line = `  ${p.phase}${running ? `: ${running}` : ''}`;
        if (line !== last && !json) console.log(`${line}   (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
        last = line;
      },
      () => undefined,
    );
  }, 1000);
  try {
    return (await handle.result()) as RotationResult;
  } finally {
    clearInterval(timer);
  }
}

/** Prints a finished rotation (human or JSON); a failed run names the workflow and its decoded cause. */
export async function finish(handle: WorkflowHandle, o: { json?: boolean }): Promise<void> {
  const { WorkflowFailedError } = await import('@temporalio/client');
  const result = await follow(handle, Boolean(o.json)).catch((err: unknown) => {
    throw err instanceof WorkflowFailedError
      ? new Error(`${handle.workflowId} failed: ${err.cause?.message ?? err.message}`)
      : err;
  });
  if (o.json) console.log(JSON.stringify(result));
  else if (result.plan) printPlan(result);
  else printResult(result);
  // a rotation that completed but whose final access validation failed is not a success for the caller
  if ((result.status !== 'completed' && result.status !== 'dry-run') || result.validation?.ok === false)
    process.exitCode = 1;
}

/**
 * Validates the input with the procedure's own schema first (a bad value is refused, naming its
 * field, without a server), then starts the rotation and, with --wait or for a dry run, follows it.
 */
export async function runRotation<I>(
  o: { dryRun?: boolean; wait?: boolean; json?: boolean },
  input: I,
  validate: (raw: I) => unknown,
  start: (client: Client, input: I, taskQueue: string) => Promise<WorkflowHandle>,
): Promise<void> {
  validate(input);
  await withClient(async (client, taskQueue) => {
    const handle = await start(client, input, taskQueue);
    if (!o.json) console.log(`started ${handle.workflowId}`);
    if (o.wait || o.dryRun) await finish(handle, o);
  });
}

/** Validates with the procedure's contract, then starts it through its start function (loaded on use). */
async function runCredential<I>(id: CredentialProcedureId, o: CommonOptions, input: I): Promise<void> {
  await runRotation(o, input, credentialProcedures[id].parse, async (c, i, taskQueue) => {
    const { credentialStarters } = await import('../../workers/startRotation.js');
    return (credentialStarters[id] as (c: Client, i: I, o: { taskQueue: string }) => Promise<WorkflowHandle>)(c, i, {
      taskQueue,
    });
  });
}

interface CdcOptions extends CommonOptions {
  target: string;
  secret: string;
  strategy: string;
}
interface RegistryOptions extends CommonOptions {
  target: string;
  secret: string;
  account: string;
  connector: string;
}
interface ScramOptions extends CommonOptions {
  target: string;
  secret: string;
  userPrefix?: string;
  mechanism: string;
  connector: string;
}
interface ConnectRestOptions extends CommonOptions {
  target: string;
  secret: string;
  usersKey: string;
  userPrefix?: string;
  connector: string;
}
interface PostgresAdminOptions extends CommonOptions {
  target: string;
  secret: string;
  workload: string[];
}
interface PostgresAppOptions extends CommonOptions {
  target: string;
  secret: string;
  ownerRole: string;
  applicationName: string;
  workload: string;
  userPrefix?: string;
}
interface AwsOptions extends CommonOptions {
  target: string;
  secret: string;
  user: string;
  connector: string;
  bucket: string;
  prefix: string;
  canaryTopic?: string;
  watchSeconds?: number;
  deleteInactiveKey?: boolean;
}

/** Each credential procedure's `rekey rotate-…` command: its own options, then the common ones. A procedure without one does not compile. */
const rotateCommands = {
  'postgresql-cdc': (program: Command) => {
    const cdc = program
      .command('rotate-postgres-cdc')
      .description('start the PostgreSQL CDC user rotation (one per secret at a time)')
      .requiredOption('--target <name>', 'what is rotated, e.g. ecommerce (a label)')
      .option('--secret <name>', 'the credential the pipeline consumes', defaultSecrets['postgresql-cdc'])
      .option('--strategy <s>', 'reload-connector | restart-worker', 'reload-connector');
    commonOptions(cdc, {
      grace: 'hold the old user this long (default PT24H; at most P30D)',
      compromise: 'suspected compromise: revoke the old user right after the switch (grace PT0S)',
    }).action(async (o: CdcOptions) => {
      const input = {
        target: o.target,
        secret: o.secret,
        strategy: o.strategy,
        ...commonInput(o),
      } as PostgresCdcRotationInput;
      await runCredential('postgresql-cdc', o, input);
    });
  },
  'schema-registry': (program: Command) => {
    const registry = program
      .command('rotate-schema-registry')
      .description(
        'start the Schema Registry credential rotation: add a second user, move the clients, remove the old user (one per secret at a time)',
      )
      .requiredOption('--target <name>', 'what is rotated, e.g. ecommerce (a label)')
      .option('--secret <name>', 'the secret the registry and its clients read', defaultSecrets['schema-registry'])
      .option(
        '--account <name>',
        "the account whose user is rotated (Kafka Connect's Avro converter uses developer)",
        'developer',
      )
      .option('--connector <name>', 'the connector whose converter uses the account', 'postgres-cdc-users-connector');
    commonOptions(registry, {
      grace: 'keep the old user accepted this long (default PT24H; at most P30D)',
      compromise: 'suspected compromise: remove the old user right after the switch (no grace)',
    }).action(async (o: RegistryOptions) => {
      const input: SchemaRegistryRotationInput = {
        target: o.target,
        secret: o.secret,
        account: o.account,
        connector: o.connector,
        ...commonInput(o),
      };
      await runCredential('schema-registry', o, input);
    });
  },
  'aws-keys': (program: Command) => {
    const aws = program
      .command('rotate-aws-keys')
      .description(
        "start the S3 sink's IAM access-key rotation: second key, switch the sink, deactivate and watch the old key, delete it after grace (one per secret at a time)",
      )
      .requiredOption('--target <name>', 'what is rotated, e.g. ecommerce (a label)')
      .option('--secret <name>', 'the secret the sink reads its key from', defaultSecrets['aws-keys'])
      .option('--user <name>', 'the IAM user whose key is rotated', 'datapipe-s3-user')
      .option('--connector <name>', 'the S3 sink connector', 's3-sink-connector')
      .option('--bucket <name>', 'the bucket the sink writes to', 'datapipe-archive')
      .option('--prefix <prefix>', "the sink's key prefix (topics.dir)", 'topics/')
      .option(
        '--canary-topic <topic>',
        'the topic of public.rekey_canary; when the sink archives it, a canary row proves the switch (default ecommerce.public.rekey_canary)',
      )
      .option(
        '--watch-seconds <n>',
        'watch the old key this long for uses before deactivating it (default 60; 10-900)',
        seconds,
      )
      .option(
        '--delete-inactive-key',
        'the user already has two keys: delete the other one first if it is Inactive (an Active one always refuses)',
      );
    commonOptions(aws, {
      grace: 'keep the old key (inactive) this long before deleting it (default P7D; at most P30D)',
      compromise: 'suspected compromise: deactivate and delete the old key right after the switch (no watch, no grace)',
      force: 'go on although soft pre-flight checks fail (never the key checks; reason goes to the audit log)',
    }).action(async (o: AwsOptions) => {
      const input: AwsKeysRotationInput = {
        target: o.target,
        secret: o.secret,
        user: o.user,
        connector: o.connector,
        bucket: o.bucket,
        prefix: o.prefix,
        ...(o.canaryTopic ? { canaryTopic: o.canaryTopic } : {}),
        ...(o.watchSeconds !== undefined ? { watchSeconds: o.watchSeconds } : {}),
        deleteInactiveKey: Boolean(o.deleteInactiveKey),
        ...commonInput(o),
      };
      await runCredential('aws-keys', o, input);
    });
  },
  'kafka-scram': (program: Command) => {
    const scram = program
      .command('rotate-kafka-scram')
      .description(
        "start a Kafka SCRAM principal's rotation (KAFKA_SASL_PASSWORD): a second principal with the same ACLs, the Connect worker restarted onto it, the old principal removed after grace (one per secret at a time)",
      )
      .requiredOption('--target <name>', 'what is rotated, e.g. ecommerce (a label)')
      .option('--secret <name>', "the secret the principal's clients read", defaultSecrets['kafka-scram'])
      .option('--user-prefix <name>', 'new principal <prefix>-<yyyymmdd>-<hhmm> (default: the current name)')
      .option('--mechanism <name>', 'SCRAM-SHA-512 or SCRAM-SHA-256', 'SCRAM-SHA-512')
      .option(
        '--connector <name>',
        'the connector whose change events prove the switch',
        'postgres-cdc-users-connector',
      );
    commonOptions(scram, {
      grace: 'keep the old principal valid this long (default PT24H; at most P30D)',
      compromise: 'suspected compromise: remove the old principal right after the switch (no grace)',
    }).action(async (o: ScramOptions) => {
      const input = {
        target: o.target,
        secret: o.secret,
        ...(o.userPrefix ? { userPrefix: o.userPrefix } : {}),
        mechanism: o.mechanism,
        connector: o.connector,
        ...commonInput(o),
      } as KafkaScramRotationInput;
      await runCredential('kafka-scram', o, input);
    });
  },
  'connect-rest': (program: Command) => {
    const rest = program
      .command('rotate-connect-rest')
      .description(
        "start a Kafka Connect REST credential's rotation (KAFKA_CONNECT_PASSWORD): Connect made to accept a second user (a worker restart), the clients moved, the old user removed after grace (another restart) and proven refused (one per secret at a time)",
      )
      .requiredOption('--target <name>', 'what is rotated, e.g. ecommerce (a label)')
      .option('--secret <name>', 'the secret the REST clients read and Connect mounts', defaultSecrets['connect-rest'])
      .option('--users-key <key>', "the secret's key holding the users Connect accepts", 'users.properties')
      .option('--user-prefix <name>', 'new user <prefix>-<yyyymmdd>-<hhmm> (default: the current name)')
      .option('--connector <name>', 'a connector on the Connect cluster (its lease)', 'postgres-cdc-users-connector');
    commonOptions(rest, {
      grace: 'keep the old user accepted this long (default PT24H; at most P30D)',
      compromise: 'suspected compromise: remove the old user right after the switch (no grace)',
    }).action(async (o: ConnectRestOptions) => {
      const input = {
        target: o.target,
        secret: o.secret,
        usersKey: o.usersKey,
        ...(o.userPrefix ? { userPrefix: o.userPrefix } : {}),
        connector: o.connector,
        ...commonInput(o),
      } as ConnectRestRotationInput;
      await runCredential('connect-rest', o, input);
    });
  },
  'postgresql-admin': (program: Command) => {
    const admin = program
      .command('rotate-postgres-admin')
      .description(
        "start a PostgreSQL admin password's rotation in place (POSTGRES_PASSWORD, rekey's own postgres-admin): the old verifier backed up, ALTER ROLE with a verifier made on the worker, the secret promoted, the workloads that read it at start rolled, the old password proven refused; rollback restores the exact old verifier",
      )
      .requiredOption('--target <name>', 'what is rotated, e.g. ecommerce (a label)')
      .option('--secret <name>', "the secret with the role's username and password", defaultSecrets['postgresql-admin'])
      .option(
        '--workload <kind/name>',
        'a Deployment/<name> or StatefulSet/<name> that reads the secret at start: rolled after the switch (repeatable)',
        (value: string, all: string[]) => [...all, value],
        [] as string[],
      );
    commonOptions(admin, {
      compromise: "suspected compromise: end the role's other sessions after the switch",
    }).action(async (o: PostgresAdminOptions) => {
      const input = {
        target: o.target,
        secret: o.secret,
        workloads: o.workload.map((w) => {
          const [kind, name] = w.split('/', 2);
          return { kind, name };
        }),
        ...commonInput(o),
      } as PostgresAdminRotationInput;
      await runCredential('postgresql-admin', o, input);
    });
  },
  'postgresql-app': (program: Command) => {
    const app = program
      .command('rotate-postgres-app')
      .description(
        "start an application's PostgreSQL login rotation (NESSIE_PASSWORD, KEYCLOAK_DB_PASSWORD, …): the next login role as a member of the owner role, the secret promoted, the workload rolled, its sessions proven moved, the old role dropped after grace (one per secret at a time)",
      )
      .requiredOption('--target <name>', 'what is rotated, e.g. orders (a label)')
      .option(
        '--secret <name>',
        "the application's secret (db-username, db-password)",
        defaultSecrets['postgresql-app'],
      )
      .option('--owner-role <role>', "the NOLOGIN role that owns the application's objects", 'orders_owner')
      .option('--application-name <name>', "the application_name of the application's sessions", 'orders-app')
      .option(
        '--workload <kind/name>',
        'the Deployment/<name> or StatefulSet/<name> that reads the secret',
        'Deployment/orders-app',
      )
      .option('--user-prefix <prefix>', 'new login role <prefix>_<yyyymmdd>_<hhmm>');
    commonOptions(app, {
      grace: 'keep the old login role valid this long (default PT24H; at most P30D)',
      compromise: "suspected compromise: end the old role's sessions and drop it right after the switch (no grace)",
    }).action(async (o: PostgresAppOptions) => {
      const [kind, name] = o.workload.split('/', 2);
      const input = {
        target: o.target,
        secret: o.secret,
        ownerRole: o.ownerRole,
        applicationName: o.applicationName,
        workload: { kind, name },
        ...(o.userPrefix ? { userPrefix: o.userPrefix } : {}),
        ...commonInput(o),
      } as PostgresAppRotationInput;
      await runCredential('postgresql-app', o, input);
    });
  },
} satisfies Record<CredentialProcedureId, (program: Command) => void>;

/** `rekey rotate-postgres-cdc|rotate-schema-registry|rotate-aws-keys|rotate-kafka-scram|rotate-connect-rest`: what the Web UI starts, from a terminal. */
export function registerRotateCommands(program: Command): void {
  for (const id of credentialProcedureIds) rotateCommands[id](program);
}
