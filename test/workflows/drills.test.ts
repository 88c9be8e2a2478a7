import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { failureOf, stubWorker, timeSkippingEnv } from './harness.js';

let env: TestWorkflowEnvironment;
let w: Awaited<ReturnType<typeof stubWorker>>;
beforeAll(async () => {
  env = await timeSkippingEnv();
  w = await stubWorker(env, { testHooks: false });
});
afterAll(async () => {
  await w?.stop();
  await env?.teardown();
});

describe('a production worker (no test hooks)', () => {
  it('refuses a rollback drill (injectFailure) before anything runs', async () => {
    const world = w.newWorld();
    const cause = await failureOf(await w.start(world, { injectFailure: 'promote' }));
    expect(cause?.type).toBe('InvalidInput');
    expect(cause?.message).toMatch(/injectFailure: accepted only by a worker started with REKEY_TEST_HOOKS=true/);
    expect(world.calls).toEqual([]);
  });

  it('refuses input out of bounds, naming the field', async () => {
    const world = w.newWorld();
    const cause = await failureOf(await w.start(world, { gracePeriod: 'P99999999W' }));
    expect(cause?.type).toBe('InvalidInput');
    expect(cause?.message).toMatch(/gracePeriod: must be at most P30D/);
  });
});
