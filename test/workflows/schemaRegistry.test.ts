import { emergencyOrder } from '../../contracts/procedures.js';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { rotateSchemaRegistryCredentials } from '../../workflows/schemaRegistry/workflow.js';
import {
  parseSchemaRegistryInput,
  registryUserName,
  type InvalidInputError,
  type SchemaRegistryRotationInput,
} from '../../contracts/input/schemaRegistry.js';
import { evaluateRegistryPreflight } from '../../workflows/schemaRegistry/preflight.js';
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
import { emergencyRotateAll, type EmergencyResult } from '../../workflows/emergency/rotateAll.js';
import { RegistryStubWorld } from './registryStubWorld.js';

let env: TestWorkflowEnvironment;
let w: Awaited<ReturnType<typeof worldWorker<RegistryStubWorld>>>;
beforeAll(async () => {
  env = await timeSkippingEnv();
  w = await worldWorker(env, (n) => new RegistryStubWorld(`sr-auth-${n}-${randomBytes(2).toString('hex')}`));
});
afterAll(async () => {
  await w?.stop();
  await env?.teardown();
});

const start = (world: RegistryStubWorld, input: Partial<SchemaRegistryRotationInput> = {}, workflowId?: string) =>
  env.client.workflow.start(rotateSchemaRegistryCredentials, {
    taskQueue: w.taskQueue,
    workflowId: workflowId ?? rotationWorkflowId('schema-registry', world.secret),
    args: [{ target: 'stub', requestedBy: 'workflow-test', ...input, secret: world.secret }],
  });

/** The registry accepts exactly `user`, the client uses it, nothing staged or backed up is left, and no client ever got a 401. */
const only = (world: RegistryStubWorld, user: string) =>
  expect(world.state()).toEqual({
    current: user,
    next: null,
    previous: null,
    pending: false,
    backup: false,
    accepted: [user],
    client: user,
    canaries: 0,
    unauthorized: [],
  });

const readOnly = [
  'describeRegistryAccount',
  'connectorStatus',
  'registryAuth',
  'registryCompatibility',
  'registryAccountClients',
  'registryAccessLogMark',
  'registryRequestsBy',
];

