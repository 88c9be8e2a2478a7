import { ApplicationFailure, patched, workflowInfo } from '@temporalio/workflow';
import { legacyRotatePostgresCdcV2 } from '../legacy/rotatePostgresCdcV2.js';
import {
  parseIsoDuration,
  Rotation,
  procedureActivities,
  type RotationResult,
  gatePreflight,
  resolvePlanOnWorker,
  restartStamp,
  proveByCanary,
} from '../rotation/index.js';
import {
  cdcUserName,
  type PostgresCdcRotationInput,
  type PostgresCdcRotationPlan,
} from '../../contracts/input/postgresCdc.js';
import { evaluatePreflight } from './preflight.js';
import { cdcSteps, EXPIRY_MARGIN_MS, orderedSteps, RETIRE_LOCK_TIMEOUT_MS } from './steps.js';

const { read, change, wait, undo, worker } = procedureActivities();

/** The runbook's "PostgreSQL CDC User Rotation". One rotation per credential secret at a time. */
export async function rotatePostgresCdcCredentials(input: PostgresCdcRotationInput): Promise<RotationResult> {
  // Runs started before the kit (their histories have no `rotation-kit` marker) finish on the frozen code, old result shape included.
  if (!patched('rotation-kit')) return (await legacyRotatePostgresCdcV2(input as never)) as never;
  // decided before the local activity below: a patch marker right after a local-activity marker does not replay
  // (the crash test met it for cdc-every-reader: a worker restarted mid-run failed every workflow task on a
  // nondeterminism error when the plan's local activity had outlived a workflow task; never released in that form)
  const orderedAudit = patched('ordered-audit');
  const everyReader = patched('cdc-every-reader');
  const plan = await resolvePlanOnWorker(() => worker.resolvePostgresCdcPlan(input));
  const { workflowId, runId } = workflowInfo();
  const rotationId = `${workflowId}/${runId}`;
  const r = Rotation.forPlan(plan, {
    procedure: 'postgresql-cdc',
    lease: `connector/${plan.connector}`,
    component: 'postgresql_cdc',
    details: {
      strategy: plan.strategy,
      gracePeriod: plan.gracePeriod,
      secret: plan.secret,
      slot: plan.slot,
      connector: plan.connector,
    },
    validation: {
      components: ['postgresql', 'kafka-connect'],
      targets: { cdcSecret: plan.secret, slot: plan.slot, publication: plan.publication, connector: plan.connector },
    },
    orderedAudit,
  });

  return r.run(async () => {
    // 1. Pre-flight: read only; nothing is changed if it fails (unless forced, with a reason).
    r.setPhase('preflight');
    const found = await r.step(
      'preflight',
      () => preflight(plan, r, everyReader),
      (f) =>
        `current user ${f.user}${f.readers.length > 1 ? `; connectors reading ${plan.secret}: ${f.readers.join(', ')}` : ''}`,
    );
    const [oldUser, readers] = [found.user, found.readers];
    const newUser = cdcUserName(plan.userPrefix, new Date(), oldUser);
    [r.from, r.to] = [oldUser, newUser];
    const steps = cdcSteps(plan, { oldUser, newUser, rotationId });
    if (plan.dryRun) return r.dryRun(orderedSteps(plan, steps));
    const graceMs = parseIsoDuration(plan.gracePeriod)!;

    // 2. Stage the new credential: the password exists only in the secret store.
    r.setPhase('staging');
    const pending = await r.change(steps.stage, {
      run: () => change.stagePendingCredential({ secret: plan.secret, newUser, rotationId }),
      undo: () => undo.removeCredentialVersions({ secret: plan.secret, versions: ['pending'] }),
      show: (c) => `${c.secret} fp=${c.fingerprint}`,
    });
    await r.change(steps.createRole, {
      run: () => change.createRoleFromSecret({ secret: pending.secret, parentRole: plan.parentRole, rotationId }),
      undo: () => undo.dropRoleCreatedBy({ role: newUser, rotationId, parentRole: plan.parentRole }),
      show: (x) => `${x.role} ${x.created ? 'created' : 'converged'}`,
    });
    const was = await r.step(steps.parity.name, () => privilegeParity(oldUser, newUser));
    await r.wait(
      steps.tableAccess.name,
      () => wait.testTableAccess({ secret: pending.secret, publication: plan.publication }),
      (x) => `${x.tables.length} published tables readable`,
    );
    await r.wait(
      steps.replicationLogin.name,
      () => read.testReplicationLogin({ secret: pending.secret }),
      (x) => `IDENTIFY_SYSTEM ok (system ${x.systemId})`,
    );

    // 3. Switch the pipeline to it.
    r.setPhase('switching');
    await r.change(steps.backup, {
      run: () => change.backupCurrentCredential({ secret: plan.secret, rotationId }),
      undo: () => undo.removeCredentialVersions({ secret: plan.secret, versions: ['backup'] }),
      show: (c) => `backup holds ${c.user}`,
    });
    const expiry = (endsAt: number) => new Date(endsAt + EXPIRY_MARGIN_MS).toISOString();
    await r.change(steps.expireOld, {
      run: () => change.limitRoleValidity({ role: oldUser, until: expiry(Date.now() + graceMs) }),
      undo: () => undo.limitRoleValidity({ role: oldUser, until: was.validUntil }),
    });
    if (plan.strategy === 'restart-worker')
      await r.change(steps.pause, {
        run: () => change.pauseConnector({ connector: plan.connector }),
        undo: () => undo.resumeConnector({ connector: plan.connector }),
      });
    await r.change(steps.promote, {
      run: () => change.promotePendingCredential({ secret: plan.secret, rotationId }),
      undo: () => switchBack(plan, oldUser, rotationId, readers),
      show: (c) => `current now ${c.user} fp=${c.fingerprint}`,
    });
    await r.step(steps.apply.name, () => apply(wait, plan, readers));
    await r.step(steps.running.name, (): Promise<unknown> =>
      plan.strategy === 'restart-worker'
        ? wait.resumeConnector({ connector: plan.connector })
        : readersRunning(wait, readers),
    );
    r.checkpoint('switch');

    // 4. Verify: the new user streams, the slot moves, a canary change arrives in Kafka.
    r.setPhase('verifying');
    await r.wait(
      steps.streamingUser.name,
      () => wait.waitStreamingUser({ slot: plan.slot, user: newUser, timeoutMs: 120_000 }),
      (s) => `walsender ${s.slot.activePid} runs as ${s.streamingUser}`,
    );
    const marker = `rekey-${runId}`;
    await proveByCanary(r, { change, wait, undo }, { steps, path: plan, marker });

    // 5. Grace: the old user stays valid (and expires by itself at grace end + 1 h).
    if (plan.compromise) r.tracker.note(steps.grace.name, 'skipped', 'compromise: the old user is revoked at once');
    else
      await r.holdGrace(graceMs, (endsAt) =>
        change.limitRoleValidity({ role: oldUser, until: expiry(endsAt.getTime()) }),
      );

    // 6. Cleanup: refused while anyone still uses the old user (compromise: its sessions, an attacker's included, are ended); NOLOGIN, drop it; tidy the store.
    await r.cleanup(async () => {
      await r.persist(
        steps.retire.name,
        () =>
          undo.retireRole({
            role: oldUser,
            parentRole: plan.parentRole,
            slot: plan.slot,
            lockTimeoutMs: RETIRE_LOCK_TIMEOUT_MS,
            sessions: plan.compromise ? 'terminate' : 'refuse',
          }),
        (x) =>
          x.dropped ? `dropped ${oldUser}, ${x.terminated} session(s) terminated` : `${oldUser} was already gone`,
      );
      await r.persist(steps.removeVersions.name, async () => {
        await undo.removeCredentialVersions({ secret: plan.secret, versions: ['pending', 'backup'] });
        await undo.removeCanary({ marker });
      });
    });
    return 'completed';
  });
}

