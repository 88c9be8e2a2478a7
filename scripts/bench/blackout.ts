import { Command } from 'commander';
import { logToFile } from '../../workers/logger.js';
import { createClient } from '../../workers/client.js';
import { up } from '../stack/stack.js';
import { createEmbeddedWorker, embeddedWorkerConfig } from '../lib/session.js';
import { rotateUnderLoad, type Measurement } from '../lib/measure.js';

const program = new Command('bench:blackout')
  .description('CDC blackout of both apply strategies, side by side, under the same insert rate')
  .option('--json', 'print the figures as one JSON object on the last line')
  .option('--rotations <n>', 'rotations per strategy', '3')
  .option('--rate <n>', 'inserts per second', '50')
  .parse();
const opts = program.opts<{ json?: boolean; rotations: string; rate: string }>();

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : Math.round((s[mid - 1]! + s[mid]!) / 2);
};

async function main() {
  const rotations = Number(opts.rotations);
  const rate = Number(opts.rate);
  if (!Number.isInteger(rotations) || rotations < 1 || rotations > 20) throw new Error('--rotations must be an integer from 1 to 20');
  await up(embeddedWorkerConfig().stack, (l) => console.error(`  ${l}`));
  const { stack, config } = embeddedWorkerConfig();
  logToFile(`${stack.logDir}/bench-worker.log`);
  const taskQueue = `rekey-bench-${process.pid}`;
  const { worker, connection: wc } = await createEmbeddedWorker({ ...config, temporal: { ...config.temporal, taskQueue } }, { quiet: true });
  const running = worker.run();
  const { client, connection } = await createClient(config);
  const results: Record<string, Measurement[]> = { 'reload-connector': [], 'restart-worker': [] };
  try {
    for (let i = 0; i < rotations; i++) {
      for (const strategy of ['reload-connector', 'restart-worker'] as const) {
        console.error(`[${i + 1}/${rotations}] ${strategy}…`);
        const m = await rotateUnderLoad({ client, stack, brokers: config.kafka.brokers, taskQueue, strategy, grace: 'PT1S', rate });
        console.error(`  ${m.rotation.status}: blackout ${m.blackoutMs} ms, lost ${m.events.lost}, duplicates ${m.events.duplicates}, wall ${m.rotation.wallMs} ms`);
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
        blackoutMs: { median: median(ms.map((m) => m.blackoutMs)), max: Math.max(...ms.map((m) => m.blackoutMs)), all: ms.map((m) => m.blackoutMs) },
        lost: ms.reduce((n, m) => n + m.events.lost, 0),
        duplicates: ms.reduce((n, m) => n + m.events.duplicates, 0),
        inserted: ms.reduce((n, m) => n + m.events.inserted, 0),
        rotationWallMs: { median: median(ms.map((m) => m.rotation.wallMs)), max: Math.max(...ms.map((m) => m.rotation.wallMs)) },
      },
    ]),
  );
  const reload = per['reload-connector']!.blackoutMs.median;
  const restart = per['restart-worker']!.blackoutMs.median;
  const summary = {
    benchmark: 'cdc-blackout',
    insertRatePerSecond: rate,
    strategies: per,
    ratioReloadToRestart: restart > 0 ? Math.round((reload / restart) * 1000) / 1000 : null,
    targets: { lostZero: Object.values(per).every((p) => p.lost === 0), reloadMedianUnder1s: reload <= 1000, reloadAtMostOneTwentiethOfRestart: reload * 20 <= restart },
  };
  if (!opts.json) console.log(JSON.stringify(summary, null, 2));
  else console.log(JSON.stringify(summary));
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exit(1);
});