describe('Schema Registry rotation with stub activities', () => {
  it('emergency rotate-all rotates every registry account by default (developer, admin, probe), one after another, in compromise mode', async () => {
    const world = w.newWorld();
    const accounts: string[] = [];
    const acts = world.activities.bind(world);
    world.activities = (testHooks?: boolean) => {
      const a = acts(testHooks) as unknown as Record<string, (input: { account?: string }) => Promise<unknown>>;
      const describe = a.describeRegistryAccount!;
      a.describeRegistryAccount = (input) => (accounts.push(input.account!), describe(input));
      return a as never;
    };
    const handle = await env.client.workflow.start(emergencyRotateAll, {
      taskQueue: w.taskQueue,
      workflowId: `emergency-rotate-all/${world.secret}`,
      args: [
        {
          reason: 'registry credentials leaked in a ticket',
          requestedBy: 'test',
          target: 'stub',
          // this world has the registry procedure's activities only
          skip: emergencyOrder.filter((p) => p !== 'schema-registry'),
          inputs: { 'schema-registry': { secret: world.secret } },
        },
      ],
    });
    const report = (await handle.result()) as EmergencyResult;
    expect(report.rotations.filter((r) => r.procedure === 'schema-registry').map((r) => [r.account, r.status])).toEqual(
      [
        ['developer', 'completed'],
        ['admin', 'completed'],
        ['probe', 'completed'],
      ],
    );
    expect([...new Set(accounts)]).toEqual(['developer', 'admin', 'probe']);
  });

  it('a scheduled run ends its grace inside the maintenance window (phase 3 restarts the registry): a later day, same hours, not gracePeriod after the switch', async () => {
    const world = w.newWorld();
    const now = await env.currentTimeMs();
    const window = { opensAt: new Date(now).toISOString(), switchBy: new Date(now + 2 * 3_600_000).toISOString() };
    const handle = await start(world, { gracePeriod: 'PT3H', maintenanceWindow: window });
    const grace = await waitFor(handle, (p) => p.phase === 'grace', 'grace');
    // 3 h after the switch is past today's window: grace ends when tomorrow's opens
    expect(grace.graceEndsAt).toBe(new Date(now + 86_400_000).toISOString());
    await handle.signal(cleanupNowSignal, {});
    expect(((await handle.result()) as RotationResult).status).toBe('completed');
  });

  it('completes: the registry accepts only the new user, the client uses it, the store is clean; steps follow the dry-run plan', async () => {
    const dryWorld = w.newWorld();
    const dry = (await (
      await start(dryWorld, { dryRun: true }, `rotate-schema-registry/${dryWorld.secret}/dry-run/t`)
    ).result()) as RotationResult;
    expect(dry.status).toBe('dry-run');
    expect(dryWorld.calls.filter((c) => !readOnly.includes(c))).toEqual([]);
    only(dryWorld, dryWorld.oldUser);
    expect(dry.plan!.find((s) => s.name === 'accept-user')!.undo).toMatch(/remove developer-next-\*/);

    const world = w.newWorld();
    const handle = await start(world, { gracePeriod: 'PT6H', clientWatch: 'PT4S' });
    const result = (await handle.result()) as RotationResult;
    expect(result).toMatchObject({ status: 'completed', procedure: 'schema-registry', from: 'developer' });
    // after each of the two registry restarts, failing tasks are watched for as long as the input says
    expect(world.clientWatches).toEqual([4000, 4000]);
    // the registry's side: nobody on the old user after the switch, the converter on the new one while the canary passed
    expect(result.steps.find((s) => s.name === 'registry-saw-switch')).toMatchObject({
      outcome: 'ok',
      detail: `0 request(s) as developer since the switch, 1 as ${result.to} while the canary passed`,
    });
    expect(result.steps.find((s) => s.name === 'old-user-idle')).toMatchObject({
      outcome: 'ok',
      detail: 'no request as developer since the switch',
    });
    expect(result.to).toMatch(/^developer_\d{8}_\d{4}$/);
    only(world, result.to!);
    expectRunFollowsPlan(dry.plan!, result.steps);
    expect(result.steps.find((s) => s.name === 'old-user-refused')).toMatchObject({
      outcome: 'ok',
      detail: expect.stringMatching(/^developer: HTTP 401/),
    });
    expect(world.audit.map((e) => e.action)).toEqual(
      expect.arrayContaining([
        'rotation_started',
        'stage-user',
        'accept-user',
        'promote',
        'old_user_refused',
        'rotate_credentials',
      ]),
    );
    expect(world.audit[0]!.eventId).toMatch(new RegExp(`^rotate-schema-registry/${world.secret}/[0-9a-f-]{36}#1$`));
    expect(world.audit.every((e) => e.component === 'schema_registry')).toBe(true);
    // names, users and fingerprints only: no password in history, result or audit
    const events = await handle.fetchHistory();
    // every patch decided before the plan's local activity (else a replaying worker can fail on it)
    expect(patchesRightAfterLocalActivity(events)).toEqual([]);
    const history = JSON.stringify(events);
    for (const p of world.passwords)
      expect(`${history}${JSON.stringify(result)}${JSON.stringify(world.audit)}`).not.toContain(p);
  });

  it('moves every connector that authenticates as the account, not only plan.connector; a rollback moves them all back', async () => {
    const world = w.newWorld();
    world.otherClients.set('s3-sink-connector', world.client);
    const result = (await (await start(world, { gracePeriod: 'PT1M' })).result()) as RotationResult;
    expect(result.status).toBe('completed');
    expect(world.otherClients.get('s3-sink-connector')!.user).toBe(result.to);
    expect(result.steps.find((s) => s.name === 'restart-tasks')!.detail).toBe(
      'postgres-cdc-users-connector, s3-sink-connector',
    );

    const drill = w.newWorld();
    drill.otherClients.set('s3-sink-connector', drill.client);
    const cause = await failureOf(await start(drill, { gracePeriod: 'PT1H', injectFailure: 'canary-read-back' }));
    expect(cause?.type).toBe('RotationRolledBack');
    expect(drill.otherClients.get('s3-sink-connector')!.user).toBe(drill.oldUser);
  });

  it('the registry’s access log decides: a client still on the old user after the switch rolls it back; one that shows up in grace parks the cleanup; without a log the proof is skipped', async () => {
    const stray = w.newWorld();
    stray.stray = stray.client;
    const cause = await failureOf(await start(stray, { gracePeriod: 'PT1H' }));
    expect(cause?.type).toBe('RotationRolledBack');
    expect(JSON.stringify(cause)).toMatch(
      /the registry still authenticates a client as developer: 1 request\(s\) as developer since the switch/,
    );
    only(stray, stray.oldUser);

    const late = w.newWorld();
    const handle = await start(late, { gracePeriod: 'PT1H' });
    await waitFor(handle, (p) => p.phase === 'grace', 'grace');
    late.accessLog!.push(late.oldUser); // a client rekey does not know of, on the old user
    await handle.signal(cleanupNowSignal, { by: 'test' });
    const parked = await waitFor(handle, (p) => p.phase === 'needs-attention', 'needs-attention');
    expect(parked.attention).toMatchObject({
      step: 'old-user-idle',
      error: expect.stringContaining('a client still uses it'),
    });
    expect(late.accepts(late.live.previous!)).toBe(true); // still accepted: nobody was cut off
    await handle.terminate('test done');

    const blind = w.newWorld();
    blind.accessLog = null;
    const result = (await (await start(blind, { gracePeriod: 'PT1M' })).result()) as RotationResult;
    expect(result.steps.find((s) => s.name === 'registry-saw-switch')).toMatchObject({
      outcome: 'skipped',
      detail: 'no registry access log configured (REKEY_REGISTRY_ACCESS_LOG)',
    });
  });

  it('pre-flight: a refused user, weak compatibility or a half-done rotation stops it before anything changes', async () => {
    const cases: Array<[string, (x: RegistryStubWorld) => void, RegExp]> = [
      ['refused', (x) => (x.accepted = []), /registry accepts the current user: saw developer: HTTP 401/],
      [
        'compatibility',
        (x) => (x.subjects[0]!.level = 'NONE'),
        /compatibility: saw ecommerce\.public\.orders-value: NONE/,
      ],
      ['no subjects', (x) => (x.subjects = []), /subjects registered: saw 0 subject\(s\)/],
      [
        'half done',
        (x) => (x.live.previous = { user: 'developer_20260101_0000', password: 'p' }),
        /no rotation half-done: saw developer-previous-user = developer_20260101_0000/,
      ],
      [
        'literal user',
        (x) => (x.literalClients = ['legacy-sink']),
        /clients read the secret: saw restarted onto the new user: postgres-cdc-users-connector; with developer written into their config: legacy-sink/,
      ],
    ];
    for (const [, spoil, message] of cases) {
      const world = w.newWorld();
      spoil(world);
      const before = JSON.stringify(world.state());
      const cause = await failureOf(await start(world));
      expect(cause?.type).toBe('PreflightFailed');
      expect(cause?.message).toMatch(message);
      expect(world.calls.filter((c) => !readOnly.includes(c))).toEqual([]);
      expect(JSON.stringify(world.state())).toBe(before);
    }
  });

  it('a forced run goes past a failed check and records why', async () => {
    const world = w.newWorld();
    world.subjects.push({ subject: 'ecommerce.public.legacy-value', level: 'NONE' });
    const result = (await (
      await start(world, { gracePeriod: 'PT1H', force: { reason: 'legacy subject is frozen, never written' } })
    ).result()) as RotationResult;
    expect(result.status).toBe('completed');
    expect(world.audit.find((e) => e.action === 'preflight_forced')?.detail).toMatch(
      /compatibility: saw ecommerce\.public\.legacy-value: NONE.*reason: legacy subject is frozen/,
    );
  });

  // a failure in each phase: compensations run newest first and leave the old user the only one, used by the client
  const failing: Array<[string, string[]]> = [
    ['stageRegistryUser', ['stage-user']],
    ['acceptRegistryUser', ['accept-user', 'stage-user']],
    ['restartRegistry', ['accept-user', 'stage-user']],
    ['waitRegistryAuth', ['accept-user', 'stage-user']],
    ['promoteRegistryUser', ['promote', 'accept-user', 'stage-user']],
    ['restartConnector', ['promote', 'accept-user', 'stage-user']],
    ['registryLookup', ['promote', 'accept-user', 'stage-user']],
    ['writeCanary', ['canary-write', 'promote', 'accept-user', 'stage-user']],
    ['awaitCanaryEvent', ['canary-write', 'promote', 'accept-user', 'stage-user']],
  ];
  for (const [activity, undone] of failing) {
    it(`rolls back newest first when ${activity} fails`, async () => {
      const world = w.newWorld();
      world.failTimes(activity, 1); // the forward call fails once; its compensation (maybe the same activity) then works
      const handle = await start(world);
      const cause = await failureOf(handle);
      expect(cause?.type).toBe('RotationRolledBack');
      expect(cause?.message).toContain(`stub failure in ${activity}`);
      const p = await handle.query(progressQuery);
      expect(p.steps.filter((s) => s.outcome === 'compensated').map((s) => s.name)).toEqual(
        undone.map((u) => `undo:${u}`),
      );
      only(world, world.oldUser);
    });
  }

  it('a rollback drill after both users are accepted undoes phase 1, restarting the registry without the new user', async () => {
    const world = w.newWorld();
    const cause = await failureOf(await start(world, { injectFailure: 'both-accepted' }));
    expect(cause?.type).toBe('RotationRolledBack');
    expect(world.calls.filter((c) => c === 'restartRegistry')).toHaveLength(2);
    only(world, world.oldUser);
  });

  it('rollback signal during grace: clients back on the old user, the registry accepts only it', async () => {
    const world = w.newWorld();
    const handle = await start(world, { gracePeriod: 'PT2H' });
    const grace = await waitFor(handle, (p) => p.phase === 'grace', 'grace');
    expect(grace.rollbackWouldUndo.map((u) => u.step)).toEqual([
      'canary-write',
      'promote',
      'accept-user',
      'stage-user',
    ]);
    expect(world.state()).toMatchObject({
      accepted: [world.oldUser, grace.to].sort(),
      client: grace.to,
      previous: world.oldUser,
    });
    await handle.signal(rollbackSignal, { reason: 'a client still sends the old password', by: 'test' });
    expect(((await handle.result()) as RotationResult).status).toBe('rolled-back');
    only(world, world.oldUser);
  });

  it('cancel during grace: rolled back', async () => {
    const world = w.newWorld();
    const handle = await start(world, { gracePeriod: 'PT2H' });
    await waitFor(handle, (p) => p.phase === 'grace', 'grace');
    await handle.cancel();
    await handle.result().catch(() => undefined);
    only(world, world.oldUser);
  });

  it('a failing compensation parks in needs-attention; retry finishes the rollback', async () => {
    const world = w.newWorld();
    world.failTimes('registryLookup', 1);
    world.failTimes('restoreRegistryBackup', 1);
    const handle = await start(world);
    const parked = await waitFor(handle, (p) => p.phase === 'needs-attention', 'needs-attention');
    expect(parked.attention).toMatchObject({
      step: 'undo:promote',
      error: expect.stringContaining('stub failure in restoreRegistryBackup'),
    });
    await handle.signal(retrySignal, { by: 'test' });
    expect((await failureOf(handle))?.type).toBe('RotationRolledBack');
    only(world, world.oldUser);
  });

  it('a failure in phase 3 never rolls back: it parks, rollback is refused, retry completes the removal', async () => {
    const world = w.newWorld();
    world.failTimes('forgetRegistryUser', 1);
    const handle = await start(world, { gracePeriod: 'PT1H' });
    await waitFor(handle, (p) => p.phase === 'grace', 'grace');
    await handle.signal(cleanupNowSignal, { by: 'test' });
    const parked = await waitFor(handle, (p) => p.phase === 'needs-attention', 'needs-attention');
    expect(parked.attention).toMatchObject({ step: 'forget-old-user' });
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

  it('refuses a run under a workflow id that is not the resource id, before changing anything', async () => {
    const world = w.newWorld();
    const cause = await failureOf(await start(world, {}, `my-rotation-${world.secret}`));
    expect(cause?.type).toBe('NonCanonicalWorkflowId');
    expect(cause?.message).toContain(`rotate-schema-registry/${world.secret}`);
    expect(world.calls).toEqual([]);
  });

  it('bad input is rejected by the worker naming the field, before anything runs', async () => {
    for (const [input, message] of [
      [{ registryWaitSeconds: 5 }, /registryWaitSeconds: /],
      [{ account: 'Developer' }, /account: must be a lowercase account name/],
      [{ gracePeriod: 'PT0S' }, /gracePeriod: must be longer than zero/],
      [{ gracePeriod: 'P31D' }, /gracePeriod: must be at most P30D/],
    ] as Array<[Partial<SchemaRegistryRotationInput>, RegExp]>) {
      const world = w.newWorld();
      const cause = await failureOf(await start(world, input));
      expect(cause?.type).toBe('InvalidInput');
      expect(cause?.message).toMatch(message);
      expect(world.calls).toEqual([]);
    }
  });
});

describe('Schema Registry input and pre-flight (pure)', () => {
  const fieldsOf = (raw: unknown) => {
    try {
      parseSchemaRegistryInput(raw);
      return [];
    } catch (err) {
      return (err as InvalidInputError).issues.map((i) => i.field);
    }
  };

  it('fills defaults: the developer account, its secret and connector, 24 h grace, 120 s registry waits', () => {
    expect(parseSchemaRegistryInput({ target: 'ecommerce' })).toMatchObject({
      secret: 'schema-registry-auth',
      account: 'developer',
      userPrefix: 'developer',
      connector: 'postgres-cdc-users-connector',
      subjectPrefix: 'ecommerce.',
      canaryTopic: 'ecommerce.public.rekey_canary',
      slot: 'debezium_slot',
      gracePeriod: 'PT24H',
      registryWaitSeconds: 120,
      clientWatch: 'PT15S',
      dryRun: false,
    });
    expect(parseSchemaRegistryInput({ target: 't', account: 'probe' }).userPrefix).toBe('probe');
  });

  it('names every bad field; unknown fields, short force reasons and unknown drills are refused', () => {
    expect(fieldsOf({ target: 't', registryWaitSeconds: 901, password: 'x' })).toEqual([
      'registryWaitSeconds',
      '(input)',
    ]);
    expect(fieldsOf({ target: 't', force: { reason: 'lag' } })).toEqual(['force.reason']);
    expect(fieldsOf({ target: 't', injectFailure: 'stage' })).toEqual(['injectFailure']);
    expect(fieldsOf({ target: 't', injectFailure: 'both-accepted' })).toEqual([]);
    expect(fieldsOf({ target: 't', clientWatch: 'PT11M' })).toEqual(['clientWatch']);
    expect(fieldsOf({ target: 't', clientWatch: '15s' })).toEqual(['clientWatch']);
    expect(fieldsOf({ target: 't', clientWatch: 'PT0S' })).toEqual([]);
  });

  it('new user names: <prefix>_<yyyymmdd_hhmm> in UTC, seconds added when the name is taken', () => {
    const at = new Date('2026-12-06T02:00:42Z');
    expect(registryUserName('developer', at, ['developer'])).toBe('developer_20261206_0200');
    expect(registryUserName('developer', at, ['developer_20261206_0200', null])).toBe('developer_20261206_020042');
  });

  it('FULL and BACKWARD_TRANSITIVE pass; FORWARD does not', () => {
    const facts = (level: string) => ({
      currentAuth: { user: 'u', status: 200 },
      subjects: [{ subject: 'p.public.users-value', level }],
      connector: { state: 'RUNNING', tasks: [{ id: 0, state: 'RUNNING' }] },
      account: { user: 'u', next: null, previous: null },
    });
    const limits = { account: 'developer', secret: 's', subjectPrefix: 'p.', lookupSubject: 'p.public.users-value' };
    for (const level of ['BACKWARD', 'BACKWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE'])
      expect(evaluateRegistryPreflight(facts(level), limits).filter((c) => !c.ok)).toEqual([]);
    expect(
      evaluateRegistryPreflight(facts('FORWARD'), limits)
        .filter((c) => !c.ok)
        .map((c) => c.check),
    ).toEqual(['compatibility']);
  });
});
