import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { rotateCertificateAuthority } from '../../workflows/certificates/authority.js';
import type { CaRotationInput } from '../../contracts/input/caRotation.js';
import {
  cleanupNowSignal,
  rollbackSignal,
  rotationWorkflowId,
  type RotationResult,
} from '../../workflows/rotation/index.js';
import { CaStubWorld } from './caStubWorld.js';
import {
  failureOf,
  patchesRightAfterLocalActivity,
  timeSkippingOrStackEnv,
  waitFor,
  worldWorker,
  expectRunFollowsPlan,
} from './harness.js';

let env: TestWorkflowEnvironment;
/** Worlds are made on the test server's clock (time skipping moves it): see newWorld below. */
let clock = Date.now();
let w: Awaited<ReturnType<typeof worldWorker<CaStubWorld>>>;
beforeAll(async () => {
  env = await timeSkippingOrStackEnv();
  w = await worldWorker(env, (n) => new CaStubWorld(`ca-${n}`, clock));
});
afterAll(async () => {
  await w?.stop();
  await env?.teardown();
});

const newWorld = async () => {
  clock = await env.currentTimeMs();
  return w.newWorld();
};
const start = (world: CaStubWorld, input: Partial<CaRotationInput> = {}, workflowId?: string) =>
  env.client.workflow.start(rotateCertificateAuthority, {
    taskQueue: w.taskQueue,
    workflowId: workflowId ?? rotationWorkflowId('ca', world.caSecret),
    args: [{ requestedBy: 'workflow-test', gracePeriod: 'PT3S', ...input, caSecret: world.caSecret }],
  });
const steps = (r: RotationResult) =>
  r.steps.filter((s) => !s.name.startsWith('signal:')).map((s) => `${s.name}:${s.outcome}`);

/** The old CA trusted and served everywhere, and nothing of the attempt left in the store. */
function expectOldCaEverywhere(world: CaStubWorld, oldCa: string, names: string[]) {
  expect(world.ca(world.caSecret)!.fingerprint).toBe(oldCa);
  for (const s of world.state()) expect(s).toMatchObject({ servedIssuer: oldCa, secretIssuer: oldCa, bundle: [oldCa] });
  expect(world.names()).toEqual(names);
}

