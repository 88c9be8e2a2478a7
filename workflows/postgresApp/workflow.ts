import { workflowInfo } from '@temporalio/workflow';
import {
  gatePreflight,
  parseIsoDuration,
  procedureActivities,
  resolvePlanOnWorker,
  restartStamp,
  Rotation,
  type RotationResult,
} from '../rotation/index.js';
import { check, type CheckResult } from '../rotation/preflight.js';
import {
  appUserName,
  type PostgresAppRotationInput,
  type PostgresAppRotationPlan,
} from '../../contracts/input/postgresApp.js';
import { LOGIN_WAIT_MS, postgresAppSteps, type PostgresAppSteps, RETIRE_LOCK_TIMEOUT_MS } from './steps.js';

const { read, change, wait, undo, worker } = procedureActivities();

interface Run {
  r: Rotation;
  plan: PostgresAppRotationPlan;
  steps: PostgresAppSteps;
  rotationId: string;
  oldUser: string;
  newUser: string;
}

/**
 * One application's PostgreSQL login rotated as alternating users: the next login role beside
 * the current one (a member of the owner role, which owns the application's objects), the
 * secret promoted, the workload rolled, its sessions proven to log in as the new role and none
 * as the old, grace, then the old role retired as the CDC procedure retires its users. One
 * rotation per secret at a time (`rotate-postgresql-app/<secret>`).
 */
export async function rotatePostgresAppCredentials(input: PostgresAppRotationInput): Promise<RotationResult> {
  const plan = await resolvePlanOnWorker(() => worker.resolvePostgresAppPlan(input));
  const { workflowId, runId } = workflowInfo();
  const r = Rotation.forPlan(plan, {
    procedure: 'postgresql-app',
    lease: `workload/${plan.workload.name}`,
    component: 'postgresql_app',
    details: {
      secret: plan.secret,
      ownerRole: plan.ownerRole,
      workload: `${plan.workload.kind}/${plan.workload.name}`,
      gracePeriod: plan.gracePeriod,
    },
    orderedAudit: true,
  });

  return r.run(async () => {
    r.setPhase('preflight');
    const found = await r.step(
      'preflight',
      () => preflight(plan, r),
      (x) => `${x.user}, member of ${plan.ownerRole}; sessions: ${sessionsText(x.sessions)}`,
    );
    const newUser = appUserName(plan, new Date(), found.user);
    [r.from, r.to] = [found.user, newUser];
    const steps = postgresAppSteps(plan, { oldUser: found.user, newUser });
    if (plan.dryRun) return r.dryRun(Object.values(steps));
    const run: Run = { r, plan, steps, rotationId: `${workflowId}/${runId}`, oldUser: found.user, newUser };

    await addRole(run); // 1. the next login role, beside the current one
    await switchApplication(run); // 2. the secret promoted, the workload rolled, its sessions moved
    if (plan.compromise) r.tracker.note('grace', 'skipped', 'compromise: the old role is dropped at once');
    else await r.holdGrace(parseIsoDuration(plan.gracePeriod)!);
    await retireOldRole(run); // 3. the old role goes, and a login with it is refused
    return 'completed';
  });
}

async function addRole(run: Run): Promise<void> {
  const { r, plan, steps, rotationId, newUser } = run;
  r.setPhase('staging');
  await r.change(steps.stage, {
    run: () => change.stagePendingCredential({ secret: plan.secret, newUser, rotationId }),
    undo: () => undo.removeCredentialVersions({ secret: plan.secret, versions: ['pending'] }),
    show: (x) => `${x.secret} holds ${x.user} fp=${x.fingerprint}`,
  });
  await r.change(steps.create, {
    run: () => change.createAppRole({ secret: `${plan.secret}-pending`, ownerRole: plan.ownerRole, rotationId }),
    undo: () => undo.dropRoleCreatedBy({ role: newUser, rotationId, parentRole: plan.ownerRole }),
    show: (x) => `${x.role} ${x.created ? 'created' : 'already there'}, member of ${plan.ownerRole}`,
  });
  await r.wait(
    steps.newLogin.name,
    () => login(`${plan.secret}-pending`, 'accepted', wait),
    (x) => `${x.secret}: ${x.outcome}`,
  );
}

