import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { awsFailure } from '../../activities/aws.js';
import { rotateAwsAccessKeys } from '../../workflows/awsKeys/workflow.js';
import { parseAwsKeysInput, type AwsKeysRotationInput, type InvalidInputError } from '../../contracts/input/awsKeys.js';
import { evaluateAwsPreflight, inactiveKeyToDelete } from '../../workflows/awsKeys/preflight.js';
import { beforeReportedMinute } from '../../workflows/awsKeys/steps.js';
import {
  cleanupNowSignal,
  progressQuery,
  retrySignal,
  rollbackSignal,
  rotationWorkflowId,
  type RotationResult,
} from '../../workflows/rotation/index.js';
import {
  failureOf,
  patchesRightAfterLocalActivity,
  timeSkippingEnv,
  waitFor,
  worldWorker,
  expectRunFollowsPlan,
} from './harness.js';
import { AwsStubWorld } from './awsStubWorld.js';

let env: TestWorkflowEnvironment;
let w: Awaited<ReturnType<typeof worldWorker<AwsStubWorld>>>;
/** The next world's mode: moto (an Inactive key still authenticates) unless a test asks for AWS's rule. */
let mode: 'moto' | 'aws' = 'moto';
beforeAll(async () => {
  env = await timeSkippingEnv();
  w = await worldWorker(env, (n) => new AwsStubWorld(`aws-credentials-${n}-${randomBytes(2).toString('hex')}`, mode));
});
afterAll(async () => {
  await w?.stop();
  await env?.teardown();
});

const start = (world: AwsStubWorld, input: Partial<AwsKeysRotationInput> = {}, workflowId?: string) =>
  env.client.workflow.start(rotateAwsAccessKeys, {
    taskQueue: w.taskQueue,
    workflowId: workflowId ?? rotationWorkflowId('aws-keys', world.secret),
    args: [{ target: 'stub', requestedBy: 'workflow-test', user: world.user, ...input, secret: world.secret }],
  });

/** The user has exactly `key`, Active; the secret and the sink hold it; nothing staged or backed up is left; the sink was never refused. */
const only = (world: AwsStubWorld, key: string) =>
  expect(world.state()).toEqual({
    secret: key,
    keys: [`${key}:Active`],
    pending: false,
    backup: false,
    sink: key,
    denied: [],
  });

/** The world's state apart from the sink's own refusals (a spoiled world may refuse it while pre-flight looks). */
const unchanged = (world: AwsStubWorld) => JSON.stringify({ ...world.state(), denied: undefined });

const readOnly = ['describeAwsCredential', 'listAccessKeys', 'connectorStatus', 'connectorTopics', 'waitObjectSince'];
const changes = (world: AwsStubWorld) => world.calls.filter((c) => !readOnly.includes(c));