/** The current user, and every connector that reads the secret (plan.connector first; runs from before the patch: it alone). */
async function preflight(
  plan: PostgresCdcRotationPlan,
  r: Rotation,
  everyReader: boolean,
): Promise<{ user: string; readers: string[] }> {
  const [replication, connector, binding, current, memory, others] = await Promise.all([
    read.inspectReplication({ slot: plan.slot }),
    read.connectorStatus({ connector: plan.connector }),
    read.connectorBinding({ connector: plan.connector }),
    read.describeCredential({ secret: plan.secret }),
    read.memoryHeadroom(),
    everyReader ? read.secretReaders({ secret: plan.secret }) : Promise.resolve({ readers: [] as string[] }),
  ]);
  const checks = evaluatePreflight(
    {
      ...replication,
      currentSecretUser: current.user,
      secretStore: current.store,
      connector,
      binding,
      memoryAvailablePercent: memory.availablePercent,
      nodesUnderMemoryPressure: memory.nodesUnderPressure,
      connectPods: memory.connectPods,
    },
    plan,
  );
  gatePreflight(r.audit, checks, { force: plan.force });
  return { user: current.user, readers: [plan.connector, ...others.readers.filter((c) => c !== plan.connector)] };
}

async function privilegeParity(oldUser: string, newUser: string) {
  const [was, now] = await Promise.all([read.describeRole({ role: oldUser }), read.describeRole({ role: newUser })]);
  const list = (xs: string[]) => `[${xs.join(', ')}]`;
  const diffs = [
    was.canLogin !== now.canLogin && `login ${was.canLogin} vs ${now.canLogin}`,
    was.replication !== now.replication && `replication ${was.replication} vs ${now.replication}`,
    list(was.memberOf) !== list(now.memberOf) && `member of ${list(was.memberOf)} vs ${list(now.memberOf)}`,
    list(was.directGrants) !== list(now.directGrants) &&
      `direct grants ${list(was.directGrants)} vs ${list(now.directGrants)} (grant them to ${newUser}'s parent role instead)`,
  ].filter(Boolean);
  if (diffs.length)
    throw ApplicationFailure.nonRetryable(
      `privilege parity with ${oldUser} failed: ${diffs.join('; ')}`,
      'PrivilegeParity',
    );
  return was;
}

