import { ConfigError, loadWorkerConfig } from './config.js';
import { logger } from './logger.js';
import { createWorker } from './worker.js';

/**
 * Starts a rekey worker. SIGINT/SIGTERM begin a graceful shutdown: running activities
 * get up to 30 s to finish; anything unfinished is retried by another worker.
 */
async function main() {
  const config = loadWorkerConfig();
  if (!config.codec.key) logger.warn('payload encryption is OFF (REKEY_INSECURE_NO_ENCRYPTION): development only');
  const { worker, connection } = await createWorker(config);
  logger.info({ address: config.temporal.address, namespace: config.temporal.namespace, taskQueue: config.temporal.taskQueue, secretStore: config.secrets.kind }, 'worker started');
  // The SDK's Runtime already turns SIGINT/SIGTERM into worker.shutdown(); this only logs it.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => logger.info({ signal: sig }, 'shutting down'));
  await worker.run();
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
