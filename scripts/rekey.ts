import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { loadStackConfig } from './stack/config.js';
import { createClient } from '../workers/client.js';
import { ConfigError, loadWorkerConfig } from '../workers/config.js';
import { RotationInProgressError, startPostgresCdcRotation } from '../workers/startRotation.js';
import { InvalidInputError } from '../workflows/postgresCdcInput.js';
import { parseIsoDuration } from '../workflows/duration.js';
import type { RotationProgress } from '../workflows/rotationState.js';

/** Operator CLI: start, inspect and steer rotations (the same things the Web UI does). */
const program = new Command('rekey').description('credential rotations for the CDC pipeline, on Temporal');

function duration(v: string) {
  if (!parseIsoDuration(v)) throw new InvalidArgumentError('must be a positive ISO-8601 duration such as PT24H');
  return v;
}

/** On the embedded stack, use its generated codec key unless one is configured. */
function configFromEnv() {
  const env = { ...process.env };
  const stackKey = path.join(loadStackConfig().dir, 'codec.key');
  if (!env.REKEY_CODEC_KEY && !env.REKEY_CODEC_KEY_FILE && fs.existsSync(stackKey)) env.REKEY_CODEC_KEY_FILE = stackKey;
  return loadWorkerConfig(env);
}

async function withClient<T>(fn: (c: Awaited<ReturnType<typeof createClient>>['client'], taskQueue: string) => Promise<T>): Promise<T> {
  const config = configFromEnv();
  const { client, connection } = await createClient(config);
  try {
    return await fn(client, config.temporal.taskQueue);
  } finally {
    await connection.close();
  }
}

function printProgress(p: RotationProgress) {
  console.log(`${p.workflowId}\n  phase ${p.phase}   ${p.oldUser ?? '?'} → ${p.newUser ?? '?'}   strategy ${p.strategy}${p.graceEndsAt ? `   grace ends ${p.graceEndsAt}` : ''}`);
  if (p.attention) console.log(`  NEEDS ATTENTION at ${p.attention.step}: ${p.attention.error}\n  fix the cause, then: rekey retry ${p.workflowId}`);
  for (const s of p.steps) console.log(`  ${s.outcome.padEnd(11)} ${s.name.padEnd(22)} ${s.startedAt}${s.detail ? `  ${s.detail}` : ''}`);
  if (p.rollbackWouldUndo.length) console.log(`  a rollback would undo: ${p.rollbackWouldUndo.map((u) => u.description).join(' ← ')}`);
}

program
  .command('rotate-postgres-cdc')
  .description('start the PostgreSQL CDC user rotation')
  .requiredOption('--target <name>', 'what is rotated (e.g. ecommerce)')
  .option('--strategy <s>', 'reload-connector | restart-worker', 'reload-connector')
  .option('--grace <duration>', 'hold the old user this long', duration, 'PT24H')
  .option('--compromise', 'suspected compromise: allows --grace PT0S')
  .option('--reason <text>', 'why', 'scheduled rotation')
  .option('--requested-by <who>', 'who', process.env.USER ?? 'operator')
  .option('--dry-run', 'pre-flight only, change nothing')
  .option('--wait', 'wait for the result and print it')
  .action(async (o: { target: string; strategy: string; grace: string; compromise?: boolean; reason: string; requestedBy: string; dryRun?: boolean; wait?: boolean }) => {
    await withClient(async (client, taskQueue) => {
      const handle = await startPostgresCdcRotation(
        client,
        { target: o.target, strategy: o.strategy as 'reload-connector', gracePeriod: o.grace, compromise: Boolean(o.compromise), reason: o.reason, requestedBy: o.requestedBy, dryRun: Boolean(o.dryRun) },
        { taskQueue },
      );
      console.log(`started ${handle.workflowId}`);
      if (o.wait) console.log(JSON.stringify(await handle.result(), null, 2));
    });
  });

program
  .command('progress <workflowId>')
  .description('phase, steps and what a rollback would undo')
  .option('--json')
  .action(async (id: string, o: { json?: boolean }) => {
    await withClient(async (client) => {
      const p = await client.workflow.getHandle(id).query<RotationProgress>('progress');
      if (o.json) console.log(JSON.stringify(p));
      else printProgress(p);
    });
  });

program
  .command('list')
  .description('running rotations')
  .action(async () => {
    await withClient(async (client) => {
      for await (const wf of client.workflow.list({ query: 'ExecutionStatus = "Running" AND RotationComponent IS NOT NULL' })) {
        const sa = wf.searchAttributes as Record<string, unknown[] | undefined>;
        console.log(`${wf.workflowId}  phase=${sa.RotationPhase?.[0] ?? '?'}  started ${wf.startTime.toISOString()}`);
      }
    });
  });

const signal = (name: string, description: string, withArgs: (cmd: Command) => Command, payload: (o: Record<string, string>) => unknown) =>
  withArgs(program.command(`${name} <workflowId>`).description(description)).action(async (id: string, o: Record<string, string>) => {
    await withClient(async (client) => {
      await client.workflow.getHandle(id).signal(name === 'cleanup-now' ? 'cleanupNow' : name === 'extend-grace' ? 'extendGrace' : name, payload(o));
      console.log(`sent ${name} to ${id}`);
    });
  });
signal('rollback', 'undo the rotation (before cleanup)', (c) => c.requiredOption('--reason <text>', 'why'), (o) => ({ reason: o.reason, by: process.env.USER }));
signal('cleanup-now', 'end the grace period now and drop the old user', (c) => c, () => ({ by: process.env.USER }));
signal('extend-grace', 'hold the old user longer', (c) => c.requiredOption('--by <duration>', 'e.g. PT12H', duration), (o) => ({ duration: o.by, by: process.env.USER }));
signal('retry', 'retry a step parked in needs-attention', (c) => c, () => ({ by: process.env.USER }));

program.parseAsync().catch((err: unknown) => {
  if (err instanceof InvalidInputError || err instanceof RotationInProgressError || err instanceof ConfigError) console.error(err.message);
  else console.error(`rekey: ${(err as Error).message}`);
  process.exit(1);
});