/**
 * The switch: the worker restarted (every connector on it re-reads its secrets), or the tasks of
 * every connector that reads the secret restarted (another connector on another slot reading the
 * same Secret would otherwise keep the old user, and cleanup would refuse to drop it).
 */
async function apply(acts: typeof wait, plan: PostgresCdcRotationPlan, readers: string[]): Promise<void> {
  if (plan.strategy === 'restart-worker')
    return void (await acts.restartConnectWorker({
      connector: plan.connector,
      timeoutMs: 300_000,
      restartedAt: restartStamp(),
    }));
  for (const connector of readers) await acts.restartConnector({ connector, tasksOnly: true });
}

async function readersRunning(acts: typeof wait, readers: string[]): Promise<void> {
  for (const connector of readers) await acts.waitConnectorRunning({ connector });
}

/** The promote step's compensation: the old credential back in the secret, applied, streaming again. */
async function switchBack(
  plan: PostgresCdcRotationPlan,
  oldUser: string,
  rotationId: string,
  readers: string[],
): Promise<void> {
  await undo.restoreBackupCredential({ secret: plan.secret, rotationId });
  await apply(undo, plan, readers);
  await undo.resumeConnector({ connector: plan.connector });
  await undo.waitStreamingUser({ slot: plan.slot, user: oldUser, timeoutMs: 120_000 });
}
