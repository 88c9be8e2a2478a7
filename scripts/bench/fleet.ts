import { Command } from 'commander';
import { createClient } from '../../workers/client.js';
import { embeddedWorkerConfig } from '../lib/session.js';
import { parseStore, upWithStore } from '../lib/stores.js';
import { execFileSync } from 'node:child_process';
import { imageNodeOptions, productionWorkerEnv, rotateFleet } from '../lib/fleetRun.js';
import { adminClient } from '../stack/postgres.js';
import { ensureFleet, fleetTargets, MAX_FLEET, removeFleet } from '../stack/fleet.js';
import { pipeline } from '../stack/config.js';
import { kafkaBootstrap } from '../stack/kafka.js';

const program = new Command('bench:fleet')
  .description(
    'the first Sunday of the month: N targets (own schema, slot, connector, Secret) rotated at once on one worker, then on two, under CDC load; prints wall time, p50/p99 rotation time, worker RSS and CPU, Temporal actions, lost events per target',
  )
  .option('--sizes <list>', 'fleet sizes to rotate', '10,25,50')
  .option('--workers <list>', 'worker process counts', '1,2')
  .option('--rate <n>', 'inserts per second across the fleet', '25')
  .option('--grace <iso>', 'grace period of each rotation', 'PT5S')
  .option(
    '--node-options <flags>',
    "NODE_OPTIONS of the worker processes (V8 heap settings under test; default: the image's)",
    imageNodeOptions,
  )
  .option('--max-concurrent-activities <n>', 'REKEY_MAX_CONCURRENT_ACTIVITIES of the workers')
  .option('--max-cached-workflows <n>', 'REKEY_MAX_CACHED_WORKFLOWS of the workers')
  .option(
    '--store <store>',
    "where the fleet's Secrets live: file, or kubernetes (the API server; Connect reads them through Strimzi's provider)",
    'file',
  )
  .option(
    '--remove',
    'remove the fleet (connectors, offsets, slots, roles, schemas, Secrets) afterwards; by default it stays for the next run (on the file store; a Kubernetes-store fleet is always removed)',
  )
  .option('--json', 'print the figures as one JSON object on the last line')
  .parse();
const opts = program.opts<{
  sizes: string;
  store: string;
  workers: string;
  rate: string;
  grace: string;
  nodeOptions: string;
  maxConcurrentActivities?: string;
  maxCachedWorkflows?: string;
  remove?: boolean;
  json?: boolean;
}>();

function list(name: string, value: string, max: number): number[] {
  const xs = value.split(',').map((v) => Number(v.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 1 || x > max))
    throw new Error(`--${name} must be a comma list of integers from 1 to ${max}`);
  return xs;
}

async function main() {
  const sizes = list('sizes', opts.sizes, MAX_FLEET);
  const workerCounts = list('workers', opts.workers, 4);
  const rate = Number(opts.rate);
  if (!Number.isFinite(rate) || rate < 1 || rate > 500) throw new Error('--rate must be a number from 1 to 500');
  const log = (l: string) => console.error(l);
  const store = parseStore(opts.store);
  await upWithStore(embeddedWorkerConfig().stack, store, (l) => log(`  ${l}`), 'all');
  // read after the move: the worker configuration follows the store the connector reads now
  const { stack, config } = embeddedWorkerConfig();
  await ensureFleet(stack, Math.max(...sizes), log);
  log('building the production worker (npm run build:worker)');
  execFileSync('npm', ['run', '--silent', 'build:worker'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const tuning = {
    NODE_OPTIONS: opts.nodeOptions,
    REKEY_MAX_CONCURRENT_ACTIVITIES: opts.maxConcurrentActivities,
    REKEY_MAX_CACHED_WORKFLOWS: opts.maxCachedWorkflows,
  };
  const workerEnv = { ...productionWorkerEnv(stack, config), ...tuning };
  const { client, connection } = await createClient(config);
  const db = await adminClient(stack, pipeline.database);
  const runs = [];
  try {
    for (const workers of workerCounts) {
      for (const size of sizes) {
        log(`\n== ${size} targets, ${workers} worker(s) ==`);
        const run = await rotateFleet({
          client,
          db,
          stack,
          brokers: [kafkaBootstrap(stack)],
          targets: fleetTargets(size),
          workers,
          rate,
          gracePeriod: opts.grace,
          workerEnv,
          log,
        });
        const rss = run.worker.map((w) => `${w.peakRssMb} MB`).join(', ');
        log(
          `  ${run.completed}/${size} completed in ${run.wallSeconds} s; rotation p50 ${run.rotationSeconds.p50} s, p99 ${run.rotationSeconds.p99} s; worker peak RSS ${rss}; ${run.temporal.actions} actions; lost ${run.events.lost}/${run.events.inserted}`,
        );
        runs.push(run);
      }
    }
  } finally {
    await db.end();
    await connection.close();
    // The embedded stack starts Connect before its Kubernetes API server: restarted with fifty
    // connectors whose Secrets live there, Connect stalls resolving them. Such a fleet is removed.
    if (opts.remove || store === 'kubernetes') await removeFleet(stack, fleetTargets(Math.max(...sizes)));
  }
  const summary = {
    benchmark: 'fleet-rotation',
    secretStore: store,
    insertRatePerSecond: rate,
    gracePeriod: opts.grace,
    workerTuning: tuning,
    runs,
  };
  if (opts.json) console.log(JSON.stringify(summary));
  else console.log(JSON.stringify(summary, null, 2));
}

main().catch((err) => {
  console.error(`bench:fleet failed: ${(err as Error).message}`);
  process.exit(1);
});
