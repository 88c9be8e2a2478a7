import { Command } from 'commander';
import { type Client, type WorkflowHandle, WorkflowFailedError } from '@temporalio/client';
import { ConfigError } from '../workers/config.js';
import { ScheduleFileError } from '../workers/schedules/file.js';
import { duration, operator, seconds, withClient } from './cli/context.js';
import { registerScheduleCommands } from './cli/schedules.js';
import { RotationInProgressError, startAwsKeysRotation, startPostgresCdcRotation, startSchemaRegistryRotation } from '../workers/startRotation.js';
import type { AwsKeysRotationInput } from '../workflows/awsKeys/input.js';
import { InvalidInputError, type PostgresCdcRotationInput } from '../workflows/postgresCdc/input.js';
import type { SchemaRegistryRotationInput } from '../workflows/schemaRegistry/input.js';
import {
  abandonSignal,
  cleanupNowSignal,
  extendGraceSignal,
  progressQuery,
  retrySignal,
  type RotationProgress,
  type RotationResult,
} from '../workflows/rotation/index.js';
import { printPlan, printProgress, printResult } from './lib/print.js';
import { listRotations } from './lib/rotations.js';
import { registerValidateCommands } from './cli/validate.js';
import { emergencyCommand, registerEmergencyCommands } from './cli/emergency.js';
import { addRotateAllCommand } from './cli/emergencyRotateAll.js';
import { registerCertificateCommands } from './cli/certificates.js';
import { registerCertificateLifecycleCommands } from './cli/certificateLifecycle.js';
import { registerRollbackCommand } from './cli/rollback.js';

