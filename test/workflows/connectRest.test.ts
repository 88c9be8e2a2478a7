import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { rotateConnectRestCredentials } from '../../workflows/connectRest/workflow.js';
import { parseConnectRestInput, type ConnectRestRotationInput } from '../../contracts/input/connectRest.js';
import { rollbackSignal, rotationWorkflowId, type RotationResult } from '../../workflows/rotation/index.js';
import { expectRunFollowsPlan, failureOf, timeSkippingEnv, waitFor, worldWorker } from './harness.js';
import { ConnectRestStubWorld } from './connectRestStubWorld.js';

let env: TestWorkflowEnvironment;
let w: Awaited<ReturnType<typeof worldWorker<ConnectRestStubWorld>>>;
beforeAll(async () => {
  env = await timeSkippingEnv();
  w = await worldWorker(
    env,
    (n) => new ConnectRestStubWorld(`kafka-connect-rest-${n}-${randomBytes(2).toString('hex')}`),
  );
});
afterAll(async () => {
  await w?.stop();
  await env?.teardown();
});

const start = (world: ConnectRestStubWorld, input: Partial<ConnectRestRotationInput> = {}, workflowId?: string) =>
  env.client.workflow.start(rotateConnectRestCredentials, {
    taskQueue: w.taskQueue,
    workflowId: workflowId ?? rotationWorkflowId('connect-rest', world.secret),
    args: [{ target: 'stub', requestedBy: 'workflow-test', ...input, secret: world.secret }],
  });

/** The secret sends `user`, Connect loaded and lists only it (beside the user rekey does not own); nothing staged is left. */
const only = (world: ConnectRestStubWorld, user: string) =>
  expect(world.state()).toEqual({
    secret: user,
    file: [user, 'monitoring'].sort(),
    accepted: [user, 'monitoring'].sort(),
    pending: false,
    backup: false,
  });

const readOnly = ['describeConnectRestUsers', 'describeCredential', 'connectRestAuth', 'connectorsRunning'];
const changes = (world: ConnectRestStubWorld) => world.calls.filter((c) => !readOnly.includes(c));

describe('Kafka Connect REST credential rotation with stub activities', () => {
  it('completes: Connect accepts both, the secret sends the new user, the old one is dropped and refused; steps follow the dry-run plan; no password in history', async () => {
    const dryWorld = w.newWorld();
    const dry = (await (
      await start(dryWorld, { dryRun: true }, `rotate-connect-rest/${dryWorld.secret}/dry-run/t`)
    ).result()) as RotationResult;
    expect(dry.status).toBe('dry-run');
    expect(changes(dryWorld)).toEqual([]);

    const world = w.newWorld();
    const handle = await start(world, { gracePeriod: 'PT6H' });
    const grace = await waitFor(handle, (p) => p.phase === 'grace', 'grace');
    // during grace Connect accepts both: clients that read the secret at start still get in
    expect(world.state().accepted).toEqual(['connect-admin', grace.to, 'monitoring'].sort());
    const result = (await handle.result()) as RotationResult;
    expect(result).toMatchObject({ status: 'completed', procedure: 'connect-rest', from: 'connect-admin' });
    expect(result.to).toMatch(/^connect-admin-\d{8}-\d{4}$/);
    only(world, result.to!);
    expect(world.accepts({ username: 'connect-admin', password: world.passwords[0]! })).toBe(false);
    expect(world.restarts).toBe(2);
    expectRunFollowsPlan(dry.plan!, result.steps);
    expect(result.steps.find((s) => s.name === 'old-user-refused')).toMatchObject({
      outcome: 'ok',
      detail: 'connect-admin: HTTP 401',
    });
    expect(world.audit.map((e) => e.action)).toEqual(
      expect.arrayContaining(['rotation_started', 'accept-both', 'promote', 'old_user_refused']),
    );
    expect(world.audit.every((e) => e.component === 'kafka_connect_rest')).toBe(true);
    const history = JSON.stringify(await handle.fetchHistory());
    for (const p of world.passwords)
      expect(`${history}${JSON.stringify(result)}${JSON.stringify(world.audit)}`).not.toContain(p);
  });

  it('rollback signal during grace: the old user back in the secret and the only one Connect accepts again (compensations newest first)', async () => {
    const world = w.newWorld();
    const handle = await start(world, { gracePeriod: 'PT2H' });
    const grace = await waitFor(handle, (p) => p.phase === 'grace', 'grace');
    expect(grace.rollbackWouldUndo.map((u) => u.step)).toEqual(['promote', 'accept-both', 'backup', 'stage-user']);
    await handle.signal(rollbackSignal, { reason: 'a dashboard still sends the old password', by: 'test' });
    expect(((await handle.result()) as RotationResult).status).toBe('rolled-back');
    only(world, 'connect-admin');
    expect(world.restarts).toBe(2);
  });

  it('a failure before the switch undoes phase 1: the new user removed and the worker restarted without it', async () => {
    const world = w.newWorld();
    world.failures.set('waitConnectRestAuth', 1);
    const cause = await failureOf(await start(world));
    expect(cause?.type).toBe('RotationRolledBack');
    only(world, 'connect-admin');
    expect(world.restarts).toBe(2);
  });

  it('compromise: no grace, the old user is removed right after the switch', async () => {
    const world = w.newWorld();
    const result = (await (await start(world, { compromise: true })).result()) as RotationResult;
    expect(result.status).toBe('completed');
    expect(result.steps.find((s) => s.name === 'grace')).toMatchObject({ outcome: 'skipped' });
    only(world, result.to!);
  });

  it('pre-flight: rekey sending the same user from another secret, or a half-done rotation, stops it before anything changes', async () => {
    const cutOff = w.newWorld();
    cutOff.rekeySecret = 'another-copy';
    // the stub's other secret names 'rekey': make it the same user as the one rotated
    cutOff.live.username = 'rekey';
    cutOff.usersFile = `rekey=${cutOff.live.password}\n`;
    cutOff.restart();
    expect((await failureOf(await start(cutOff)))?.message).toMatch(
      /rekey's own client moves with it: saw rekey sends rekey from another-copy/,
    );
    expect(changes(cutOff)).toEqual([]);
    const open = w.newWorld();
    open.checksPasswords = false;
    expect((await failureOf(await start(open)))?.message).toMatch(
      /Connect checks passwords: saw HTTP 200 to an unknown user/,
    );
    const stale = w.newWorld();
    stale.usersFile = stale.usersFile.replace(/^connect-admin=.*$/m, 'connect-admin=an-older-password');
    expect((await failureOf(await start(stale)))?.message).toMatch(/the file has the secret's password: saw no/);
    expect([...changes(open), ...changes(stale)]).toEqual([]);
    const halfDone = w.newWorld();
    halfDone.backup = { username: 'connect-admin', password: 'x', rotationId: 'old', users: '' };
    expect((await failureOf(await start(halfDone)))?.message).toMatch(/no rotation half-done: saw .*-backup/);
    expect(changes(halfDone)).toEqual([]);
  });
});

describe('Connect REST input', () => {
  it('names the field of a bad value and refuses a grace in compromise mode', () => {
    expect(() => parseConnectRestInput({ target: 'x', usersKey: 'a/b' })).toThrow(/usersKey: must be a Secret key/);
    expect(() => parseConnectRestInput({ target: 'x', compromise: true, gracePeriod: 'PT1H' })).toThrow(/gracePeriod/);
    expect(parseConnectRestInput({ target: 'x' })).toMatchObject({
      secret: 'kafka-connect-rest',
      usersKey: 'users.properties',
      gracePeriod: 'PT24H',
    });
  });
});
