import { Command } from 'commander';
import { logToFile } from '../../workers/logger.js';
import { createClient } from '../../workers/client.js';
import { createEmbeddedWorker, embeddedWorkerConfig } from '../lib/session.js';
import { rotateUnderLoad, type Measurement } from '../lib/measure.js';
import { parseStore, upWithStore } from '../lib/stores.js';
import { kafkaBootstrap } from '../stack/kafka.js';

const program = new Command('bench:blackout')
  .description(
    'what a consumer sees during a rotation, both apply strategies side by side under the same insert rate: commit-to-consumer latency (baseline p50/p99/max, the switch window max, added latency), lost and duplicated events',
  )
  .option('--json', 'print the figures as one JSON object on the last line')
  .option('--rotations <n>', 'rotations per strategy', '3')
  .option('--rate <n>', 'inserts per second', '50')
  .option('--warmup <seconds>', 'load before each rotation, for the latency baseline', '5')
  .option(
    '--store <store>',
    'file, or kubernetes (Secrets read by Connect through the API, restart-worker = rollout restart)',
    'file',
  )
  .parse();
const opts = program.opts<{ json?: boolean; rotations: string; rate: string; warmup: string; store: string }>();

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : Math.round((s[mid - 1]! + s[mid]!) / 2);
};

async function main() {
  const rotations = Number(opts.rotations);
  const rate = Number(opts.rate);
  const warmupMs = Number(opts.warmup) * 1000;
  if (!Number.isInteger(rotations) || rotations < 1 || rotations > 20)
    throw new Error('--rotations must be an integer from 1 to 20');
  if (!Number.isFinite(rate) || rate < 1 || rate > 1000) throw new Error('--rate must be a number from 1 to 1000');
  if (!Number.isFinite(warmupMs) || warmupMs < 0 || warmupMs > 600_000)
    throw new Error('--warmup must be 0 to 600 seconds');
  const store = parseStore(opts.store);
  await upWithStore(embeddedWorkerConfig().stack, store, (l) => console.error(`  ${l}`), 'all');
  const { stack, config } = embeddedWorkerConfig();
  logToFile(`${stack.logDir}/bench-worker.log`);
  const taskQueue = `rekey-bench-${process.pid}`;
  const { worker, connection: wc } = await createEmbeddedWorker(
    { ...config, temporal: { ...config.temporal, taskQueue } },
    { quiet: true },
  );
  const running = worker.run();
  const { client, connection } = await createClient(config);
  const results: Record<string, Measurement[]> = { 'reload-connector': [], 'restart-worker': [] };
  try {
    for (let i = 0; i < rotations; i++) {
      for (const strategy of ['reload-connector', 'restart-worker'] as const) {
        console.error(`[${i + 1}/${rotations}] ${strategy}…`);
        const m = await rotateUnderLoad({
          client,
          stack,
          brokers: [kafkaBootstrap(stack)],
          taskQueue,
          strategy,
          grace: 'PT1S',
          rate,
          warmupMs,
        });
        console.error(
          `  ${m.rotation.status}: baseline p99 ${m.latency.baseline.p99Ms} ms, window max ${m.latency.window.maxMs} ms, added ${m.latency.addedLatencyMs} ms, lost ${m.events.lost}, duplicates ${m.events.duplicates}, rotation ${m.rotation.wallMs} ms`,
        );
        results[strategy]!.push(m);
      }
    }
  } finally {
    worker.shutdown();
    await running;
    await wc.close();
    await connection.close();
  }
  const per = Object.fromEntries(
    Object.entries(results).map(([strategy, ms]) => [
      strategy,
      {
        rotations: ms.length,
        completed: ms.filter((m) => m.rotation.status === 'completed').length,
        blackoutMs: {
          median: median(ms.map((m) => m.blackoutMs)),
          max: Math.max(...ms.map((m) => m.blackoutMs)),
          all: ms.map((m) => m.blackoutMs),
        },
        lost: ms.reduce((n, m) => n + m.events.lost, 0),
        duplicates: ms.reduce((n, m) => n + m.events.duplicates, 0),
        inserted: ms.reduce((n, m) => n + m.events.inserted, 0),
        rotationWallMs: {
          median: median(ms.map((m) => m.rotation.wallMs)),
          max: Math.max(...ms.map((m) => m.rotation.wallMs)),
        },
      },
    ]),
  );
  const figure = (ms: Measurement[], pick: (m: Measurement) => number | null) =>
    median(ms.map(pick).filter((x): x is number => x !== null));
  const strategies = Object.entries(results).map(([strategy, ms]) => ({
    strategy,
    store,
    rotations: ms.length,
    completed: ms.filter((m) => m.rotation.status === 'completed').length,
    baselineP50Ms: figure(ms, (m) => m.latency.baseline.p50Ms),
    baselineP99Ms: figure(ms, (m) => m.latency.baseline.p99Ms),
    baselineMaxMs: figure(ms, (m) => m.latency.baseline.maxMs),
    windowMaxMs: figure(ms, (m) => m.latency.window.maxMs),
    addedLatencyMs: figure(ms, (m) => m.latency.addedLatencyMs),
    addedLatencyAllMs: ms.map((m) => m.latency.addedLatencyMs),
    lost: ms.reduce((n, m) => n + m.events.lost, 0),
    duplicates: ms.reduce((n, m) => n + m.events.duplicates, 0),
    inserted: ms.reduce((n, m) => n + m.events.inserted, 0),
    rotationWallMs: figure(ms, (m) => m.rotation.wallMs),
  }));
  const added = (s: string) => strategies.find((x) => x.strategy === s)!.addedLatencyMs;
  const summary = {
    benchmark: 'cdc-consumer-latency',
    store,
    insertRatePerSecond: rate,
    warmupSeconds: warmupMs / 1000,
    strategies,
    blackout: per,
    restartOverReloadAddedLatency:
      added('reload-connector') > 0
        ? Math.round((added('restart-worker') / added('reload-connector')) * 10) / 10
        : null,
    targets: {
      lostZero: strategies.every((x) => x.lost === 0),
      baselineP99AtMost200Ms: strategies.every((x) => x.baselineP99Ms <= 200),
      reloadAddedAtMost150Ms: added('reload-connector') <= 150,
      restartAtLeast40xReload: added('restart-worker') >= 40 * added('reload-connector'),
    },
  };
  if (!opts.json) console.log(JSON.stringify(summary, null, 2));
  else console.log(JSON.stringify(summary));
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exit(1);
});
