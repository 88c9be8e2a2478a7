import { workflowInfo } from '@temporalio/workflow';
import {
  gatePreflight,
  procedureActivities,
  resolvePlanOnWorker,
  restartStamp,
  Rotation,
  type RotationResult,
} from '../rotation/index.js';
import { check, type CheckResult } from '../rotation/preflight.js';
import type { PostgresAdminRotationInput, PostgresAdminRotationPlan } from '../../contracts/input/postgresAdmin.js';
import { LOGIN_WAIT_MS, postgresAdminSteps, type PostgresAdminSteps } from './steps.js';

const { read, change, wait, undo, worker } = procedureActivities();

/** The admin secret's keys are `username`/`password`. */
const keys = 'sasl' as const;

interface Run {
  r: Rotation;
  plan: PostgresAdminRotationPlan;
  steps: PostgresAdminSteps;
  rotationId: string;
  role: string;
  /** The workloads were rolled onto the new password: a rollback must roll them again. */
  rolled?: boolean;
}

/**
 * The PostgreSQL superuser's password (POSTGRES_PASSWORD, rekey's own `postgres-admin`) changed
 * in place: one role cannot hold two passwords, so there is no second user and no grace. The
 * exact verifier is backed up first and restored on rollback; sessions already open are never
 * cut (PostgreSQL checks a password at login only), except in compromise mode, which ends them.
 */
export async function rotatePostgresAdminPassword(input: PostgresAdminRotationInput): Promise<RotationResult> {
  const plan = await resolvePlanOnWorker(() => worker.resolvePostgresAdminPlan(input));
  const { workflowId, runId } = workflowInfo();
  const r = Rotation.forPlan(plan, {
    procedure: 'postgresql-admin',
    component: 'postgresql_admin',
    details: { secret: plan.secret, workloads: plan.workloads.map((w) => `${w.kind}/${w.name}`).join(',') },
    orderedAudit: true,
  });

  return r.run(async () => {
    // 1. Pre-flight: read only; nothing is changed if it fails (unless forced, with a reason).
    r.setPhase('preflight');
    const found = await r.step(
      'preflight',
      () => preflight(plan, r),
      (x) => `${x.sessionUser}: superuser, ${x.otherSessions} other session(s)`,
    );
    const role = found.user;
    [r.from, r.to] = [role, role];
    const steps = postgresAdminSteps(plan, { role });
    if (plan.dryRun) return r.dryRun(Object.values(steps));
    const run: Run = { r, plan, steps, rotationId: `${workflowId}/${runId}`, role };

    await stage(run); // 2. the new password staged; the old verifier and secret backed up
    const changedAt = new Date().toISOString();
    await switchPassword(run); // 3. ALTER ROLE, then the secret: rekey's next session uses it
    await moveConsumers(run, changedAt); // 4. proven: a new login, workloads rolled, open sessions kept (or ended)
    await finish(run); // 5. the old password refused; the staged versions gone
    return 'completed';
  });
}

async function stage(run: Run): Promise<void> {
  const { r, plan, steps, rotationId, role } = run;
  r.setPhase('staging');
  await r.change(steps.stage, {
    run: () => change.stagePendingCredential({ secret: plan.secret, newUser: role, rotationId, keys }),
    undo: () => removeOnceLiveLogsIn(run, 'pending'),
    show: (x) => `${x.secret} holds ${x.user} fp=${x.fingerprint}`,
  });
  await r.change(steps.backup, {
    run: async () => {
      const b = await change.backupCurrentCredential({ secret: plan.secret, rotationId, keys });
      await change.backupRoleVerifier({ secret: plan.secret, role });
      return b;
    },
    undo: async () => {
      // after set-password and promote were undone: rolled workloads go back onto the old password
      if (run.rolled) await rollAll(plan, undo);
      await removeOnceLiveLogsIn(run, 'backup');
    },
    show: (x) => `${x.secret} holds ${x.user} and its verifier`,
  });
}

/**
 * A compensation's last word on a staged copy: deleted only once the live secret logs in. If the
 * old verifier could not be put back (its compensation abandoned), -pending holds the only copy
 * of the password the role has now, and -backup the old verifier: both are kept.
 */
async function removeOnceLiveLogsIn(run: Run, version: 'pending' | 'backup'): Promise<void> {
  const { plan } = run;
  await undo.waitPostgresLogin({ secret: plan.secret, expect: 'accepted', timeoutMs: LOGIN_WAIT_MS });
  await undo.removeCredentialVersions({ secret: plan.secret, versions: [version] });
}

async function rollAll(plan: PostgresAdminRotationPlan, acts: typeof wait): Promise<void> {
  const restartedAt = restartStamp() ?? new Date().toISOString();
  for (const w of plan.workloads)
    await acts.rollWorkload({ ...w, restartedAt, timeoutMs: plan.workloadWaitSeconds * 1000 });
}

