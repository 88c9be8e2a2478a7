import { canarySteps } from '../rotation/canary.js';
import { type PlannedStep, plannedStep } from '../rotation/definitions.js';
import { lookupSubject, type SchemaRegistryRotationPlan } from '../../contracts/input/schemaRegistry.js';

/**
 * Every step of the Schema Registry rotation with the call it makes (secrets redacted) and
 * its compensation. The workflow names its steps from here and the dry run prints this
 * list, so the plan an operator reviews is the code that runs. Three phases: add the new
 * user beside the old one, switch the clients, remove the old user after grace.
 */
export function registrySteps(p: SchemaRegistryRotationPlan, n: { oldUser: string; newUser: string }) {
  const s = p.secret;
  const a = p.account;
  const waitS = `≤ ${p.registryWaitSeconds} s, heartbeating`;
  return {
    preflight: plannedStep(
      'preflight',
      'preflight',
      `read only: the registry accepts ${a}'s current user (${n.oldUser}); compatibility of every subject "${p.subjectPrefix}*" (BACKWARD or stricter), ${lookupSubject(p)} registered; connector ${p.connector} and its tasks RUNNING; secret ${s} has no ${a}-next-*/${a}-previous-* left over; the connectors that authenticate as ${a} (GET /connectors?expand=info: a config-provider reference to ${s}'s ${a}-user/-password), none with the user written into its config`,
    ),
    // Phase 1 — add: the registry accepts both users.
    stage: plannedStep(
      'stage-user',
      'staging',
      `write secret ${s}-pending {${a}-user: ${n.newUser}, ${a}-password: <24 random bytes, generated on the worker, never shown>}`,
      `delete secret ${s}-pending`,
    ),
    accept: plannedStep(
      'accept-user',
      'staging',
      `in secret ${s}: ${a}-next-user/-password ← ${n.newUser} (from ${s}-pending); clients still read ${a}-user (${n.oldUser})`,
      `remove ${a}-next-* from ${s}; if the registry was restarted with it, restart it again, wait until it accepts ${n.oldUser} (HTTP 200), then restart any task of ${p.connector} that FAILED meanwhile`,
    ),
    restartAdd: plannedStep(
      'restart-registry:add',
      'staging',
      `restart the Schema Registry so it reads its users again (Kubernetes: rollout restart of statefulsets/schema-registry; embedded stack: the stand-in)`,
    ),
    newAccepted: plannedStep(
      'new-user-accepted',
      'staging',
      `wait until the registry answers ${n.newUser} (${a}-next-*) with HTTP 200 (${waitS})`,
    ),
    oldAccepted: plannedStep(
      'old-user-accepted',
      'staging',
      `wait until the registry answers ${n.oldUser} (${a}-user) with HTTP 200: both users are accepted (${waitS})`,
    ),
    healAfterAdd: plannedStep(
      'tasks-after-add',
      'staging',
      `restart any task of ${p.connector} that FAILED while the registry restarted (a cold schema cache meets the outage), watching ${p.clientWatch ?? 'PT15S'}, wait RUNNING`,
    ),
    // Phase 2 — switch clients.
    promote: plannedStep(
      'promote',
      'switching',
      `copy secret ${s} → ${s}-backup; in ${s}: ${a}-user/-password ← ${n.newUser}, ${a}-previous-user/-password ← ${n.oldUser} (still accepted), ${a}-next-* removed (refused if ${s} changed since it was read)`,
      `copy ${s}-backup → ${s} (${n.oldUser} current again), restart the tasks of every connector that authenticates as ${a}, wait RUNNING, delete ${s}-backup`,
    ),
    restartTasks: plannedStep(
      'restart-tasks',
      'switching',
      `POST /connectors/<c>/tasks/<id>/restart for every task of every connector that authenticates as ${a} (found in pre-flight): the converter's config provider re-reads ${s}`,
    ),
    running: plannedStep('running', 'switching', `wait until each of those connectors and every task are RUNNING`),
    newAuth: plannedStep(
      'registry-auth',
      'verifying',
      `the registry answers ${a}-user (now ${n.newUser}) with HTTP 200`,
    ),
    lookup: plannedStep(
      'registry-lookup',
      'verifying',
      `as ${n.newUser}: GET <registry>/subjects/${lookupSubject(p)}/versions/latest answers 200 (the Confluent-compatible API)`,
    ),
    ...canarySteps(p, {
      slot: 'the connector serialized it through the registry',
      readBack: 'change events keep flowing',
    }),
    sawSwitch: plannedStep(
      'registry-saw-switch',
      'verifying',
      `the registry's access log (REKEY_REGISTRY_ACCESS_LOG): no request authenticated as ${n.oldUser} since the clients restarted, and (when ${p.connector} is a client) one as ${n.newUser} while the canary passed through the converter; skipped without an access log`,
    ),
    grace: plannedStep(
      'grace',
      'grace',
      `hold ${n.oldUser} accepted (${a}-previous-*) for ${p.gracePeriod}, for clients not yet restarted (signals: cleanupNow, extendGrace, rollback)`,
    ),
    // Phase 3 — remove: the registry stops accepting the old user.
    oldIdle: plannedStep(
      'old-user-idle',
      'cleanup',
      `the registry's access log: no request authenticated as ${n.oldUser} since the switch (a client still using it would be cut off: the cleanup parks instead); not in compromise mode; skipped without an access log`,
    ),
    forgetOld: plannedStep('forget-old-user', 'cleanup', `remove ${a}-previous-* (${n.oldUser}) from secret ${s}`),
    restartRemove: plannedStep(
      'restart-registry:remove',
      'cleanup',
      `restart the Schema Registry so it reads its users again (${n.oldUser} no longer among them)`,
    ),
    oldRefused: plannedStep(
      'old-user-refused',
      'cleanup',
      `wait until the registry answers ${n.oldUser} (its credential in ${s}-backup) with HTTP 401 (${waitS})`,
    ),
    newStillAccepted: plannedStep(
      'new-user-still-accepted',
      'cleanup',
      `wait until the registry answers ${n.newUser} (${a}-user) with HTTP 200 (${waitS})`,
    ),
    healAfterRemove: plannedStep(
      'tasks-after-remove',
      'cleanup',
      `restart any task of ${p.connector} that FAILED while the registry restarted, watching ${p.clientWatch ?? 'PT15S'}, wait RUNNING`,
    ),
    removeVersions: plannedStep(
      'remove-versions',
      'cleanup',
      `delete secrets ${s}-pending, ${s}-backup and the canary row`,
    ),
    accessValidation: plannedStep(
      'access-validation',
      'cleanup',
      'the runbook checklist lines of schema-registry (read only); a failed line is reported in the result and the audit log, not rolled back',
    ),
  };
}

export type RegistrySteps = ReturnType<typeof registrySteps>;

/** The steps in the order the rotation runs them (the dry run's plan). */
export function orderedRegistrySteps(steps: RegistrySteps): PlannedStep[] {
  return Object.values(steps);
}
