import { plannedStep } from '../rotation/definitions.js';
import type { PostgresAppRotationPlan } from '../../contracts/input/postgresApp.js';

/** A new role's login and the old role's refusal are at once in the catalog. */
export const LOGIN_WAIT_MS = 30_000;
/** How long the old role's retirement waits for a lock before it retries. */
export const RETIRE_LOCK_TIMEOUT_MS = 5_000;

/**
 * Every step of an application's login rotation with the call it makes (passwords never shown)
 * and its compensation: the next login role beside the current one, the secret promoted, the
 * workload rolled, the sessions proven moved, grace, the old role retired.
 */
export function postgresAppSteps(p: PostgresAppRotationPlan, n: { oldUser: string; newUser: string }) {
  const s = p.secret;
  const w = `${p.workload.kind}/${p.workload.name}`;
  return {
    preflight: plannedStep(
      'preflight',
      'preflight',
      `read only: ${s} names ${n.oldUser}, a login member of ${p.ownerRole} (NOLOGIN) that sets role ${p.ownerRole} on login; sessions of ${p.applicationName} log in as it; no ${s}-pending/-backup left over`,
    ),
    stage: plannedStep(
      'stage-user',
      'staging',
      `write secret ${s}-pending {db-username: ${n.newUser}, db-password: <32 random bytes, generated on the worker, never shown>}`,
      `delete secret ${s}-pending`,
    ),
    create: plannedStep(
      'create-role',
      'staging',
      `CREATE ROLE ${n.newUser} LOGIN PASSWORD '<SCRAM-SHA-256 verifier>' IN ROLE ${p.ownerRole}; ALTER ROLE ${n.newUser} SET role = '${p.ownerRole}' (new objects stay owned by ${p.ownerRole})`,
      `NOLOGIN, end the sessions of and DROP ROLE ${n.newUser} (only if this rotation created it)`,
    ),
    newLogin: plannedStep('new-login', 'staging', `a new session with ${s}-pending (${n.newUser}) is accepted`),
    backup: plannedStep('backup', 'switching', `copy ${s} (every key) to ${s}-backup`, `delete secret ${s}-backup`),
    promote: plannedStep(
      'promote',
      'switching',
      `write db-username/db-password of ${s}-pending into ${s}`,
      `restore ${s} from ${s}-backup and roll ${w} back onto it`,
    ),
    roll: plannedStep(
      'roll-workload',
      'switching',
      `rollout restart of ${w} (its pods read ${s} at start); wait until every replica is updated and ready (≤ ${p.workloadWaitSeconds} s)`,
    ),
    moved: plannedStep(
      'sessions-moved',
      'verifying',
      `pg_stat_activity: the sessions of application_name ${p.applicationName} log in as ${n.newUser}, none as ${n.oldUser} (≤ ${p.sessionsWaitSeconds} s)`,
    ),
    grace: p.compromise
      ? plannedStep('grace', 'grace', `none (compromise): ${n.oldUser} is dropped at once`)
      : plannedStep(
          'grace',
          'grace',
          `durable timer for ${p.gracePeriod}: ${n.oldUser} stays valid for a client the roll did not move; signals: cleanupNow, extendGrace, rollback`,
        ),
    retire: plannedStep(
      'retire-old-role',
      'cleanup',
      p.compromise
        ? `NOLOGIN, terminate every session of ${n.oldUser}, REASSIGN OWNED BY ${n.oldUser} TO ${p.ownerRole}, DROP OWNED, DROP ROLE`
        : `refused while ${n.oldUser} holds a session; else NOLOGIN, REASSIGN OWNED BY ${n.oldUser} TO ${p.ownerRole}, DROP OWNED, DROP ROLE`,
    ),
    oldRefused: plannedStep('old-user-refused', 'cleanup', `a new session with ${s}-backup (${n.oldUser}) is refused`),
    removeVersions: plannedStep('remove-versions', 'cleanup', `delete secrets ${s}-pending and ${s}-backup`),
  };
}

export type PostgresAppSteps = ReturnType<typeof postgresAppSteps>;
