import type { Client, WorkflowFailedError, WorkflowHandle } from '@temporalio/client';
import { pipeline, type StackConfig } from '../stack/config.js';
import { adminClient } from '../stack/postgres.js';
import { startSchemaRegistryRotation } from '../../workers/startRotation.js';
import type { SchemaRegistryRotationInput } from '../../contracts/input/schemaRegistry.js';
import { progressQuery, type RotationResult } from '../../workflows/rotation/index.js';
import { summarize, underLoad } from './load.js';
import { RegistryProbe } from './registryProbe.js';

/**
 * One Schema Registry rotation under CDC insert load, with the registry probe on: what the
 * clients saw (answers by status, outages, task states), what the registry logged (401s until
 * phase 3 starts, which refuses the old user on purpose), and lost/duplicated change events.
 */
export async function rotateRegistryUnderLoad(opts: {
  client: Client;
  stack: StackConfig;
  brokers: string[];
  taskQueue: string;
  input: Partial<SchemaRegistryRotationInput>;
  rate: number;
  onStart?: (handle: WorkflowHandle) => void;
}) {
  const probe = new RegistryProbe(opts.stack);
  const db = await adminClient(opts.stack, pipeline.database);
  probe.start();
  const t0 = Date.now();
  const handles: WorkflowHandle[] = [];
  const run = await underLoad({ db, brokers: opts.brokers, topic: pipeline.usersTopic, rate: opts.rate }, async () => {
    const handle = await startSchemaRegistryRotation(
      opts.client,
      { target: 'ecommerce', requestedBy: process.env.USER ?? 'rekey', ...opts.input },
      { taskQueue: opts.taskQueue },
    );
    opts.onStart?.(handle);
    handles.push(handle);
    const watch = setInterval(
      () =>
        void handle.query(progressQuery).then(
          (p) => (p.phase === 'cleanup' ? probe.markRemoval() : undefined),
          () => undefined,
        ),
      150,
    );
    try {
      return await handle.result().then(
        (result: RotationResult) => ({ result, error: undefined as WorkflowFailedError | undefined }),
        (e: unknown) => ({ result: undefined, error: e as WorkflowFailedError }),
      );
    } finally {
      clearInterval(watch);
    }
  }).finally(() => db.end());
  probe.stop();
  return {
    ...run.result,
    handle: handles[0]!,
    wallMs: Date.now() - t0,
    probe: probe.summary(),
    events: summarize(run.emails, run.deliveries),
  };
}