describe('CA rotation with stub activities', () => {
  it('replaces the CA: both trusted in grace, every certificate reissued and served from the new CA, then the old CA leaves every bundle; steps follow the dry-run plan; no key in history', async () => {
    const dryWorld = await newWorld();
    const dry = (await (
      await start(dryWorld, { dryRun: true }, `rotate-ca/${dryWorld.caSecret}/dry-run/t`)
    ).result()) as RotationResult;
    expect(dry.status).toBe('dry-run');
    expect(
      dryWorld.calls.filter(
        (c) =>
          ![
            'describeCertificateAuthority',
            'scanManagedCertificates',
            'serviceEndpoint',
            'verifyServedCertificate',
          ].includes(c),
      ),
    ).toEqual([]);
    expect(dry.plan!.map((s) => s.name)).toEqual(
      expect.arrayContaining([
        'create-ca',
        'trust-new-ca:postgres-tls',
        'reissue:postgres-tls',
        'promote-ca',
        'grace',
        'distrust-old-ca:postgres-tls',
        'verify-old-ca-gone',
      ]),
    );

    const world = await newWorld();
    const oldCa = world.ca(world.caSecret)!.fingerprint;
    const names = world.names();
    const handle = await start(world, { gracePeriod: 'PT24H' });
    const inGrace = await waitFor(handle, (p) => p.phase === 'grace', 'grace');
    const newCa = inGrace.to!;
    // in grace: served from the new CA, every bundle holds both
    for (const s of world.state())
      expect(s).toMatchObject({ servedIssuer: newCa, secretIssuer: newCa, bundle: [oldCa, newCa] });
    await handle.signal(cleanupNowSignal, { by: 'test' });
    const result = (await handle.result()) as RotationResult;
    expect(result).toMatchObject({ status: 'completed', procedure: 'ca', from: oldCa, to: newCa });
    expect(world.ca(world.caSecret)!.fingerprint).toBe(newCa);
    for (const s of world.state())
      expect(s).toMatchObject({ servedIssuer: newCa, secretIssuer: newCa, bundle: [newCa] });
    expect(world.names()).toEqual(names);
    // every restart of Connect or the registry (trust, reissue, distrust) was followed by restarting the task it failed
    expect(world.failedTasks).toEqual([]);
    // the grace period is a phase (progress, search attribute), not a step
    expect(steps(result).every((s) => s.endsWith(':ok'))).toBe(true);
    expectRunFollowsPlan(dry.plan!, result.steps);
    const events = await handle.fetchHistory();
    // every patch decided before the plan's local activity (else a replaying worker can fail on it)
    expect(patchesRightAfterLocalActivity(events)).toEqual([]);
    const history = JSON.stringify(events);
    for (const key of world.keys)
      expect(`${history}${JSON.stringify(result)}${JSON.stringify(world.audit)}`).not.toContain(key);
  });

  const drills = ['create-ca', 'trust-new-ca', 'reissue', 'promote-ca'] as const;
  for (const drill of drills) {
    it(`rolls back after ${drill} (drill): the old CA trusted and served everywhere, nothing staged left`, async () => {
      const world = await newWorld();
      const oldCa = world.ca(world.caSecret)!.fingerprint;
      const names = world.names();
      const failure = await failureOf(await start(world, { injectFailure: drill }));
      expect(failure).toMatchObject({ type: 'RotationRolledBack' });
      expect(failure!.message).toMatch(new RegExp(`failure injected after step ${drill}`));
      expectOldCaEverywhere(world, oldCa, names);
    });
  }

  it('rolls back when a service refuses the new CA’s certificate: the child undoes itself, the bundles lose the new CA', async () => {
    const world = await newWorld();
    world.refuseNewCa = true;
    const oldCa = world.ca(world.caSecret)!.fingerprint;
    const names = world.names();
    const failure = await failureOf(await start(world));
    expect(failure!.message).toMatch(/rotation rolled back: .*refuses a certificate/);
    expectOldCaEverywhere(world, oldCa, names);
  });

  it('rolls back on an operator’s signal during grace: certificates from the old CA again, the old CA restored', async () => {
    const world = await newWorld();
    const oldCa = world.ca(world.caSecret)!.fingerprint;
    const names = world.names();
    const handle = await start(world, { gracePeriod: 'PT24H' });
    await waitFor(handle, (p) => p.phase === 'grace', 'grace');
    await handle.signal(rollbackSignal, { reason: 'a client does not trust the new CA', by: 'test' });
    const result = (await handle.result()) as RotationResult;
    expect(result.status).toBe('rolled-back');
    expectOldCaEverywhere(world, oldCa, names);
    expect(result.steps.map((s) => s.name)).toEqual(
      expect.arrayContaining([
        'undo:reissue:postgres-tls',
        'undo:promote-ca',
        'undo:trust-new-ca:postgres-tls',
        'undo:create-ca',
      ]),
    );
  });

  it('refuses before anything changes: a staged CA from another rotation, an unreadable certificate, bad input (named field)', async () => {
    const world = await newWorld();
    world.secrets.set(`${world.caSecret}-pending`, { kind: 'ca', ca: world.ca(world.caSecret)!, rotationId: 'other' });
    const f1 = await failureOf(await start(world));
    expect(f1).toMatchObject({ type: 'PreflightFailed' });
    expect(f1!.message).toMatch(/nothing was changed: another CA rotation left staged versions/);
    expect(world.calls).not.toContain('stagePendingAuthority');

    const world2 = await newWorld();
    world2.secrets.delete(world2.refs[0]!.secret);
    expect((await failureOf(await start(world2)))!.message).toMatch(
      /pre-flight failed, nothing was changed: secret postgres-tls not found/,
    );

    const world3 = await newWorld();
    const f3 = await failureOf(await start(world3, { gracePeriod: 'P90D' }));
    expect(f3).toMatchObject({ type: 'InvalidInput' });
    expect(f3!.message).toMatch(/gracePeriod: must be at most P30D/);
  });
});