/** Operator CLI: start, inspect and steer rotations (what the Web UI does, from a terminal). */
const program = new Command('rekey').description('credential rotations for the CDC pipeline, on Temporal');
/** Waits for the result, printing one line per phase change (the progress query, polled). */
async function follow(handle: WorkflowHandle, json: boolean): Promise<RotationResult> {
  let last = '';
  const t0 = Date.now();
  const timer = setInterval(() => {
    void handle.query(progressQuery).then(
      (p) => {
        const running = p.steps.filter((s) => s.outcome === 'running').map((s) => s.name).join(', ');
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

/** Starts a rotation, then (with --wait, or for a dry run) follows it and prints the result or the plan. */
async function runRotation(o: { dryRun?: boolean; wait?: boolean; json?: boolean }, start: (client: Client, taskQueue: string) => Promise<WorkflowHandle>): Promise<void> {
  await withClient(async (client, taskQueue) => {
    const handle = await start(client, taskQueue);
    if (!o.json) console.log(`started ${handle.workflowId}`);
    if (!o.wait && !o.dryRun) return;
    const result = await follow(handle, Boolean(o.json)).catch((err: unknown) => {
      throw err instanceof WorkflowFailedError ? new Error(`${handle.workflowId} failed: ${err.cause?.message ?? err.message}`) : err;
    });
    if (o.json) console.log(JSON.stringify(result));
    else if (result.plan) printPlan(result);
    else printResult(result);
  });
}

interface RotateOptions { target: string; secret?: string; strategy: string; grace?: string; compromise?: boolean; reason: string; requestedBy: string; dryRun?: boolean; force?: string; wait?: boolean; json?: boolean }

program
  .command('rotate-postgres-cdc')
  .description('start the PostgreSQL CDC user rotation (one per secret at a time)')
  .requiredOption('--target <name>', 'what is rotated, e.g. ecommerce (a label)')
  .option('--secret <name>', 'the credential the pipeline consumes', 'debezium-credentials')
  .option('--strategy <s>', 'reload-connector | restart-worker', 'reload-connector')
  .option('--grace <duration>', 'hold the old user this long (default PT24H; at most P30D)', duration)
  .option('--compromise', 'suspected compromise: revoke the old user right after the switch (grace PT0S)')
  .option('--reason <text>', 'why', 'scheduled rotation')
  .option('--requested-by <who>', 'who', operator)
  .option('--dry-run', 'run pre-flight and print the plan: every step, its call and its compensation')
  .option('--force <reason>', 'go on although pre-flight checks fail (reason goes to the audit log)')
  .option('--wait', 'follow the rotation until it ends')
  .option('--json', 'print JSON')
  .action(async (o: RotateOptions) => {
    const input: PostgresCdcRotationInput = {
      target: o.target,
      secret: o.secret,
      strategy: o.strategy as 'reload-connector',
      ...(o.grace ? { gracePeriod: o.grace } : {}),
      compromise: Boolean(o.compromise),
      reason: o.reason,
      requestedBy: o.requestedBy,
      dryRun: Boolean(o.dryRun),
      ...(o.force ? { force: { reason: o.force } } : {}),
    };
    await runRotation(o, (client, taskQueue) => startPostgresCdcRotation(client, input, { taskQueue }));
  });

interface RegistryRotateOptions { compromise?: boolean; target: string; secret: string; account: string; connector: string; grace?: string; reason: string; requestedBy: string; dryRun?: boolean; force?: string; wait?: boolean; json?: boolean }

program
  .command('rotate-schema-registry')
  .description('start the Schema Registry credential rotation: add a second user, move the clients, remove the old user (one per secret at a time)')
  .requiredOption('--target <name>', 'what is rotated, e.g. ecommerce (a label)')
  .option('--secret <name>', 'the secret the registry and its clients read', 'schema-registry-auth')
  .option('--account <name>', "the account whose user is rotated (Kafka Connect's Avro converter uses developer)", 'developer')
  .option('--connector <name>', 'the connector whose converter uses the account', 'postgres-cdc-users-connector')
  .option('--grace <duration>', 'keep the old user accepted this long (default PT24H; at most P30D)', duration)
  .option('--compromise', 'suspected compromise: remove the old user right after the switch (no grace)')
  .option('--reason <text>', 'why', 'scheduled rotation')
  .option('--requested-by <who>', 'who', operator)
  .option('--dry-run', 'run pre-flight and print the plan: every step, its call and its compensation')
  .option('--force <reason>', 'go on although pre-flight checks fail (reason goes to the audit log)')
  .option('--wait', 'follow the rotation until it ends')
  .option('--json', 'print JSON')
  .action(async (o: RegistryRotateOptions) => {
    const input: SchemaRegistryRotationInput = {
      target: o.target,
      secret: o.secret,
      account: o.account,
      connector: o.connector,
      ...(o.grace ? { gracePeriod: o.grace } : {}),
      compromise: Boolean(o.compromise),
      reason: o.reason,
      requestedBy: o.requestedBy,
      dryRun: Boolean(o.dryRun),
      ...(o.force ? { force: { reason: o.force } } : {}),
    };
    await runRotation(o, (client, taskQueue) => startSchemaRegistryRotation(client, input, { taskQueue }));
  });

interface AwsRotateOptions { compromise?: boolean; target: string; secret: string; user: string; connector: string; bucket: string; prefix: string; canaryTopic?: string; grace?: string; watchSeconds?: number; deleteInactiveKey?: boolean; reason: string; requestedBy: string; dryRun?: boolean; force?: string; wait?: boolean; json?: boolean }

program
  .command('rotate-aws-keys')
  .description("start the S3 sink's IAM access-key rotation: second key, switch the sink, deactivate and watch the old key, delete it after grace (one per secret at a time)")
  .requiredOption('--target <name>', 'what is rotated, e.g. ecommerce (a label)')
  .option('--secret <name>', 'the secret the sink reads its key from', 'aws-credentials')
  .option('--user <name>', 'the IAM user whose key is rotated', 'datapipe-s3-user')
  .option('--connector <name>', 'the S3 sink connector', 's3-sink-connector')
  .option('--bucket <name>', 'the bucket the sink writes to', 'datapipe-archive')
  .option('--prefix <prefix>', "the sink's key prefix (topics.dir)", 'topics/')
  .option('--canary-topic <topic>', 'the topic of public.rekey_canary; when the sink archives it, a canary row proves the switch (default ecommerce.public.rekey_canary)')
  .option('--grace <duration>', 'keep the old key (inactive) this long before deleting it (default P7D; at most P30D)', duration)
  .option('--compromise', 'suspected compromise: deactivate and delete the old key right after the switch (no watch, no grace)')
  .option('--watch-seconds <n>', 'watch the deactivated old key this long for uses (default 60; 10-900)', seconds)
  .option('--delete-inactive-key', 'the user already has two keys: delete the other one first if it is Inactive (an Active one always refuses)')
  .option('--reason <text>', 'why', 'scheduled rotation')
  .option('--requested-by <who>', 'who', operator)
  .option('--dry-run', 'run pre-flight and print the plan: every step, its call and its compensation')
  .option('--force <reason>', 'go on although soft pre-flight checks fail (never the key checks; reason goes to the audit log)')
  .option('--wait', 'follow the rotation until it ends')
  .option('--json', 'print JSON')
  .action(async (o: AwsRotateOptions) => {
    const input: AwsKeysRotationInput = {
      target: o.target,
      secret: o.secret,
      user: o.user,
      connector: o.connector,
      bucket: o.bucket,
      prefix: o.prefix,
      ...(o.canaryTopic ? { canaryTopic: o.canaryTopic } : {}),
      ...(o.grace ? { gracePeriod: o.grace } : {}),
      ...(o.watchSeconds !== undefined ? { watchSeconds: o.watchSeconds } : {}),
      deleteInactiveKey: Boolean(o.deleteInactiveKey),
      compromise: Boolean(o.compromise),
      reason: o.reason,
      requestedBy: o.requestedBy,
      dryRun: Boolean(o.dryRun),
      ...(o.force ? { force: { reason: o.force } } : {}),
    };
    await runRotation(o, (client, taskQueue) => startAwsKeysRotation(client, input, { taskQueue }));
  });

program
  .command('progress <workflowId>')
  .description('phase, steps and what a rollback would undo')
  .option('--json')
  .action(async (id: string, o: { json?: boolean }) => {
    await withClient(async (client) => {
      const handle = client.workflow.getHandle(id);
      const p: RotationProgress | undefined = await handle.query(progressQuery).catch(async (err: unknown) => {
        // a run that failed before its progress existed (bad input, wrong id): the query's error is
        // encoded like every failure message; its result carries the decoded reason
        if ((await handle.describe()).status.name === 'RUNNING') throw err;
        const failed = await handle.result().then(
          () => undefined,
          (e: unknown) => (e instanceof WorkflowFailedError ? e : undefined),
        );
        if (!failed) throw err;
        throw new Error(`${id} failed before it began: ${failed.cause?.message ?? failed.message}`);
      });
      if (o.json) console.log(JSON.stringify(p));
      else printProgress(p!);
    });
  });

program
  .command('list')
  .alias('status')
  .description('running rotations of every kind (PostgreSQL CDC, Schema Registry, AWS keys), by their search attributes or their rotate-… workflow id')
  .option('--json')
  .action(async (o: { json?: boolean }) => {
    await withClient(async (client) => {
      const rows = await listRotations(client);
      if (o.json) console.log(JSON.stringify(rows));
      else if (rows.length === 0) console.log('no rotation is running');
      else for (const r of rows) console.log(`${r.workflowId.padEnd(52)} ${r.component.padEnd(16)} ${r.phase.padEnd(16)} target ${r.target}, started ${r.startedAt}`);
    });
  });

const send = (run: (h: WorkflowHandle, o: Record<string, string>) => Promise<void>, what: string) => async (id: string, o: Record<string, string>) =>
  withClient(async (client) => {
    const handle = client.workflow.getHandle(id);
    await run(handle, o);
    console.log(`sent ${what} to ${id}; check it took effect with: rekey progress ${id}`);
  });
registerRollbackCommand(program);
program.command('cleanup-now <workflowId>').description('end the grace period now and retire the old credential')
  .action(send((h) => h.signal(cleanupNowSignal, { by: operator }), 'cleanupNow'));
program.command('extend-grace <workflowId>').description('hold the old credential longer (total at most P30D)').requiredOption('--by <duration>', 'e.g. PT12H', duration)
  .action(send((h, o) => h.signal(extendGraceSignal, { duration: o.by!, by: operator }), 'extendGrace'));
program.command('retry <workflowId>').description('retry the step a rotation parked in needs-attention')
  .action(send((h) => h.signal(retrySignal, { by: operator }), 'retry'));
program.command('abandon <workflowId>').description('skip the parked step; it is recorded as left to do by hand').requiredOption('--reason <text>', 'why')
  .action(send((h, o) => h.signal(abandonSignal, { reason: o.reason!, by: operator }), 'abandon'));

registerValidateCommands(program);
registerScheduleCommands(program);
registerEmergencyCommands(program);
addRotateAllCommand(emergencyCommand(program));
registerCertificateCommands(program);
registerCertificateLifecycleCommands(program);

program.parseAsync().catch((err: unknown) => {
  if (err instanceof InvalidInputError || err instanceof RotationInProgressError || err instanceof ConfigError || err instanceof ScheduleFileError) console.error(err.message);
  else console.error(`rekey: ${(err as Error).message}`);
  process.exit(1);
});
