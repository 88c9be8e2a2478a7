import { Command } from 'commander';
import { WorkflowFailedError } from '@temporalio/client';
import { createWorker } from '../workers/worker.js';
import { createClient } from '../workers/client.js';
import { startPostgresCdcRotation } from '../workers/startRotation.js';
import { adminClient } from './stack/postgres.js';
import { pipeline } from './stack/config.js';
import { up } from './stack/stack.js';
import { InsertLoad, summarize, TopicWatcher } from './lib/load.js';
import { embeddedWorkerConfig, uiLink } from './lib/session.js';
import type { RotationProgress } from '../workflows/rotationState.js';
import type { RotationResult } from '../workflows/rotatePostgresCdc.js';

const program = new Command('demo')
  .description('a real PostgreSQL CDC credential rotation on the embedded stack, under insert load')
  .option('--json', 'print the summary as one JSON object on the last line')
  .option('--strategy <strategy>', 'reload-connector or restart-worker', 'reload-connector')
  .option('--grace <duration>', 'grace period before the old user is dropped (ISO-8601)', 'PT10S')
  .option('--rate <n>', 'inserts per second during the rotation', '50')
  .parse();
const opts = program.opts<{ json?: boolean; strategy: 'reload-connector' | 'restart-worker'; grace: string; rate: string }>();
const say = (line: string) => (opts.json ? console.error(line) : console.log(line));

async function main() {
  say('bringing the embedded stack up (reused when running)…');
  await up(embeddedWorkerConfig().stack, (l) => console.error(`  ${l}`));
  const { stack, config } = embeddedWorkerConfig();
  const { worker, connection: workerConnection } = await createWorker({ ...config, temporal: { ...config.temporal, taskQueue: `rekey-demo-${process.pid}` } });
  const workerRun = worker.run();
  const { client, connection } = await createClient(config);
  const runId = Date.now().toString(36);
  const db = await adminClient(stack, pipeline.database);
  const load = new InsertLoad(db, runId, Number(opts.rate));
  const watcher = new TopicWatcher(config.kafka.brokers, pipeline.usersTopic, `load-${runId}-`);
  await watcher.start();
  load.start();
  say(`inserting ${opts.rate} rows/s into ecommerce.users; rotating with ${opts.strategy}, grace ${opts.grace}`);

  const handle = await startPostgresCdcRotation(
    client,
    { target: 'ecommerce', strategy: opts.strategy, gracePeriod: opts.grace, reason: 'demo', requestedBy: process.env.USER ?? 'demo' },
    { taskQueue: `rekey-demo-${process.pid}` },
  );
  say(`workflow ${handle.workflowId}\n  Web UI: ${uiLink(stack, handle.workflowId)}`);
  let lastPhase = '';
  const poll = setInterval(() => {
    handle
      .query<RotationProgress>('progress')
      .then((p) => {
        if (p.phase !== lastPhase) say(`  phase: ${(lastPhase = p.phase)}`);
      })
      .catch(() => undefined);
  }, 500);
  let result: RotationResult | undefined;
  let failure: string | undefined;
  try {
    result = await handle.result();
  } catch (err) {
    failure = err instanceof WorkflowFailedError ? `${err.cause?.message ?? err.message}` : (err as Error).message;
  }
  clearInterval(poll);
  await load.stop();
  const emails = Array.from({ length: load.inserted }, (_, i) => load.emailOf(i + 1));
  await watcher.drain(emails.length, 60_000);
  const progress = await handle.query<RotationProgress>('progress');
  const pause = progress.steps.find((s) => s.name === 'pause');
  const verified = progress.steps.find((s) => s.name === 'canary-read-back');
  const window = pause && verified?.endedAt ? { from: Date.parse(pause.startedAt), to: Date.parse(verified.endedAt) } : undefined;
  const events = summarize(emails, watcher.deliveries, window);
  const steps = progress.steps.map((s) => ({ name: s.name, outcome: s.outcome, ms: s.endedAt ? Date.parse(s.endedAt) - Date.parse(s.startedAt) : null, detail: s.detail }));
  await watcher.stop();
  await db.end();
  worker.shutdown();
  await workerRun;
  await connection.close();
  await workerConnection.close();

  const summary = {
    rotation: { status: result?.status ?? 'failed', workflowId: handle.workflowId, oldUser: progress.oldUser, newUser: progress.newUser, error: failure ?? null, webUi: uiLink(stack, handle.workflowId) },
    strategy: opts.strategy,
    events: { inserted: events.inserted, delivered: events.delivered, lost: events.lost, duplicates: events.duplicates },
    blackoutMs: events.blackoutMs,
    steps,
  };
  if (opts.json) {
    console.log(JSON.stringify(summary));
  } else {
    console.log(`\nrotation ${summary.rotation.status}: ${progress.oldUser} → ${progress.newUser}${failure ? ` (${failure})` : ''}`);
    for (const s of steps) console.log(`  ${s.outcome.padEnd(11)} ${s.name.padEnd(24)} ${s.ms === null ? '' : `${s.ms} ms`.padStart(9)}  ${s.detail ?? ''}`);
    console.log(`CDC blackout (longest gap between delivered events around the switch): ${events.blackoutMs} ms`);
    console.log(`events: inserted ${events.inserted}, delivered ${events.delivered}, lost ${events.lost}, duplicates ${events.duplicates}`);
    console.log(`Web UI: ${summary.rotation.webUi}`);
  }
  if (summary.rotation.status !== 'completed' || events.lost > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${(err as Error).message}`);
  process.exit(1);
});
