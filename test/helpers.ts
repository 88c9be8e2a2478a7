import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { createEmbeddedWorker, embeddedWorkerConfig } from '../scripts/lib/session.js';
import { createClient } from '../workers/client.js';
import type { WorkerConfig } from '../workers/config.js';

export interface TestWorker {
  client: Client;
  config: WorkerConfig;
  taskQueue: string;
  worker: Worker;
  stop(): Promise<void>;
}

/**
 * A real worker on the embedded stack's Temporal server, on a task queue of its own, with
 * the development stand-ins injected and test hooks on (rollback drills are accepted).
 */
export async function startTestWorker(overrides: Partial<WorkerConfig> = {}): Promise<TestWorker> {
  const base = embeddedWorkerConfig().config;
  const taskQueue = `rekey-test-${randomBytes(4).toString('hex')}`;
  const config: WorkerConfig = { ...base, testHooks: true, ...overrides, temporal: { ...base.temporal, taskQueue } };
  const { worker, connection: workerConnection } = await createEmbeddedWorker(config);
  const running = worker.run();
  const { client, connection } = await createClient(config);
  return {
    client,
    config,
    taskQueue,
    worker,
    async stop() {
      worker.shutdown();
      await running;
      await workerConnection.close();
      await connection.close();
    },
  };
}
