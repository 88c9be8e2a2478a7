import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import type { WorkflowHandle } from '@temporalio/client';
import { loadStackConfig, searchAttributes } from '../../scripts/stack/config.js';
import { afterAll, beforeAll, expect, inject } from 'vitest';
import { rotatePostgresCdcCredentials } from '../../workflows/postgresCdc/workflow.js';
import type { PostgresCdcRotationInput } from '../../contracts/input/postgresCdc.js';
import { progressQuery, rotationWorkflowId, type RotationProgress } from '../../workflows/rotation/index.js';
import type { Activities } from '../../activities/index.js';
import { StubWorld } from './stubWorld.js';

/** The workflow code the fast lane's global setup bundled once (test/fastSetup.ts). */
export const workflowBundle = () => ({ codePath: inject('workflowBundlePath') });

/** The Java time-skipping test server from Maven Central (installed by scripts/stack/install-jvm.sh): never a runtime download. */
export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const server = path.join(loadStackConfig().cache, 'testserver-1.31.0', 'temporal-test-server');
  if (!fs.existsSync(server))
    throw new Error(`time-skipping test server missing at ${server}: run bash scripts/stack/install-jvm.sh`);
  const env = await startTimeSkipping(server);
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(
      searchAttributes.map((name) => [name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
    ),
  });
  return env;
}

/** The SDK gives the JVM server 5 s to listen, which a loaded machine (a CI run, parallel stacks) can miss: try again. */
async function startTimeSkipping(server: string, attempts = 3): Promise<TestWorkflowEnvironment> {
  for (let i = 1; ; i++) {
    try {
      return await TestWorkflowEnvironment.createTimeSkipping({
        server: { executable: { type: 'existing-path', path: server } },
      });
    } catch (err) {
      if (i >= attempts || !/did not start within/.test((err as Error).message)) throw err;
    }
  }
}

/**
 * One worker per test file whose activities are the current test's StubWorld: each test
 * gets a world of its own (and a secret of its own, so rotations never share an id).
 */
export async function stubWorker(env: TestWorkflowEnvironment, opts: { testHooks?: boolean } = {}) {
  const taskQueue = `stub-${randomBytes(3).toString('hex')}`;
  let world = new StubWorld('unused');
  type Fn = (input: unknown) => Promise<unknown>;
  const names = Object.keys(world.activities());
  const activities = Object.fromEntries(
    names.map((name) => [
      name,
      (input: unknown) => (world.activities(opts.testHooks ?? true) as unknown as Record<string, Fn>)[name]!(input),
    ]),
  );
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: workflowBundle(),
    activities,
  });
  const running = worker.run();
  let n = 0;
  return {
    taskQueue,
    newWorld(): StubWorld {
      world = new StubWorld(`secret-${++n}-${randomBytes(2).toString('hex')}`);
      return world;
    },
    start(
      w: StubWorld,
      input: Partial<PostgresCdcRotationInput> = {},
      workflowId?: string,
    ): Promise<WorkflowHandle<typeof rotatePostgresCdcCredentials>> {
      return env.client.workflow.start(rotatePostgresCdcCredentials, {
        taskQueue,
        workflowId: workflowId ?? rotationWorkflowId('postgresql-cdc', w.secret),
        args: [{ target: 'stub', requestedBy: 'workflow-test', ...input, secret: w.secret }],
      });
    },
    async stop() {
      worker.shutdown();
      await running;
    },
  };
}

/**
 * The same for any procedure: one worker per test file whose activities are those of the
 * current test's world, whatever stub world it is (`create(n)` makes the n-th). Tests start
 * their workflows on `taskQueue` themselves.
 */
export async function worldWorker<W extends { activities(testHooks?: boolean): Activities }>(
  env: TestWorkflowEnvironment,
  create: (n: number) => W,
  opts: { testHooks?: boolean } = {},
) {
  const taskQueue = `stub-${randomBytes(3).toString('hex')}`;
  let world = create(0);
  type Fn = (input: unknown) => Promise<unknown>;
  const names = Object.keys(world.activities());
  const activities = Object.fromEntries(
    names.map((name) => [
      name,
      (input: unknown) => (world.activities(opts.testHooks ?? true) as unknown as Record<string, Fn>)[name]!(input),
    ]),
  );
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: workflowBundle(),
    activities,
  });
  const running = worker.run();
  let n = 0;
  return {
    taskQueue,
    newWorld(): W {
      world = create(++n);
      return world;
    },
    async stop() {
      worker.shutdown();
      await running;
    },
  };
}

