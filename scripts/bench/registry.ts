import { Command } from 'commander';
import { logToFile } from '../../workers/logger.js';
import { createClient } from '../../workers/client.js';
import { createEmbeddedWorker, embeddedWorkerConfig } from '../lib/session.js';
import { rotateRegistryUnderLoad } from '../lib/registryMeasure.js';
import { upWithStore } from '../lib/stores.js';
import { kafkaBootstrap } from '../stack/kafka.js';

const program = new Command('bench:registry')
  .description(
    'Schema Registry rotations under CDC load: 401s seen by clients and logged by the registry, how long each registry restart left it unreachable, what the connector did, lost change events',
  )
  .option('--json', 'print the figures as one JSON object on the last line')
  .option('--rotations <n>', 'rotations to run', '2')
  .option('--rate <n>', 'inserts per second', '40')
  .parse();
const opts = program.opts<{ json?: boolean; rotations: string; rate: string }>();

async function main() {
  const rotations = Number(opts.rotations);
  const rate = Number(opts.rate);
  if (!Number.isInteger(rotations) || rotations < 1 || rotations > 10)
    throw new Error('--rotations must be an integer from 1 to 10');
  if (!Number.isFinite(rate) || rate < 1 || rate > 1000) throw new Error('--rate must be a number from 1 to 1000');
  await upWithStore(embeddedWorkerConfig().stack, 'file', (l) => console.error(`  ${l}`));
  const { stack, config } = embeddedWorkerConfig();
  logToFile(`${stack.logDir}/bench-worker.log`);
  const taskQueue = `rekey-bench-registry-${process.pid}`;
  const { worker, connection: wc } = await createEmbeddedWorker(
    { ...config, temporal: { ...config.temporal, taskQueue } },
    { quiet: true },
  );
  const running = worker.run();
  const { client, connection } = await createClient(config);
  const runs = [];
  try {
    for (let i = 0; i < rotations; i++) {
      console.error(`[${i + 1}/${rotations}] schema-registry rotation…`);
      const m = await rotateRegistryUnderLoad({
        client,
        stack,
        brokers: [kafkaBootstrap(stack)],
        taskQueue,
        input: { gracePeriod: 'PT2S', reason: 'measured rotation' },
        rate,
      });
      const run = {
        status: m.result?.status ?? 'failed',
        error: m.error?.cause?.message ?? null,
        from: m.result?.from ?? null,
        to: m.result?.to ?? null,
        wallMs: m.wallMs,
        ...m.probe,
        events: m.events,
      };
      console.error(
        `  ${run.status}: client 401 ${run.client401}, registry 401 ${run.registry401}, unreachable ${run.registryUnreachableMs.join('/')} ms, tasks ${JSON.stringify(run.connectorTaskStatesSampled)}, lost ${run.events.lost}`,
      );
      runs.push(run);
    }
  } finally {
    worker.shutdown();
    await running;
    await wc.close();
    await connection.close();
  }
  const summary = {
    benchmark: 'schema-registry-rotation',
    insertRatePerSecond: rate,
    rotations: runs.length,
    completed: runs.filter((r) => r.status === 'completed').length,
    client401: runs.reduce((n, r) => n + r.client401, 0),
    registry401: runs.reduce((n, r) => n + r.registry401, 0),
    lost: runs.reduce((n, r) => n + r.events.lost, 0),
    duplicates: runs.reduce((n, r) => n + r.events.duplicates, 0),
    registryUnreachableMs: runs.flatMap((r) => r.registryUnreachableMs),
    registryUnreachableTotalMs: runs.flatMap((r) => r.registryUnreachableMs).reduce((a, b) => a + b, 0),
    runs,
    targets: {
      zero401: runs.every((r) => r.client401 === 0 && r.registry401 === 0),
      lostZero: runs.every((r) => r.events.lost === 0),
      // two replicas restarted one at a time behind one address: clients never lose the registry
      zeroUnreachable: runs.every((r) => r.registryUnreachableMs.length === 0),
    },
  };
  console.log(opts.json ? JSON.stringify(summary) : JSON.stringify(summary, null, 2));
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exit(1);
});
