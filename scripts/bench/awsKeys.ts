import { Command } from 'commander';
import { logToFile } from '../../workers/logger.js';
import { createClient } from '../../workers/client.js';
import { createEmbeddedWorker, embeddedWorkerConfig } from '../lib/session.js';
import { rotateAwsUnderLoad } from '../lib/awsMeasure.js';
import { upWithStore } from '../lib/stores.js';
import { kafkaBootstrap } from '../stack/kafka.js';

const program = new Command('bench:aws-keys')
  .description(
    'AWS access-key rotations with the S3 sink in the data path, under CDC load: change events archived vs inserted (lost, duplicates), the sink task states sampled (a FAILED task = AccessDenied/InvalidAccessKeyId), rotation time',
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
  await upWithStore(embeddedWorkerConfig().stack, 'file', (l) => console.error(`  ${l}`), 'all');
  const { stack, config } = embeddedWorkerConfig();
  logToFile(`${stack.logDir}/bench-worker.log`);
  const taskQueue = `rekey-bench-aws-${process.pid}`;
  const { worker, connection: wc } = await createEmbeddedWorker(
    { ...config, temporal: { ...config.temporal, taskQueue } },
    { quiet: true },
  );
  const running = worker.run();
  const { client, connection } = await createClient(config);
  const runs = [];
  try {
    for (let i = 0; i < rotations; i++) {
      console.error(`[${i + 1}/${rotations}] aws-keys rotation…`);
      const m = await rotateAwsUnderLoad({
        client,
        stack,
        brokers: [kafkaBootstrap(stack)],
        taskQueue,
        input: { gracePeriod: 'PT5S', watchSeconds: 10, reason: 'measured rotation' },
        rate,
      });
      const run = {
        status: m.result?.status ?? 'failed',
        error: m.error?.cause?.message ?? null,
        wallMs: m.wallMs,
        ...m.archive,
        sinkTaskStates: m.sinkTaskStates,
        sinkRefused: m.sinkTaskStates.FAILED ?? 0,
      };
      console.error(
        `  ${run.status}: archived ${run.archived}/${run.inserted}, lost ${run.lost}, duplicates ${run.duplicates}, sink FAILED samples ${run.sinkRefused}, ${run.wallMs} ms`,
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
    benchmark: 'aws-keys-rotation',
    insertRatePerSecond: rate,
    rotations: runs.length,
    completed: runs.filter((r) => r.status === 'completed').length,
    lost: runs.reduce((n, r) => n + r.lost, 0),
    duplicates: runs.reduce((n, r) => n + r.duplicates, 0),
    sinkRefusedSamples: runs.reduce((n, r) => n + r.sinkRefused, 0),
    runs,
    targets: { lostZero: runs.every((r) => r.lost === 0), sinkNeverRefused: runs.every((r) => r.sinkRefused === 0) },
  };
  console.log(opts.json ? JSON.stringify(summary) : JSON.stringify(summary, null, 2));
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exit(1);
});
