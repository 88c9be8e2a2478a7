import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { rotateKafkaScramCredentials } from '../../workflows/kafkaScram/workflow.js';
import {
  kafkaPrincipalName,
  parseKafkaScramInput,
  type KafkaScramRotationInput,
} from '../../contracts/input/kafkaScram.js';
import { rollbackSignal, rotationWorkflowId, type RotationResult } from '../../workflows/rotation/index.js';
import { expectRunFollowsPlan, failureOf, timeSkippingEnv, waitFor, worldWorker } from './harness.js';
import { ScramStubWorld } from './scramStubWorld.js';

let env: TestWorkflowEnvironment;
let w: Awaited<ReturnType<typeof worldWorker<ScramStubWorld>>>;
beforeAll(async () => {
  env = await timeSkippingEnv();
  w = await worldWorker(env, (n) => new ScramStubWorld(`kafka-connect-sasl-${n}-${randomBytes(2).toString('hex')}`));
});
afterAll(async () => {
  await w?.stop();
  await env?.teardown();
});

const start = (world: ScramStubWorld, input: Partial<KafkaScramRotationInput> = {}, workflowId?: string) =>
  env.client.workflow.start(rotateKafkaScramCredentials, {
    taskQueue: w.taskQueue,
    workflowId: workflowId ?? rotationWorkflowId('kafka-scram', world.secret),
    args: [{ target: 'stub', requestedBy: 'workflow-test', ...input, secret: world.secret }],
  });

/** Only `user` exists on the broker; the secret and the Connect worker use it and are accepted; nothing staged is left. */
const only = (world: ScramStubWorld, user: string) =>
  expect(world.state()).toEqual({
    secret: user,
    users: [user],
    worker: user,
    workerAccepted: true,
    pending: false,
    backup: false,
  });

const changes = (world: ScramStubWorld) =>
  world.calls.filter((c) => !['describeKafkaPrincipal', 'describeCredential', 'connectorStatus'].includes(c));