async function switchPassword(run: Run): Promise<void> {
  const { r, plan, steps, rotationId, role } = run;
  r.setPhase('switching');
  await r.change(steps.setPassword, {
    run: () => change.setRolePassword({ secret: plan.secret, role }),
    undo: () => undo.restoreRoleVerifier({ secret: plan.secret, role, rotationId }),
    show: (x) => `ALTER ROLE in a session opened with ${x.as}`,
  });
  await r.change(steps.promote, {
    run: () => change.promotePendingCredential({ secret: plan.secret, rotationId, keys }),
    undo: () => undo.restoreBackupCredential({ secret: plan.secret, rotationId, keys, credentialOnly: true }),
    show: (x) => `${x.secret} fp=${x.fingerprint}`,
  });
  r.checkpoint('switch');
}

async function moveConsumers(run: Run, changedAt: string): Promise<void> {
  const { r, plan, steps, role } = run;
  const sessions = steps.sessions!;
  r.setPhase('verifying');
  await r.wait(
    steps.newLogin.name,
    () => wait.waitPostgresLogin({ secret: plan.secret, expect: 'accepted', timeoutMs: LOGIN_WAIT_MS }),
    (x) => `${x.secret}: ${x.outcome}`,
  );
  // compromise: the sessions opened before the change (an attacker's among them) end first
  if (plan.compromise)
    await r.step(
      sessions.name,
      () => change.terminateRoleSessions({ role, before: changedAt }),
      (x) => `${x.terminated} session(s) of ${role} opened before the change ended`,
    );
  if (plan.workloads.length === 0) r.tracker.note(steps.rollWorkloads.name, 'skipped', 'no workload named');
  else
    await r.step(
      steps.rollWorkloads.name,
      async () => {
        const restartedAt = restartStamp() ?? changedAt;
        run.rolled = true; // from here a rollback rolls them again, onto the old password
        for (const w of plan.workloads)
          await wait.rollWorkload({ ...w, restartedAt, timeoutMs: plan.workloadWaitSeconds * 1000 });
        return plan.workloads.map((w) => `${w.kind}/${w.name}`).join(', ');
      },
      (x) => `${x} rolled and ready`,
    );
  if (!plan.compromise)
    await r.step(
      sessions.name,
      () => read.roleSessionsSince({ role, before: changedAt }),
      (x) => `${x.kept} session(s) of ${role} from before the change still connected (${x.total} in all)`,
    );
  r.checkpoint(sessions.name);
}

async function finish(run: Run): Promise<void> {
  const { r, plan, steps } = run;
  await r.cleanup(async () => {
    await r.persist(
      steps.oldRefused.name,
      () => undo.waitPostgresLogin({ secret: `${plan.secret}-backup`, expect: 'refused', timeoutMs: LOGIN_WAIT_MS }),
      (x) => `${x.secret}: ${x.outcome}`,
    );
    await r.persist(steps.removeVersions.name, () =>
      undo.removeCredentialVersions({ secret: plan.secret, versions: ['pending', 'backup'] }),
    );
  });
}

async function preflight(plan: PostgresAdminRotationPlan, r: Rotation) {
  const [role, pending, backup] = await Promise.all([
    read.describeAdminRole({ secret: plan.secret }),
    read.describeCredential({ secret: `${plan.secret}-pending`, keys }).catch(() => null),
    read.describeCredential({ secret: `${plan.secret}-backup`, keys }).catch(() => null),
  ]);
  gatePreflight(r.audit, evaluatePostgresAdminPreflight(plan, role, [pending, backup]), { force: plan.force });
  return role;
}

type AdminRole = Awaited<ReturnType<typeof read.describeAdminRole>>;

/** Every check of the pre-flight, each with what it saw and what it needed. */
export function evaluatePostgresAdminPreflight(
  plan: Pick<PostgresAdminRotationPlan, 'secret'>,
  role: AdminRole,
  leftovers: Array<{ secret: string; user: string } | null>,
): CheckResult[] {
  const left = leftovers.filter((x): x is { secret: string; user: string } => x !== null);
  const otherRekeySecret = role.rekey.secret !== plan.secret && role.rekey.user === role.user;
  return [
    check(
      'secret logs in as its user',
      role.sessionUser !== null && role.sessionUser === role.user,
      `${plan.secret} names ${role.user || 'nobody'}, logs in as ${role.sessionUser ?? '(unknown)'}`,
      'the same role',
    ),
    check('superuser', role.superuser, role.superuser ? 'yes' : 'no', 'a superuser (it alone may read pg_authid)'),
    check('verifier', role.verifier === 'scram-sha-256', role.verifier, 'a SCRAM-SHA-256 verifier, readable'),
    check(
      "rekey's admin secret",
      !otherRekeySecret,
      `rekey logs in with ${role.rekey.secret} as ${role.rekey.user ?? '(none)'}`,
      `${plan.secret} itself, or another role (else rekey keeps sending the old password)`,
    ),
    check(
      'no rotation half-done',
      left.length === 0,
      left.map((x) => x.secret).join(', ') || 'none',
      `no ${plan.secret}-pending or -backup (finish or undo the earlier rotation first)`,
    ),
  ];
}
