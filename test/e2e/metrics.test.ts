import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApplicationFailure, Client, Connection, WorkflowHandle } from '@temporalio/client';
import { embeddedWorkerConfig } from '../../scripts/lib/session.js';
import { createClient } from '../../workers/client.js';
import { startPostgresCdcRotation } from '../../workers/startRotation.js';
import type { RotationResult } from '../../workflows/rotation/index.js';
import { cfg, stopLeftover } from './pipeline.js';
import { parsePrometheusText, select, total, type Sample } from './prometheusText.js';
import { WorkerProcess } from './workerProcess.js';
import { freePort } from '../freePort.js';

/**
 * The worker's Prometheus endpoint as Prometheus sees it: a worker process started with
 * REKEY_METRICS_ADDRESS, scraped over HTTP before and after real CDC rotations on the stack
 * (one rollback drill, one completed rotation; the CDC procedure because it is the quickest:
 * the metrics are the kit's, the same for every procedure).
 */
const { config } = embeddedWorkerConfig();
const taskQueue = `rekey-metrics-${randomBytes(3).toString('hex')}`;
let port = 0;
let worker: WorkerProcess;
let client: Client;
let connection: Connection;
let running: WorkflowHandle | undefined;

async function scrape(): Promise<Sample[]> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  return parsePrometheusText(await res.text());
}

/** Scrapes until `ready` holds (the endpoint comes up with the worker; workflow metrics follow the activation). */
async function scrapeUntil(ready: (s: Sample[]) => boolean, what: string, timeoutMs = 60_000): Promise<Sample[]> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const s = await scrape();
      if (ready(s)) return s;
      last = 'scraped, condition not met';
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(
        `metrics: ${what} not seen within ${timeoutMs} ms (${last}); worker log:\n${worker.log().slice(-3000)}`,
      );
    await new Promise((r) => setTimeout(r, 500));
  }
}

const ours = { procedure: 'postgresql-cdc', target: 'ecommerce' };
const counters = (s: Sample[]) => ({
  started: total(s, 'rekey_rotations_started_total', ours),
  completed: total(s, 'rekey_rotations_completed_total', ours),
  rolledBack: total(s, 'rekey_rotations_rolled_back_total', { ...ours, cause: 'failure' }),
  stepSamples: total(s, 'rekey_rotation_step_duration_seconds_count', ours),
});

async function rotate(input: Record<string, unknown>): Promise<{ result?: RotationResult; error?: Error }> {
  const handle = await startPostgresCdcRotation(
    client,
    { target: 'ecommerce', requestedBy: 'e2e-metrics', ...input },
    { taskQueue },
  );
  running = handle;
  try {
    return { result: (await handle.result()) as RotationResult };
  } catch (error) {
    return { error: error as Error };
  } finally {
    running = undefined;
  }
}

beforeAll(async () => {
  port = await freePort();
  worker = new WorkerProcess(taskQueue, path.join(cfg.logDir, `${taskQueue}.log`), {
    REKEY_METRICS_ADDRESS: `127.0.0.1:${port}`,
  });
  ({ client, connection } = await createClient(config));
  worker.start();
});
afterAll(async () => {
  await stopLeftover(running);
  await worker?.kill();
  await connection?.close();
});

describe('worker metrics on /metrics (REKEY_METRICS_ADDRESS)', () => {
  it("serves the SDK's worker metrics and rekey's rotation metrics, which move during real rotations", async () => {
    // the SDK's own metrics are there as soon as the worker polls its task queue
    const first = await scrapeUntil(
      (s) => select(s, 'temporal_num_pollers', { task_queue: taskQueue }).length > 0,
      'temporal_num_pollers for the task queue',
    );
    const before = counters(first);
    const t0 = Date.now() / 1000;

    // a rollback drill: fails after the new credential is staged, compensates, ends rolled back
    const drill = await rotate({ gracePeriod: 'PT1S', injectFailure: 'stage' });
    expect((drill.error?.cause as ApplicationFailure | undefined)?.type).toBe('RotationRolledBack');
    // a real rotation with a short grace
    const done = await rotate({ gracePeriod: 'PT1S' });
    expect(done.error).toBeUndefined();
    expect(done.result?.status).toBe('completed');

    // rekey's counter moves inside the workflow; the SDK counts the completion when the server takes it: wait for both
    const after = await scrapeUntil(
      (s) =>
        counters(s).completed > before.completed &&
        total(s, 'temporal_workflow_completed_total', { task_queue: taskQueue }) >= 1,
      'rekey_rotations_completed_total and temporal_workflow_completed_total',
    );
    const moved = counters(after);
    console.info(`metrics before ${JSON.stringify(before)} after ${JSON.stringify(moved)}`);
    expect(moved.started - before.started).toBe(2);
    expect(moved.completed - before.completed).toBe(1);
    expect(moved.rolledBack - before.rolledBack).toBe(1);

    // every step of the completed run has a duration sample, with its outcome
    const steps = (done.result?.steps ?? []).filter((st) => st.outcome === 'ok').map((st) => st.name);
    expect(steps.length).toBeGreaterThan(3);
    for (const step of steps)
      expect(
        total(after, 'rekey_rotation_step_duration_seconds_count', { ...ours, step, outcome: 'ok' }),
        step,
      ).toBeGreaterThanOrEqual(1);
    expect(total(after, 'rekey_rotation_step_duration_seconds_sum', ours)).toBeGreaterThan(0);
    expect(moved.stepSamples - before.stepSamples).toBeGreaterThanOrEqual(steps.length);
    expect(total(after, 'rekey_rotation_step_duration_seconds_bucket', { ...ours, le: '+Inf' })).toBe(
      moved.stepSamples,
    );

    // the last-success gauge the overdue alert reads: the completed run's time, per component and target
    const [gauge] = select(after, 'rekey_rotation_last_success_timestamp_seconds', {
      ...ours,
      component: 'postgresql_cdc',
    });
    expect(gauge).toBeDefined();
    expect(gauge!.value).toBeGreaterThanOrEqual(Math.floor(t0));
    expect(gauge!.value).toBeLessThanOrEqual(Date.now() / 1000 + 1);
    // the SDK adds the namespace, task queue and workflow type to what a workflow emits
    expect(gauge!.labels).toMatchObject({
      namespace: 'default',
      taskQueue,
      workflowType: 'rotatePostgresCdcCredentials',
    });

    // the SDK's own metrics for the same work
    expect(total(after, 'temporal_workflow_completed_total', { task_queue: taskQueue })).toBeGreaterThanOrEqual(1);
    expect(total(after, 'temporal_workflow_failed_total', { task_queue: taskQueue })).toBeGreaterThanOrEqual(1);
    expect(total(after, 'temporal_worker_start_total', { task_queue: taskQueue })).toBe(1);
    expect(
      select(after, 'temporal_activity_execution_latency_count', { task_queue: taskQueue }).length,
    ).toBeGreaterThan(0);
  });
});
