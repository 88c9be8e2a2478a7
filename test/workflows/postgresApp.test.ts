import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { rotatePostgresAppCredentials } from '../../workflows/postgresApp/workflow.js';
import {
  appUserName,
  parsePostgresAppInput,
  type PostgresAppRotationInput,
} from '../../contracts/input/postgresApp.js';
import { rotationWorkflowId, type RotationResult } from '../../workflows/rotation/index.js';
import { expectRunFollowsPlan, failureOf, timeSkippingEnv, worldWorker } from './harness.js';
import { PostgresAppStubWorld } from './postgresAppStubWorld.js';

let env: TestWorkflowEnvironment;
let w: Awaited<ReturnType<typeof worldWorker<PostgresAppStubWorld>>>;
beforeAll(async () => {
  env = await timeSkippingEnv();
  w = await worldWorker(env, (n) => new PostgresAppStubWorld(`orders-app-db-${n}-${randomBytes(2).toString('hex')}`));
});
afterAll(async () => {
  await w?.stop();
  await env?.teardown();
});

const start = (world: PostgresAppStubWorld, input: Partial<PostgresAppRotationInput> = {}, workflowId?: string) =>
  env.client.workflow.start(rotatePostgresAppCredentials, {
    taskQueue: w.taskQueue,
    workflowId: workflowId ?? rotationWorkflowId('postgresql-app', world.secret),
    args: [{ target: 'stub', requestedBy: 'workflow-test', ...input, secret: world.secret }],
  });

const only = (world: PostgresAppStubWorld, user: string) =>
  expect(world.state()).toEqual({ secret: user, roles: [user], app: user, pending: false, backup: false });
const changes = (world: PostgresAppStubWorld) =>
  world.calls.filter((c) => !['describeAppLogin', 'describeCredential'].includes(c));

describe("an application's PostgreSQL login rotation with stub activities", () => {
  it('completes: the next login role, the application rolled onto it, the old role dropped; steps follow the dry-run plan; no password in history', async () => {
    const dryWorld = w.newWorld();
    const dry = (await (
      await start(dryWorld, { dryRun: true }, `rotate-postgresql-app/${dryWorld.secret}/dry-run/t`)
    ).result()) as RotationResult;
    expect(changes(dryWorld)).toEqual([]);
    const world = w.newWorld();
    const handle = await start(world, { gracePeriod: 'PT6H' });
    const result = (await handle.result()) as RotationResult;
    expect(result).toMatchObject({ status: 'completed', procedure: 'postgresql-app', from: 'orders_app' });
    expect(result.to).toMatch(/^orders_app_\d{8}_\d{4}$/);
    only(world, result.to!);
    expect(world.rolls).toBe(1);
    expectRunFollowsPlan(dry.plan!, result.steps);
    const history = JSON.stringify(await handle.fetchHistory());
    for (const p of world.passwords) expect(`${history}${JSON.stringify(result)}`).not.toContain(p);
  });

  it('a client the roll does not move keeps using the old role: the switch is not proven and rolls back, the application back on the old role', async () => {
    const world = w.newWorld();
    world.straggler = true;
    const cause = await failureOf(await start(world));
    expect(cause?.type).toBe('RotationRolledBack');
    expect(cause?.message).toMatch(/sessions did not move/);
    world.straggler = false;
    only(world, 'orders_app');
    expect(world.rolls).toBe(2);
  });

  it('compromise: no grace, the old role is retired right after the switch, its sessions terminated', async () => {
    const world = w.newWorld();
    const result = (await (await start(world, { compromise: true })).result()) as RotationResult;
    expect(result.status).toBe('completed');
    expect(result.steps.find((s) => s.name === 'grace')).toMatchObject({ outcome: 'skipped' });
    expect(world.calls).toContain('retireRole');
    only(world, result.to!);
  });

  it('pre-flight: a login role that does not set the owner role stops it before anything changes (its objects would be dropped with it)', async () => {
    const world = w.newWorld();
    world.bare.add('orders_app');
    expect((await failureOf(await start(world)))?.message).toMatch(/sets the owner role: saw no role setting/);
    expect(changes(world)).toEqual([]);
  });

  it('input: names the field of a bad value; names the next role after the owner role', () => {
    expect(() => parsePostgresAppInput({ target: 'x', ownerRole: 'Orders' })).toThrow(/ownerRole: must be a lowercase/);
    expect(() => parsePostgresAppInput({ target: 'x', workload: { kind: 'Job', name: 'a' } })).toThrow(
      /workload\.kind/,
    );
    const at = new Date('2026-12-07T15:20:09Z');
    expect(appUserName({ ownerRole: 'nessie_owner' }, at, 'nessie_app')).toBe('nessie_app_20261207_1520');
    expect(appUserName({ ownerRole: 'x', userPrefix: 'kc' }, at, 'kc_20261207_1520')).toBe('kc_20261207_152009');
  });
});
