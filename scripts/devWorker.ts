import { logger } from '../workers/logger.js';
import { createEmbeddedWorker, embeddedWorkerConfig } from './lib/session.js';

/**
 * `npm run worker:dev`: a worker wired to the embedded stack, with its development
 * stand-ins (the production entry point is workers/main.ts, `npm run worker`).
 */
const { config } = embeddedWorkerConfig();
const { worker, connection } = await createEmbeddedWorker(config);
logger.info(
  {
    address: config.temporal.address,
    taskQueue: config.temporal.taskQueue,
    secretStore: config.secrets.kind,
    testHooks: config.testHooks,
  },
  'development worker started',
);
await worker.run();
await connection.close();
