import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { rotatePostgresAdminPassword } from '../../workflows/postgresAdmin/workflow.js';
import { parsePostgresAdminInput, type PostgresAdminRotationInput } from '../../contracts/input/postgresAdmin.js';
import { rotationWorkflowId, type RotationResult } from '../../workflows/rotation/index.js';
import { expectRunFollowsPlan, failureOf, timeSkippingEnv, worldWorker } from './harness.js';
import { PostgresAdminStubWorld } from './postgresAdminStubWorld.js';

let env: TestWorkflowEnvironment;
let w: Awaited<ReturnType<typeof worldWorker<PostgresAdminStubWorld>>>;
beforeAll(async () => {
  env = await timeSkippingEnv();
  w = await worldWorker(
    env,
    (n) => new PostgresAdminStubWorld(`postgres-admin-${n}-${randomBytes(2).toString('hex')}`),
  );
});
afterAll(async () => {
  await w?.stop();
  await env?.teardown();
});

const start = (world: PostgresAdminStubWorld, input: Partial<PostgresAdminRotationInput> = {}, workflowId?: string) =>
  env.client.workflow.start(rotatePostgresAdminPassword, {
    taskQueue: w.taskQueue,
    workflowId: workflowId ?? rotationWorkflowId('postgresql-admin', world.secret),
    args: [{ target: 'stub', requestedBy: 'workflow-test', ...input, secret: world.secret }],
  });

const readOnly = ['describeAdminRole', 'describeCredential', 'roleSessionsSince'];
const changes = (world: PostgresAdminStubWorld) => world.calls.filter((c) => !readOnly.includes(c));

describe('PostgreSQL admin password rotation in place, with stub activities', () => {
  it('completes: the role takes the new password, the secret holds it, open sessions stay, the old password is refused; steps follow the dry-run plan; no password in history', async () => {
    const dryWorld = w.newWorld();
    const dry = (await (
      await start(dryWorld, { dryRun: true }, `rotate-postgresql-admin/${dryWorld.secret}/dry-run/t`)
    ).result()) as RotationResult;
    expect(dry.status).toBe('dry-run');
    expect(changes(dryWorld)).toEqual([]);

    const world = w.newWorld();
    const old = world.live;
    const handle = await start(world, { workloads: [{ kind: 'Deployment', name: 'nessie' }] });
    const result = (await handle.result()) as RotationResult;
    expect(result).toMatchObject({
      status: 'completed',
      procedure: 'postgresql-admin',
      from: 'postgres',
      to: 'postgres',
    });
    expect(world.state()).toEqual({
      secretLogsIn: true,
      pending: false,
      backup: false,
      sessions: ['psql-of-the-dba', 'rekey-pool-1'],
    });
    expect(world.live).not.toBe(old);
    expect(world.calls).toContain('rollWorkload');
    expectRunFollowsPlan(dry.plan!, result.steps);
    expect(result.steps.find((s) => s.name === 'sessions-kept')?.detail).toMatch(/^2 session\(s\) of postgres/);
    const history = JSON.stringify(await handle.fetchHistory());
    for (const p of world.passwords)
      expect(`${history}${JSON.stringify(result)}${JSON.stringify(world.audit)}`).not.toContain(p);
  });

  it('a failure after the switch rolls back to the exact old verifier: the old password logs in again, the secret holds it', async () => {
    const world = w.newWorld();
    const old = world.live;
    const cause = await failureOf(await start(world, { injectFailure: 'sessions-kept' }));
    expect(cause?.type).toBe('RotationRolledBack');
    expect(world.accepted).toBe(old);
    expect(world.state()).toMatchObject({ secretLogsIn: true, pending: false, backup: false });
    expect(world.live).toBe(old);
  });

  it('compromise: every other session of the role is ended after the switch', async () => {
    const world = w.newWorld();
    const result = (await (await start(world, { compromise: true })).result()) as RotationResult;
    expect(result.status).toBe('completed');
    expect(result.steps.find((s) => s.name === 'terminate-sessions')?.detail).toBe(
      '2 session(s) of postgres opened before the change ended',
    );
    expect(world.state().sessions).toEqual([]);
  });

  it('pre-flight: a role that is no superuser (its verifier unreadable) stops it before anything changes', async () => {
    const world = w.newWorld();
    world.superuser = false;
    expect((await failureOf(await start(world)))?.message).toMatch(/superuser: saw no/);
    expect(changes(world)).toEqual([]);
  });

  it('input: names the field of a bad workload and has no grace period', () => {
    expect(() => parsePostgresAdminInput({ target: 'x', workloads: [{ kind: 'Pod', name: 'a' }] })).toThrow(
      /workloads\.0\.kind: must be Deployment or StatefulSet/,
    );
    expect(() => parsePostgresAdminInput({ target: 'x', gracePeriod: 'PT1H' })).toThrow(/gracePeriod/);
  });
});