describe('AWS access-key rotation with stub activities', () => {
  for (const m of ['moto', 'aws'] as const) {
    it(`completes (${m}: ${m === 'moto' ? 'an Inactive key still authenticates' : 'an Inactive key is refused'}): one key, the new one, in the secret and the sink; steps follow the dry-run plan`, async () => {
      mode = m;
      const dryWorld = w.newWorld();
      const dry = (await (
        await start(dryWorld, { dryRun: true }, `rotate-aws-keys/${dryWorld.secret}/dry-run/t`)
      ).result()) as RotationResult;
      expect(dry.status).toBe('dry-run');
      expect(changes(dryWorld)).toEqual([]);
      only(dryWorld, dryWorld.oldKey);
      expect(dry.plan!.find((s) => s.name === 'create-key')!.undo).toMatch(/DeleteAccessKey of the created key/);
      expect(dry.plan!.map((s) => s.name)).not.toContain('delete-inactive-key');

      const world = w.newWorld();
      const oldKey = world.oldKey;
      const handle = await start(world, { gracePeriod: 'PT6H' });
      const result = (await handle.result()) as RotationResult;
      mode = 'moto';
      expect(result).toMatchObject({ status: 'completed', procedure: 'aws-keys', from: oldKey });
      expect(result.to).toMatch(/^AKIA/);
      expect(result.to).not.toBe(oldKey);
      only(world, result.to!);
      expectRunFollowsPlan(dry.plan!, result.steps);
      expect(result.steps.find((s) => s.name === 'old-key-refused')).toMatchObject({
        outcome: 'ok',
        detail: expect.stringMatching(new RegExp(`^${oldKey}: InvalidAccessKeyId`)),
      });
      expect(world.audit.map((e) => e.action)).toEqual(
        expect.arrayContaining([
          'rotation_started',
          'create-key',
          'promote',
          'deactivate-old-key',
          'old_key_deleted',
          'old_key_refused',
          'rotate_credentials',
        ]),
      );
      expect(world.audit[0]!.eventId).toMatch(new RegExp(`^rotate-aws-keys/${world.secret}/[0-9a-f-]{36}#1$`));
      expect(world.audit.every((e) => e.component === 'aws_s3')).toBe(true);
      // key ids, user names and fingerprints only: no secret access key in history, result or audit
      const events = await handle.fetchHistory();
      // every patch decided before the plan's local activity (else a replaying worker can fail on it)
      expect(patchesRightAfterLocalActivity(events)).toEqual([]);
      const history = JSON.stringify(events);
      for (const s of world.secrets)
        expect(`${history}${JSON.stringify(result)}${JSON.stringify(world.audit)}`).not.toContain(s);
    });
  }

  it('pre-flight: two active keys, an inactive second key without the flag, a key the secret does not hold, a failed task or no objects stop it before anything changes', async () => {
    const cases: Array<[string, (x: AwsStubWorld) => void, RegExp, Partial<AwsKeysRotationInput>?]> = [
      ['two active', (x) => x.addKey('Active'), /key limit: saw 2 key\(s\): .*Active.*Active/],
      ['two active, flag', (x) => x.addKey('Active'), /key limit: saw 2 key\(s\)/, { deleteInactiveKey: true }],
      ['inactive, no flag', (x) => x.addKey('Inactive'), /key limit: saw 2 key\(s\): .*\(Inactive/],
      [
        'secret key inactive',
        (x) => (x.keys.get(x.oldKey)!.status = 'Inactive'),
        /secret holds an active key of the user: saw AKIA\w+: Inactive/,
      ],
      ['task failed', (x) => (x.keys.get(x.oldKey)!.secret = 'changed by hand'), /tasks running: saw 0:FAILED/],
      [
        'canary topic not archived',
        (x) => (x.sinkTopics = ['ecommerce.public.users']),
        /sink archives the canary topic: saw topics=ecommerce.public.users/,
      ],
      [
        'not archived and no objects',
        (x) => {
          x.sinkTopics = ['ecommerce.public.users'];
          x.sinkIdle = true;
        },
        /objects being written: saw NoFreshObject: no object under s3:\/\/datapipe-archive\/topics\//,
      ],
      [
        'forced past a key check',
        (x) => x.addKey('Active'),
        /force does not apply to: key limit/,
        { force: { reason: 'the second key is somebody else’s' } },
      ],
    ];
    for (const [, spoil, message, input] of cases) {
      const world = w.newWorld();
      spoil(world);
      const before = unchanged(world);
      const cause = await failureOf(await start(world, input));
      expect(cause?.type).toBe('PreflightFailed');
      expect(cause?.message).toMatch(message);
      expect(changes(world)).toEqual([]);
      expect(unchanged(world)).toBe(before);
    }
  });

  it('two keys, the other one Inactive, with deleteInactiveKey: the inactive one is deleted first, then the rotation completes', async () => {
    const dryWorld = w.newWorld();
    const stale = dryWorld.addKey('Inactive');
    const dry = (await (
      await start(dryWorld, { dryRun: true, deleteInactiveKey: true }, `rotate-aws-keys/${dryWorld.secret}/dry-run/t`)
    ).result()) as RotationResult;
    expect(dry.plan!.map((s) => s.name).slice(0, 3)).toEqual(['preflight', 'delete-inactive-key', 'create-key']);
    expect(dry.plan![1]!.does).toContain(stale);
    expect(dryWorld.keys.has(stale)).toBe(true);

    const world = w.newWorld();
    const inactive = world.addKey('Inactive');
    const result = (await (
      await start(world, { deleteInactiveKey: true, gracePeriod: 'PT1H' })
    ).result()) as RotationResult;
    expect(result.status).toBe('completed');
    expect(changes(world).slice(0, 2)).toEqual(['deleteAccessKey', 'createStagedAccessKey']);
    expect(result.steps.find((s) => s.name === 'delete-inactive-key')?.detail).toBe(`deleted ${inactive}`);
    only(world, result.to!);
  });

  it('a forced run goes past a soft check (no canary topic, no objects lately) and records why; the switch is then proven by traffic', async () => {
    const world = w.newWorld();
    world.sinkTopics = ['ecommerce.public.users'];
    world.failTimes('waitObjectSince', 1); // pre-flight sees no recent object; the sink writes again afterwards
    const result = (await (
      await start(world, { gracePeriod: 'PT1H', force: { reason: 'quiet night, the load test starts at once' } })
    ).result()) as RotationResult;
    expect(result.status).toBe('completed');
    expect(world.audit.find((e) => e.action === 'preflight_forced')?.detail).toMatch(
      /sink archives the canary topic: saw topics=ecommerce.public.users.*objects being written: saw StubFailure.*reason: quiet night/,
    );
    expect(result.steps.map((s) => s.name)).toEqual(expect.arrayContaining(['fresh-object', 'still-writing']));
    expect(result.steps.map((s) => s.name)).not.toContain('canary-archived');
  });

  it('a quiet pipeline at 03:00 (no traffic): a canary row through the sink proves the switch and the deactivation; the row is gone afterwards', async () => {
    const world = w.newWorld();
    world.sinkIdle = true;
    const oldKey = world.oldKey;
    const handle = await start(world, { gracePeriod: 'PT1H' });
    const result = (await handle.result()) as RotationResult;
    expect(result.status).toBe('completed');
    only(world, result.to!);
    const step = (name: string) => result.steps.find((s) => s.name === name);
    expect(step('canary-archived')).toMatchObject({
      outcome: 'ok',
      detail: expect.stringMatching(/^topics\/ecommerce\.public\.rekey_canary\/partition=0\//),
    });
    expect(step('still-writing')?.detail).toMatch(/rekey_canary/);
    expect(step('fresh-object')).toBeUndefined();
    // the archive holds only canaries, each written with the new key: none before the switch, none refused
    expect(world.objects.length).toBeGreaterThanOrEqual(2);
    expect(world.objects.every((o) => o.marker === `rekey-${handle.firstExecutionRunId}`)).toBe(true);
    expect(world.canaryRows.size).toBe(0);
    expect(world.keys.has(oldKey)).toBe(false);
  });

  // a failure in each phase: compensations run newest first and leave the old key the only one, active, in the secret and the sink
  const failing: Array<[string, string[], number?]> = [
    ['createStagedAccessKey', ['create-key']],
    ['promoteAwsCredential', ['promote', 'create-key']],
    ['restartConnector', ['promote', 'create-key']],
    ['waitCanaryArchived', ['canary-write', 'promote', 'create-key']],
    ['waitAccessKeyUsedSince', ['canary-write', 'promote', 'create-key']],
    ['setAccessKeyStatus', ['deactivate-old-key', 'canary-write', 'promote', 'create-key']],
    ['watchOldKeyUnused', ['canary-write', 'promote', 'create-key']],
    ['waitConnectorRunning', ['deactivate-old-key', 'canary-write', 'promote', 'create-key'], 1],
    ['waitCanaryArchived', ['deactivate-old-key', 'canary-write', 'promote', 'create-key'], 1],
  ];
  for (const [activity, undone, skip] of failing) {
    it(`rolls back newest first when ${activity}${skip ? ` (call ${skip + 1})` : ''} fails`, async () => {
      const world = w.newWorld();
      const oldKey = world.oldKey;
      world.failTimes(activity, 1, skip ?? 0); // the forward call fails once; its compensation (maybe the same activity) then works
      const handle = await start(world);
      const cause = await failureOf(handle);
      expect(cause?.type).toBe('RotationRolledBack');
      expect(cause?.message).toContain(`stub failure in ${activity}`);
      const p = await handle.query(progressQuery);
      expect(p.steps.filter((s) => s.outcome === 'compensated').map((s) => s.name)).toEqual(
        undone.map((u) => `undo:${u}`),
      );
      only(world, oldKey);
      expect(world.canaryRows.size).toBe(0);
    });
  }

  for (const m of ['moto', 'aws'] as const) {
    it(`someone else still uses the old key (${m}): the watch, before the deactivation, sees it; OldKeyStillUsed rolls back and the other client was never refused`, async () => {
      mode = m;
      const world = w.newWorld();
      mode = 'moto';
      const oldKey = world.oldKey;
      world.otherClient = { ...world.live };
      const handle = await start(world);
      const cause = await failureOf(handle);
      expect(cause?.type).toBe('RotationRolledBack');
      expect(cause?.message).toMatch(
        new RegExp(`OldKeyStillUsed: access key ${oldKey} was used at .*: something besides the sink still uses it`),
      );
      expect(
        (await handle.query(progressQuery)).steps.filter((s) => s.outcome === 'compensated').map((s) => s.name),
      ).toEqual(['undo:canary-write', 'undo:promote', 'undo:create-key']);
      // on AWS an Inactive key is refused: a watch after the deactivation would have seen nothing, and broken this client
      expect(world.otherDenied).toEqual([]);
      only(world, oldKey);
    });
  }

  it('IAM is eventually consistent: S3 accepts the new key before the sink gets it, and a reactivated old key before the sink goes back to it', async () => {
    mode = 'aws';
    const world = w.newWorld();
    world.propagation = 3; // each new or reactivated key is refused 3 times
    const done = (await (await start(world, { gracePeriod: 'PT6H' })).result()) as RotationResult;
    expect(done.status).toBe('completed');
    expect(done.steps.find((s) => s.name === 'new-key-accepted')).toMatchObject({
      outcome: 'ok',
      detail: expect.stringMatching(/^S3 accepts AKIA/),
    });
    only(world, done.to!); // the sink was never refused

    const back = w.newWorld();
    mode = 'moto';
    back.propagation = 3;
    const oldKey = back.oldKey;
    expect((await failureOf(await start(back, { injectFailure: 'old-key-unused' })))?.type).toBe('RotationRolledBack');
    only(back, oldKey); // reactivated, accepted, then the sink moved back: never refused
  });

  it('a sink task that FAILED on the switch is restarted by the wait instead of rolling the rotation back', async () => {
    const world = w.newWorld();
    world.refusalsAfterAccepted = 1; // one S3 endpoint has not seen the key yet when the sink first signs with it
    const done = (await (await start(world, { gracePeriod: 'PT6H' })).result()) as RotationResult;
    expect(done.status).toBe('completed');
    expect(world.denied).toHaveLength(1); // refused once, its task restarted, then writing
    expect(world.state()).toMatchObject({ secret: done.to, keys: [`${done.to}:Active`], sink: done.to });
  });

  it('a rollback drill after the switch was proven undoes it', async () => {
    const world = w.newWorld();
    const oldKey = world.oldKey;
    expect((await failureOf(await start(world, { injectFailure: 'switch-proven' })))?.type).toBe('RotationRolledBack');
    only(world, oldKey);
  });

  it('rollback signal during grace: the old key active again and back in the secret and the sink, the new key deleted', async () => {
    const world = w.newWorld();
    const oldKey = world.oldKey;
    const handle = await start(world, { gracePeriod: 'PT2H' });
    const grace = await waitFor(handle, (p) => p.phase === 'grace', 'grace');
    expect(grace.rollbackWouldUndo.map((u) => u.step)).toEqual([
      'deactivate-old-key',
      'canary-write',
      'promote',
      'create-key',
    ]);
    expect(world.state()).toMatchObject({
      secret: grace.to,
      keys: [`${oldKey}:Inactive`, `${grace.to}:Active`],
      sink: grace.to,
      backup: true,
    });
    await handle.signal(rollbackSignal, { reason: 'a batch job still has the old key', by: 'test' });
    expect(((await handle.result()) as RotationResult).status).toBe('rolled-back');
    only(world, oldKey);
  });

  it('cancel during grace: rolled back', async () => {
    const world = w.newWorld();
    const oldKey = world.oldKey;
    const handle = await start(world, { gracePeriod: 'PT2H' });
    await waitFor(handle, (p) => p.phase === 'grace', 'grace');
    await handle.cancel();
    await handle.result().catch(() => undefined);
    only(world, oldKey);
  });

  it('a failing compensation parks in needs-attention; retry finishes the rollback', async () => {
    const world = w.newWorld();
    const oldKey = world.oldKey;
    world.failTimes('waitAccessKeyUsedSince', 1);
    world.failTimes('restoreAwsCredential', 1);
    const handle = await start(world);
    const parked = await waitFor(handle, (p) => p.phase === 'needs-attention', 'needs-attention');
    expect(parked.attention).toMatchObject({
      step: 'undo:promote',
      error: expect.stringContaining('stub failure in restoreAwsCredential'),
    });
    await handle.signal(retrySignal, { by: 'test' });
    expect((await failureOf(handle))?.type).toBe('RotationRolledBack');
    only(world, oldKey);
  });

  it('cleanup never rolls back: a failed deletion parks, rollback is refused, retry completes it', async () => {
    const world = w.newWorld();
    world.failTimes('deleteAccessKey', 1);
    const handle = await start(world, { gracePeriod: 'PT1H' });
    await waitFor(handle, (p) => p.phase === 'grace', 'grace');
    await handle.signal(cleanupNowSignal, { by: 'test' });
    const parked = await waitFor(handle, (p) => p.phase === 'needs-attention', 'needs-attention');
    expect(parked.attention).toMatchObject({ step: 'delete-old-key' });
    await handle.signal(rollbackSignal, { reason: 'too late', by: 'test' });
    await waitFor(
      handle,
      (p) => p.steps.some((s) => s.name === 'signal:rollback' && s.outcome === 'ignored'),
      'refused rollback',
    );
    await handle.signal(retrySignal, { by: 'test' });
    const result = (await handle.result()) as RotationResult;
    expect(result.status).toBe('completed');
    only(world, result.to!);
  });

  it('one rotation per IAM user: a run on another secret of the same user is refused before it changes anything while the first holds the user', async () => {
    const world = w.newWorld();
    const release = world.gate('createStagedAccessKey'); // the first holds the user, its second key not created yet
    const first = await start(world, { gracePeriod: 'PT1M' });
    await waitFor(
      first,
      (p) => p.steps.some((s) => s.name === 'create-key' && s.outcome === 'running'),
      'first creating its key',
    );
    // the activity itself entered (and is held at) the gate: its call is on record before we count
    await world.reached('createStagedAccessKey');
    const before = world.calls.length;
    // the same user behind another secret (the stub world answers for any secret: pre-flight passes, the lease refuses)
    const other = await env.client.workflow.start(rotateAwsAccessKeys, {
      taskQueue: w.taskQueue,
      workflowId: rotationWorkflowId('aws-keys', 'other-secret'),
      args: [{ target: 'stub', requestedBy: 'workflow-test', user: world.user, secret: 'other-secret' }],
    });
    const cause = await failureOf(other);
    const meanwhile = world.calls.slice(before);
    release();
    expect(cause?.type).toBe('WorkloadBusy');
    expect(cause?.message).toMatch(
      new RegExp(`^iam-user/${world.user} is busy: another procedure holds lease/iam-user/${world.user}`),
    );
    expect(meanwhile.filter((c) => ![...readOnly, 'accessKeyLastUsed', 'appendAudit'].includes(c))).toEqual([]); // its pre-flight's reads only
    expect(((await first.result()) as RotationResult).status).toBe('completed');
    only(world, (await first.query(progressQuery)).to!);
  });

  it('refuses a run under a workflow id that is not the resource id, before changing anything', async () => {
    const world = w.newWorld();
    const cause = await failureOf(await start(world, {}, `my-rotation-${world.secret}`));
    expect(cause?.type).toBe('NonCanonicalWorkflowId');
    expect(cause?.message).toContain(`rotate-aws-keys/${world.secret}`);
    expect(world.calls).toEqual([]);
  });

  it('bad input is rejected by the worker naming the field, before anything runs', async () => {
    for (const [input, message] of [
      [{ watchSeconds: 5 }, /watchSeconds: /],
      [{ user: 'bad user!' }, /user: must be an IAM user name/],
      [{ bucket: 'Bad_Bucket' }, /bucket: must be an S3 bucket name/],
      [{ gracePeriod: 'PT0S' }, /gracePeriod: must be longer than zero/],
      [{ gracePeriod: 'P31D' }, /gracePeriod: must be at most P30D/],
    ] as Array<[Partial<AwsKeysRotationInput>, RegExp]>) {
      const world = w.newWorld();
      const cause = await failureOf(await start(world, input));
      expect(cause?.type).toBe('InvalidInput');
      expect(cause?.message).toMatch(message);
      expect(world.calls).toEqual([]);
    }
  });
});

describe('AWS access-key input, pre-flight and errors (pure)', () => {
  const fieldsOf = (raw: unknown) => {
    try {
      parseAwsKeysInput(raw);
      return [];
    } catch (err) {
      return (err as InvalidInputError).issues.map((i) => i.field);
    }
  };

  it('fills defaults: the sink user, its secret, connector and bucket, 7 days of grace, a 60 s watch, no deletion of a second key', () => {
    expect(parseAwsKeysInput({ target: 'ecommerce' })).toMatchObject({
      secret: 'aws-credentials',
      user: 'datapipe-s3-user',
      connector: 's3-sink-connector',
      bucket: 'datapipe-archive',
      prefix: 'topics/',
      gracePeriod: 'P7D',
      watchSeconds: 60,
      deleteInactiveKey: false,
      dryRun: false,
    });
  });

  it('names every bad field; unknown fields, short force reasons and unknown drills are refused', () => {
    expect(fieldsOf({ target: 't', watchSeconds: 901, secretAccessKey: 'x' })).toEqual(['watchSeconds', '(input)']);
    expect(fieldsOf({ target: 't', prefix: 'topics/\n', force: { reason: 'quiet' } })).toEqual([
      'prefix',
      'force.reason',
    ]);
    expect(fieldsOf({ target: 't', injectFailure: 'stage' })).toEqual(['injectFailure']);
    expect(fieldsOf({ target: 't', injectFailure: 'old-key-unused', watchSeconds: 900 })).toEqual([]);
  });

  it('only an Inactive second key that the secret does not hold is deleted, and only with the flag', () => {
    const key = (accessKeyId: string, status: string) => ({ accessKeyId, status, createDate: '2026-01-01T00:00:00Z' });
    const facts = (other: string, flag: boolean) => ({
      keys: [key('AKIAOLD', other), key('AKIACUR', 'Active')],
      secretKey: 'AKIACUR',
      deleteInactiveKey: flag,
    });
    expect(inactiveKeyToDelete(facts('Inactive', true))).toBe('AKIAOLD');
    expect(inactiveKeyToDelete(facts('Inactive', false))).toBeNull();
    expect(inactiveKeyToDelete(facts('Active', true))).toBeNull();
    expect(
      inactiveKeyToDelete({
        keys: [key('AKIAOLD', 'Inactive'), key('AKIAX', 'Inactive')],
        secretKey: 'AKIACUR',
        deleteInactiveKey: true,
      }),
    ).toBeNull();
    const checks = evaluateAwsPreflight(
      {
        user: 'u',
        ...facts('Inactive', true),
        connector: { state: 'RUNNING', tasks: [{ id: 0, state: 'RUNNING' }] },
        recentObject: { key: 'k', lastModified: 't' },
      },
      { secret: 's', bucket: 'b', prefix: 'p/', windowMinutes: 5 },
    );
    expect(checks.filter((c) => !c.ok)).toEqual([]);
  });

  it("a new key's use counts from the minute it was created on (AWS reports LastUsedDate to the minute)", () => {
    expect(beforeReportedMinute('2026-12-06T02:00:42.123Z')).toBe('2026-12-06T01:59:59.999Z');
    expect(beforeReportedMinute('')).toBe('1970-01-01T00:00:00.000Z');
  });

  it('classifies AWS errors: throttling and 5xx retried; not found, denied, the key limit and other 4xx not', () => {
    const e = (name: string, status?: number) =>
      Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status } });
    const f = (name: string, status?: number) => awsFailure('IAM X', e(name, status));
    expect([f('NoSuchEntityException', 404).type, f('NoSuchEntityException', 404).nonRetryable]).toEqual([
      'AwsNotFound',
      true,
    ]);
    expect([
      f('LimitExceededException', 409).type,
      f('AccessDenied', 403).type,
      f('InvalidClientTokenId', 403).type,
    ]).toEqual(['AccessKeyLimitExceeded', 'AwsAccessDenied', 'AwsAccessDenied']);
    expect([
      f('Throttling', 400).nonRetryable,
      f('ServiceFailure', 500).nonRetryable,
      f('TimeoutError').nonRetryable,
      f('ValidationError', 400).nonRetryable,
    ]).toEqual([false, false, false, true]);
    expect(f('Throttling', 400).message).toBe('IAM X: Throttling (HTTP 400): Throttling happened');
  });
});