export async function waitFor(
  handle: WorkflowHandle,
  test: (p: RotationProgress) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<RotationProgress> {
  const deadline = Date.now() + timeoutMs;
  let last: RotationProgress | undefined;
  while (Date.now() < deadline) {
    last = await handle.query(progressQuery).catch(() => last);
    if (last && test(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `timed out waiting for ${what}; last phase ${last?.phase}, steps ${last?.steps.map((s) => `${s.name}:${s.outcome}`).join(' ')}`,
  );
}

/**
 * Patch markers a workflow decided after a local activity and before anything else it waited on
 * (an activity, a timer, a child). On replay the SDK can resolve the local activity in the
 * earlier workflow task, run on, and call patched() before it has seen the marker: the replay
 * then fails on a nondeterminism error (a worker restarted mid-run retried its task forever; the
 * crash test met it). A procedure decides its patches before its first local activity.
 */
export function patchesRightAfterLocalActivity(history: temporal.api.history.v1.IHistory): string[] {
  const found: string[] = [];
  let afterLocalActivity = false;
  for (const e of history.events ?? []) {
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName === 'core_local_activity') afterLocalActivity = true;
    else if (marker?.markerName === 'core_patch' && afterLocalActivity)
      found.push(
        `event ${e.eventId}: ${Buffer.from(marker.details?.['patch-data']?.payloads?.[0]?.data ?? new Uint8Array()).toString()}`,
      );
    else if (
      e.activityTaskScheduledEventAttributes ||
      e.timerStartedEventAttributes ||
      e.startChildWorkflowExecutionInitiatedEventAttributes
    )
      afterLocalActivity = false;
  }
  return found;
}

/**
 * Waits until a workflow task has completed after the run's cancel request: the workflow has
 * seen the cancel. Releasing a held activity before that lets its completion race the cancel
 * in one workflow task, which the Java time-skipping server can refuse and never retry.
 */
export async function waitCancelSeen(handle: WorkflowHandle, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const events = (await handle.fetchHistory()).events ?? [];
    const requested = events.findIndex((e) => e.workflowExecutionCancelRequestedEventAttributes);
    if (requested >= 0 && events.slice(requested).some((e) => e.workflowTaskCompletedEventAttributes)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no workflow task completed after the cancel request within ${timeoutMs} ms`);
}

/**
 * Until the run waits on nothing but its own timers: every workflow task scheduled has completed
 * and every signal it sent (the lease's release) has been delivered. A cancel sent then cannot
 * race a workflow task, which is what wedges the Java test server when it is loaded.
 */
export async function waitIdle(handle: WorkflowHandle, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const events = (await handle.fetchHistory()).events ?? [];
    const last = (has: (e: (typeof events)[number]) => unknown) => events.reduce((at, e, i) => (has(e) ? i : at), -1);
    const count = (has: (e: (typeof events)[number]) => unknown) => events.filter((e) => has(e)).length;
    const tasksDone =
      last((e) => e.workflowTaskCompletedEventAttributes) > last((e) => e.workflowTaskScheduledEventAttributes);
    const signalsDone =
      count((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes) ===
      count((e) => e.externalWorkflowExecutionSignaledEventAttributes) +
        count((e) => e.signalExternalWorkflowExecutionFailedEventAttributes);
    if (tasksDone && signalsDone) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the run did not settle (a workflow task or a signal still pending) within ${timeoutMs} ms`);
}

export const failureOf = async (handle: WorkflowHandle) => {
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e as { cause?: { type?: string; message?: string; details?: unknown[] } },
  );
  return err?.cause;
};

/**
 * Time skipping when the JVM test server starts; otherwise (a machine too loaded for its 5 s
 * start) the embedded stack's Temporal server, real time: for tests whose timers are short.
 */
export async function timeSkippingOrStackEnv(): Promise<TestWorkflowEnvironment> {
  try {
    return await timeSkippingEnv();
  } catch (err) {
    if (!/did not start within/.test((err as Error).message)) throw err;
    const cfg = loadStackConfig();
    console.warn(
      `time-skipping server did not start (${(err as Error).message.slice(0, 80)}…): using the stack's Temporal at 127.0.0.1:${cfg.ports.temporal}`,
    );
    return TestWorkflowEnvironment.createFromExistingServer({ address: `127.0.0.1:${cfg.ports.temporal}` });
  }
}

/**
 * A test file's time-skipping server and CDC stub worker: started before its tests, stopped
 * after them. Read `suite.env` and `suite.w` inside tests (they are set in beforeAll).
 */
export function stubSuite(opts: { testHooks?: boolean } = {}) {
  const suite = {} as { env: TestWorkflowEnvironment; w: Awaited<ReturnType<typeof stubWorker>> };
  beforeAll(async () => {
    suite.env = await timeSkippingEnv();
    suite.w = await stubWorker(suite.env, opts);
  });
  afterAll(async () => {
    await suite.w?.stop();
    await suite.env?.teardown();
  });
  return suite;
}

/** The CDC world after a rotation ended on `user`: it is current and streams, nothing staged, backed up or left as canary. */
export const expectClean = (world: StubWorld, user: string) =>
  expect(world.state()).toMatchObject({ current: user, pending: false, backup: false, streaming: user, canaries: 0 });

/**
 * The plan an operator reviews is what runs: the steps a completed run recorded are the dry
 * run's, in its order (the grace period is a phase, not a step), and the steps that registered
 * a compensation are exactly those whose plan shows one (`r.change` records it from the step).
 */
export function expectRunFollowsPlan(
  plan: Array<{ name: string; undo?: string }>,
  ran: Array<{ name: string; undo?: string }>,
): void {
  const steps = ran.filter((s) => !s.name.startsWith('signal:'));
  const planned = plan.filter((s) => s.name !== 'grace');
  expect(steps.map((s) => s.name)).toEqual(planned.map((s) => s.name));
  expect(steps.filter((s) => s.undo).map((s) => s.name)).toEqual(planned.filter((s) => s.undo).map((s) => s.name));
  expect(steps.filter((s) => s.undo?.includes('NOT IN THE PLAN'))).toEqual([]);
}