describe('Kafka SCRAM principal rotation with stub activities', () => {
  it('completes: one principal, the new one, with the old ACLs, used by the worker; the old login refused; steps follow the dry-run plan; no password in history', async () => {
    const dryWorld = w.newWorld();
    const dry = (await (
      await start(dryWorld, { dryRun: true }, `rotate-kafka-scram/${dryWorld.secret}/dry-run/t`)
    ).result()) as RotationResult;
    expect(dry.status).toBe('dry-run');
    expect(changes(dryWorld)).toEqual([]);
    expect(dry.plan!.find((s) => s.name === 'create-principal')!.undo).toMatch(/DeleteAcls of User:kafka-connect-/);

    const world = w.newWorld();
    const acls = world.acls.get('kafka-connect');
    const handle = await start(world, { gracePeriod: 'PT6H' });
    const result = (await handle.result()) as RotationResult;
    expect(result).toMatchObject({ status: 'completed', procedure: 'kafka-scram', from: 'kafka-connect' });
    expect(result.to).toMatch(/^kafka-connect-\d{8}-\d{4}$/);
    only(world, result.to!);
    expect(world.acls.get(result.to!)).toEqual(acls);
    expect(world.restarts).toBe(1);
    expectRunFollowsPlan(dry.plan!, result.steps);
    expect(result.steps.find((s) => s.name === 'old-principal-refused')).toMatchObject({ outcome: 'ok' });
    expect(result.steps.find((s) => s.name === 'broker-saw-switch')).toMatchObject({
      outcome: 'ok',
      detail: expect.stringMatching(/^0 request\(s\) as User:kafka-connect, [1-9]\d* as User:kafka-connect-/),
    });
    expect(world.audit.map((e) => e.action)).toEqual(
      expect.arrayContaining(['rotation_started', 'create-principal', 'promote', 'old_principal_refused']),
    );
    expect(world.audit.every((e) => e.component === 'kafka_sasl')).toBe(true);
    const history = JSON.stringify(await handle.fetchHistory());
    for (const p of world.passwords)
      expect(`${history}${JSON.stringify(result)}${JSON.stringify(world.audit)}`).not.toContain(p);
  });

  it('rollback signal during grace: the worker back on the old principal, the new one gone (compensations newest first)', async () => {
    const world = w.newWorld();
    const handle = await start(world, { gracePeriod: 'PT2H' });
    const grace = await waitFor(handle, (p) => p.phase === 'grace', 'grace');
    expect(grace.rollbackWouldUndo.map((u) => u.step)).toEqual([
      'canary-write',
      'promote',
      'create-principal',
      'stage-principal',
    ]);
    expect(world.state()).toMatchObject({ worker: grace.to, users: ['kafka-connect', grace.to].sort() });
    await handle.signal(rollbackSignal, { reason: 'a client still sends the old password', by: 'test' });
    expect(((await handle.result()) as RotationResult).status).toBe('rolled-back');
    only(world, 'kafka-connect');
    expect(world.restarts).toBe(2);
  });

  it('a failure after the new principal exists rolls back phase 1 without touching the worker', async () => {
    const world = w.newWorld();
    world.failures.set('waitKafkaLogin', 1);
    const cause = await failureOf(await start(world));
    expect(cause?.type).toBe('RotationRolledBack');
    expect(world.restarts).toBe(0);
    only(world, 'kafka-connect');
  });

  it('a client rekey does not restart still logs in as the old principal: the broker-side proof stops the switch, which rolls back', async () => {
    const world = w.newWorld();
    world.otherClient = { ...world.live };
    const cause = await failureOf(await start(world));
    expect(cause?.type).toBe('RotationRolledBack');
    expect(cause?.message).toMatch(/a client still logs in as User:kafka-connect: [1-9]\d* request\(s\)/);
    expect(world.state()).toMatchObject({ secret: 'kafka-connect', users: ['kafka-connect'], worker: 'kafka-connect' });
  });

  it('without an authorizer log both broker-side checks are skipped, saying why', async () => {
    const world = w.newWorld();
    world.authorizerLog = null;
    const result = (await (await start(world, { gracePeriod: 'PT1H' })).result()) as RotationResult;
    expect(result.status).toBe('completed');
    expect(result.steps.filter((s) => s.outcome === 'skipped').map((s) => s.name)).toEqual([
      'broker-saw-switch',
      'old-principal-idle',
    ]);
  });

  it('compromise: no grace, the old principal is removed right after the switch', async () => {
    const world = w.newWorld();
    const result = (await (await start(world, { compromise: true })).result()) as RotationResult;
    expect(result.status).toBe('completed');
    expect(result.steps.find((s) => s.name === 'grace')).toMatchObject({ outcome: 'skipped' });
    only(world, result.to!);
  });

  it('pre-flight: a principal without ACLs or a half-done rotation stops it before anything changes', async () => {
    const bare = w.newWorld();
    bare.acls.set('kafka-connect', []);
    expect((await failureOf(await start(bare)))?.message).toMatch(/principal has ACLs: saw 0 binding\(s\)/);
    expect(changes(bare)).toEqual([]);
    const halfDone = w.newWorld();
    halfDone.pending = { username: 'kafka-connect-20260101-0000', password: 'x', rotationId: 'old' };
    expect((await failureOf(await start(halfDone)))?.message).toMatch(/no rotation half-done: saw .*-pending/);
    expect(changes(halfDone)).toEqual([]);
  });
});

describe('Kafka SCRAM rotation input', () => {
  it('names the field of a bad value and refuses a grace in compromise mode', () => {
    expect(() => parseKafkaScramInput({ target: 'x', mechanism: 'PLAIN' })).toThrow(
      /mechanism: must be one of: SCRAM-SHA-512, SCRAM-SHA-256/,
    );
    expect(() => parseKafkaScramInput({ target: 'x', connectWaitSeconds: 5 })).toThrow(/connectWaitSeconds/);
    expect(() => parseKafkaScramInput({ target: 'x', compromise: true, gracePeriod: 'PT1H' })).toThrow(/gracePeriod/);
    expect(parseKafkaScramInput({ target: 'x' })).toMatchObject({ secret: 'kafka-connect-sasl', gracePeriod: 'PT24H' });
  });

  it('names the next principal after the current one, whatever its date', () => {
    const at = new Date('2026-12-07T13:05:09Z');
    expect(kafkaPrincipalName(undefined, 'kafka-connect', at)).toBe('kafka-connect-20261207-1305');
    expect(kafkaPrincipalName(undefined, 'kafka-connect-20261101-0200', at)).toBe('kafka-connect-20261207-1305');
    expect(kafkaPrincipalName(undefined, 'kafka-connect-20261207-1305', at)).toBe('kafka-connect-20261207-130509');
    expect(kafkaPrincipalName('connect', 'kafka-connect', at)).toBe('connect-20261207-1305');
  });
});
