import type { Client, WorkflowFailedError, WorkflowHandle } from '@temporalio/client';
import { pipeline, type StackConfig } from '../stack/config.js';
import { adminClient } from '../stack/postgres.js';
import { s3SinkConnector } from '../stack/s3Sink.js';
import { startAwsKeysRotation } from '../../workers/startRotation.js';
import type { AwsKeysRotationInput } from '../../contracts/input/awsKeys.js';
import type { RotationResult } from '../../workflows/rotation/index.js';
import { underLoad } from './load.js';
import { waitArchived } from './s3Archive.js';
import { connectFetch } from '../stack/connectRest.js';

/**
 * One AWS key rotation under CDC insert load while the S3 sink's task state is sampled every
 * 200 ms; afterwards the archive is read as an auditor would, against the rows inserted:
 * lost (never archived) and duplicated (archived twice, at-least-once) change events.
 */
export async function rotateAwsUnderLoad(opts: {
  client: Client;
  stack: StackConfig;
  brokers: string[];
  taskQueue: string;
  input: Partial<AwsKeysRotationInput>;
  rate: number;
  onStart?: (h: WorkflowHandle) => void;
}) {
  const states: Record<string, number> = {};
  const sample = setInterval(() => {
    void connectFetch(`http://127.0.0.1:${opts.stack.ports.connect}/connectors/${s3SinkConnector}/status`)
      .then((r) => r.json() as Promise<{ tasks: Array<{ state: string }> }>)
      .then((s) => s.tasks.forEach((t) => (states[t.state] = (states[t.state] ?? 0) + 1)))
      .catch(() => undefined);
  }, 200);
  const db = await adminClient(opts.stack, pipeline.database);
  const t0 = Date.now();
  try {
    const run = await underLoad(
      { db, brokers: opts.brokers, topic: pipeline.usersTopic, rate: opts.rate },
      async () => {
        const handle = await startAwsKeysRotation(
          opts.client,
          { target: 'datapipe-archive', requestedBy: process.env.USER ?? 'rekey', ...opts.input },
          { taskQueue: opts.taskQueue },
        );
        opts.onStart?.(handle);
        const outcome = await handle.result().then(
          (result: RotationResult) => ({ result, error: undefined as WorkflowFailedError | undefined }),
          (e: unknown) => ({ result: undefined, error: e as WorkflowFailedError }),
        );
        return { handle, ...outcome };
      },
    );
    const wallMs = Date.now() - t0;
    const prefix = run.emails[0]!.replace(/\d+@example\.invalid$/, '');
    const archive = await waitArchived(opts.stack, run.emails, prefix, 90_000);
    return { ...run.result, wallMs, archive, sinkTaskStates: { ...states } };
  } finally {
    clearInterval(sample);
    await db.end();
  }
}
