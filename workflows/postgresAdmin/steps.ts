import { plannedStep } from '../rotation/definitions.js';
import type { PostgresAdminRotationPlan } from '../../contracts/input/postgresAdmin.js';

/** A password change is at once in PostgreSQL's catalog: a login sees it in well under this. */
export const LOGIN_WAIT_MS = 30_000;

/**
 * Every step of an admin password's rotation in place (POSTGRES_PASSWORD) with the call it makes
 * (passwords and verifiers never shown) and its compensation. One role, one password: the exact
 * verifier is backed up, the new one set, the secret promoted, the consumers moved, the old
 * password proven refused; rollback restores the old verifier byte for byte.
 */
export function postgresAdminSteps(p: PostgresAdminRotationPlan, n: { role: string }) {
  const s = p.secret;
  const workloads = p.workloads.map((w) => `${w.kind}/${w.name}`).join(', ');
  const sessionsStep = p.compromise
    ? plannedStep(
        'terminate-sessions',
        'verifying',
        `compromise: pg_terminate_backend on every session of ${n.role} opened before set-password (an attacker's among them)`,
      )
    : plannedStep(
        'sessions-kept',
        'verifying',
        `count the sessions of ${n.role} opened before set-password that are still connected (PostgreSQL checks a password at login only; a rollback after the roll rolls the workloads again)`,
      );
  return {
    preflight: plannedStep(
      'preflight',
      'preflight',
      `read only: ${s} logs in as ${n.role} (session_user), a superuser whose SCRAM-SHA-256 verifier can be read; if rekey's own admin secret is another one, it does not log in as ${n.role}; no ${s}-pending/-backup left over`,
    ),
    stage: plannedStep(
      'stage-password',
      'staging',
      `write secret ${s}-pending {username: ${n.role}, password: <32 random bytes, generated on the worker, never shown>}`,
      `delete secret ${s}-pending`,
    ),
    backup: plannedStep(
      'backup',
      'staging',
      `copy ${s} to ${s}-backup, and ${n.role}'s verifier from pg_authid into it (never into history)`,
      `delete secret ${s}-backup`,
    ),
    setPassword: plannedStep(
      'set-password',
      'switching',
      `ALTER ROLE ${n.role} PASSWORD '<SCRAM-SHA-256 verifier of the new password, computed on the worker>' (sessions already open stay: PostgreSQL checks a password at login only)`,
      `ALTER ROLE ${n.role} PASSWORD '<the verifier backed up>' (the old password logs in again, exactly as before)`,
    ),
    promote: plannedStep(
      'promote',
      'switching',
      `write username/password of ${s}-pending into ${s}: rekey reads it for each new session`,
      `put username/password of ${s}-backup back into ${s}`,
    ),
    newLogin: plannedStep('new-login', 'verifying', `a new session with ${s} is accepted`),
    // compromise: the old sessions (an attacker's among them) end before anything else happens
    ...(p.compromise ? { sessions: sessionsStep } : {}),
    rollWorkloads: plannedStep(
      'roll-workloads',
      'verifying',
      workloads
        ? `rollout restart of ${workloads} (they read ${s} at start); wait until every replica is updated and ready (≤ ${p.workloadWaitSeconds} s each)`
        : `no workload named (workloads): nothing reads ${s} at start but rekey`,
    ),
    ...(p.compromise ? {} : { sessions: sessionsStep }),
    oldRefused: plannedStep(
      'old-password-refused',
      'cleanup',
      `a new session with ${s}-backup (the old password) is refused`,
    ),
    removeVersions: plannedStep('remove-versions', 'cleanup', `delete secrets ${s}-pending and ${s}-backup`),
  };
}

export type PostgresAdminSteps = ReturnType<typeof postgresAdminSteps>;