async function switchApplication(run: Run): Promise<void> {
  const { r, plan, steps, rotationId, oldUser, newUser } = run;
  r.setPhase('switching');
  await r.change(steps.backup, {
    run: () => change.backupCurrentCredential({ secret: plan.secret, rotationId }),
    undo: () => undo.removeCredentialVersions({ secret: plan.secret, versions: ['backup'] }),
    show: (x) => `${x.secret} holds ${x.user}`,
  });
  await r.change(steps.promote, {
    run: () => change.promotePendingCredential({ secret: plan.secret, rotationId }),
    undo: async () => {
      await undo.restoreBackupCredential({ secret: plan.secret, rotationId });
      await roll(plan, undo);
    },
    show: (x) => `${x.secret} now ${x.user} fp=${x.fingerprint}`,
  });
  await r.step(
    steps.roll.name,
    () => roll(plan, wait),
    (x) => `${x.ready} replica(s) ready`,
  );
  r.checkpoint('switch');
  r.setPhase('verifying');
  await r.wait(
    steps.moved.name,
    () =>
      wait.waitAppSessionsMoved({
        applicationName: plan.applicationName,
        oldUser,
        newUser,
        timeoutMs: plan.sessionsWaitSeconds * 1000,
      }),
    (x) => sessionsText(x.sessions),
  );
  r.checkpoint(steps.moved.name);
}

async function retireOldRole(run: Run): Promise<void> {
  const { r, plan, steps, oldUser } = run;
  await r.cleanup(async () => {
    await r.persist(
      steps.retire.name,
      () =>
        undo.retireRole({
          role: oldUser,
          parentRole: plan.ownerRole,
          lockTimeoutMs: RETIRE_LOCK_TIMEOUT_MS,
          sessions: plan.compromise ? 'terminate' : 'refuse',
        }),
      (x) => (x.dropped ? `dropped ${oldUser}, ${x.terminated} session(s) terminated` : `${oldUser} was already gone`),
    );
    await r.persist(
      steps.oldRefused.name,
      () => login(`${plan.secret}-backup`, 'refused', undo),
      (x) => `${x.secret}: ${x.outcome}`,
    );
    await r.persist(steps.removeVersions.name, () =>
      undo.removeCredentialVersions({ secret: plan.secret, versions: ['pending', 'backup'] }),
    );
  });
}

const login = (secret: string, expect: 'accepted' | 'refused', acts: typeof wait) =>
  acts.waitPostgresLogin({ secret, expect, timeoutMs: LOGIN_WAIT_MS, keys: 'db' });

const roll = (plan: PostgresAppRotationPlan, acts: typeof wait) =>
  acts.rollWorkload({
    ...plan.workload,
    restartedAt: restartStamp() ?? new Date().toISOString(),
    timeoutMs: plan.workloadWaitSeconds * 1000,
  });

const sessionsText = (s: Record<string, number>) =>
  Object.entries(s)
    .map(([u, n]) => `${n} as ${u}`)
    .join(', ') || 'none';

async function preflight(plan: PostgresAppRotationPlan, r: Rotation) {
  const [app, pending, backup] = await Promise.all([
    read.describeAppLogin({ secret: plan.secret, ownerRole: plan.ownerRole, applicationName: plan.applicationName }),
    read.describeCredential({ secret: `${plan.secret}-pending` }).catch(() => null),
    read.describeCredential({ secret: `${plan.secret}-backup` }).catch(() => null),
  ]);
  gatePreflight(r.audit, evaluatePostgresAppPreflight(plan, app, [pending, backup]), { force: plan.force });
  return app;
}

type AppLogin = Awaited<ReturnType<typeof read.describeAppLogin>>;

/** Every check of the pre-flight, each with what it saw and what it needed. */
export function evaluatePostgresAppPreflight(
  plan: Pick<PostgresAppRotationPlan, 'secret' | 'ownerRole' | 'applicationName'>,
  app: AppLogin,
  leftovers: Array<{ secret: string; user: string } | null>,
): CheckResult[] {
  const left = leftovers.filter((x): x is { secret: string; user: string } => x !== null);
  return [
    check(
      'login role exists',
      app.exists && !app.superuser,
      app.exists ? (app.superuser ? 'a superuser' : app.user) : 'absent',
      `${app.user}, not a superuser`,
    ),
    check(
      'owner role',
      app.ownerExists && !app.ownerCanLogin,
      app.ownerExists ? (app.ownerCanLogin ? 'can log in' : 'NOLOGIN') : 'absent',
      `${plan.ownerRole} exists and is NOLOGIN (it owns the objects; see the runbook to set it up)`,
    ),
    check(
      'member of the owner role',
      app.memberOfOwner,
      app.memberOfOwner ? 'yes' : 'no',
      `${app.user} IN ROLE ${plan.ownerRole}`,
    ),
    check(
      'sets the owner role',
      app.setsOwnerRole,
      app.setsOwnerRole ? `role = ${plan.ownerRole}` : 'no role setting',
      `ALTER ROLE ${app.user} SET role = '${plan.ownerRole}' (else objects it creates would be its own, and dropped with it)`,
    ),
    check(
      'no rotation half-done',
      left.length === 0,
      left.map((x) => `${x.secret} (${x.user})`).join(', ') || 'none',
      `no ${plan.secret}-pending or -backup (finish or undo the earlier rotation first)`,
    ),
  ];
}
