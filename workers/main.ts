import { ConfigError, loadWorkerConfig } from './config.js';
import { logger } from './logger.js';
import { healthReporter, startHealthServer } from './health.js';
import { createWorker } from './worker.js';

/**
 * Starts a rekey worker. SIGINT/SIGTERM begin a graceful shutdown: running activities
 * get up to 30 s to finish; anything unfinished is retried by another worker.
 */
async function main() {
  const config = loadWorkerConfig();
  if (!config.codec.key) logger.warn('payload encryption is OFF (REKEY_INSECURE_NO_ENCRYPTION): development only');
  const { worker, connection } = await createWorker(config);
  // probes: Ready only while it polls and Temporal answers (deploy/worker.yaml)
  const health =
    config.health.address === 'off'
      ? undefined
      : await startHealthServer(config.health.address, healthReporter(worker, connection));
  if (health) logger.info({ address: config.health.address }, 'health on /livez and /readyz');
  logger.info(
    {
      address: config.temporal.address,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      secretStore: config.secrets.kind,
    },
    'worker started',
  );
  // The SDK's Runtime already turns SIGINT/SIGTERM into worker.shutdown(); this only logs it.
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => logger.info({ signal: sig }, 'shutting down'));
  await worker.run();
  health?.close();
  await connection.close();
  logger.info('worker stopped');
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    logger.error(err.message);
    process.exit(2);
  }
  logger.error({ err }, 'worker failed');
  process.exit(1);
});
