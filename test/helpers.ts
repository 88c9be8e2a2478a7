import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { embeddedWorkerConfig } from '../scripts/lib/session.js';
import { createClient } from '../workers/client.js';
import type { WorkerConfig } from '../workers/config.js';
import { createWorker } from '../workers/worker.js';

export interface TestWorker {
  client: Client;
  config: WorkerConfig;
  taskQueue: string;
  worker: Worker;
  stop(): Promise<void>;
}

/** A real worker on the embedded stack's Temporal server, on a task queue of its own. */
export async function startTestWorker(overrides: Partial<WorkerConfig> = {}): Promise<TestWorker> {
  const base = embeddedWorkerConfig().config;
  const taskQueue = `rekey-test-${randomBytes(4).toString('hex')}`;
  const config: WorkerConfig = { ...base, ...overrides, temporal: { ...base.temporal, taskQueue } };
  const { worker, connection: workerConnection } = await createWorker(config);
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
