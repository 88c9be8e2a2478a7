import { canarySteps } from '../rotation/canary.js';
import { type PlannedStep, plannedStep } from '../rotation/definitions.js';
import type { PostgresCdcRotationPlan } from '../../contracts/input/postgresCdc.js';

/** The old role stays valid this long past the end of grace, then PostgreSQL refuses it by itself. */
export const EXPIRY_MARGIN_MS = 3_600_000;
export const RETIRE_LOCK_TIMEOUT_MS = 5_000;

/**
 * Every step of the CDC rotation with the call it makes (secrets redacted) and its
 * compensation. The workflow names its steps from here and the dry run prints this
 * list, so the plan an operator reviews is the code that runs.
 */
export function cdcSteps(p: PostgresCdcRotationPlan, n: { oldUser: string; newUser: string; rotationId: string }) {
  const q = (ident: string) => `"${ident}"`;
  const s = p.secret;
  return {
    preflight: plannedStep(
      'preflight',
      'preflight',
      `read only: wal_level, max_replication_slots, slot ${p.slot} (active, lag bytes, walsender lag), connector ${p.connector} (state, tasks, which slot and secret it reads), secret ${s}, memory headroom`,
    ),
    stage: plannedStep(
      'stage',
      'staging',
      `write secret ${s}-pending {db-username: ${n.newUser}, db-password: <32 random bytes, generated on the worker, never shown>}`,
      `delete secret ${s}-pending`,
    ),
    createRole: plannedStep(
      'create-role',
      'staging',
      `CREATE ROLE ${q(n.newUser)} WITH LOGIN REPLICATION PASSWORD '<SCRAM-SHA-256 verifier computed on the worker>' IN ROLE ${q(p.parentRole)}; COMMENT ON ROLE ${q(n.newUser)} IS 'rekey:rotation=${n.rotationId}'`,
      `DROP ROLE ${q(n.newUser)} — only if this rotation created it (its sessions terminated, REASSIGN/DROP OWNED first)`,
    ),
    parity: plannedStep(
      'privilege-parity',
      'staging',
      `compare ${n.oldUser} and ${n.newUser}: LOGIN, REPLICATION, role memberships, direct grants`,
    ),
    tableAccess: plannedStep(
      'table-access',
      'staging',
      `as ${n.newUser}: SELECT 1 … LIMIT 1 from every table of publication ${p.publication}`,
    ),
    replicationLogin: plannedStep(
      'replication-login',
      'staging',
      `as ${n.newUser}: IDENTIFY_SYSTEM over a logical replication connection`,
    ),
    backup: plannedStep(
      'backup',
      'switching',
      `copy secret ${s} (${n.oldUser}) → ${s}-backup`,
      `delete secret ${s}-backup`,
    ),
    expireOld: plannedStep(
      'expire-old-role',
      'switching',
      `ALTER ROLE ${q(n.oldUser)} VALID UNTIL '<end of grace + 1 h>' (an abandoned rotation cannot leave it valid forever)`,
      `ALTER ROLE ${q(n.oldUser)} VALID UNTIL '<its previous value>'`,
    ),
    pause: plannedStep(
      'pause',
      'switching',
      `PUT /connectors/${p.connector}/pause, wait PAUSED`,
      `PUT /connectors/${p.connector}/resume`,
    ),
    promote: plannedStep(
      'promote',
      'switching',
      `copy secret ${s}-pending → ${s} (refused if ${s} changed since it was read)`,
      `copy ${s}-backup → ${s}, apply by ${p.strategy}, resume ${p.connector}, wait until ${n.oldUser} streams ${p.slot}`,
    ),
    apply:
      p.strategy === 'reload-connector'
        ? plannedStep(
            'apply:reload-connector',
            'switching',
            `POST /connectors/${p.connector}/tasks/<id>/restart for every task: the config provider re-reads ${s}`,
          )
        : plannedStep(
            'apply:restart-worker',
            'switching',
            `restart the Kafka Connect worker (pods of the kafka-connect Deployment), wait ≤ 300 s until it is ready`,
          ),
    running:
      p.strategy === 'reload-connector'
        ? plannedStep('running', 'switching', `wait until ${p.connector} and every task are RUNNING`)
        : plannedStep('resume', 'switching', `PUT /connectors/${p.connector}/resume, wait RUNNING`),
    streamingUser: plannedStep(
      'streaming-user',
      'verifying',
      `wait until pg_stat_replication.usename of ${p.slot}'s walsender is ${n.newUser}`,
    ),
    ...canarySteps(p, { readBack: 'any converter' }),
    grace: p.compromise
      ? plannedStep('grace', 'grace', `none (compromise): ${n.oldUser} is revoked at once`)
      : plannedStep(
          'grace',
          'grace',
          `hold ${n.oldUser} valid for ${p.gracePeriod} (signals: cleanupNow, extendGrace, rollback)`,
        ),
    retire: plannedStep(
      'retire-old-user',
      'cleanup',
      `ALTER ROLE ${q(n.oldUser)} NOLOGIN; ${p.compromise ? 'terminate its sessions' : `refused (RoleInUse, naming each) while any session of ${n.oldUser} is open`}; REASSIGN OWNED/DROP OWNED in every database; DROP ROLE — lock_timeout ${RETIRE_LOCK_TIMEOUT_MS / 1000} s; refused while ${n.oldUser} streams ${p.slot}`,
    ),
    removeVersions: plannedStep(
      'remove-versions',
      'cleanup',
      `delete secrets ${s}-pending, ${s}-backup and the canary row`,
    ),
    accessValidation: plannedStep(
      'access-validation',
      'cleanup',
      'the runbook checklist lines of postgresql and kafka-connect (read only); a failed line is reported in the result and the audit log, not rolled back',
    ),
  };
}

export type CdcSteps = ReturnType<typeof cdcSteps>;

/** The steps in the order this plan runs them (pause only around a worker restart). */
export function orderedSteps(p: PostgresCdcRotationPlan, steps: CdcSteps): PlannedStep[] {
  const { pause, ...rest } = steps;
  const list = Object.values(rest);
  if (p.strategy === 'restart-worker') list.splice(list.indexOf(steps.promote), 0, pause);
  return list;
}
