import { canarySteps } from '../rotation/canary.js';
import { plannedStep } from '../rotation/definitions.js';
import type { KafkaScramRotationPlan } from '../../contracts/input/kafkaScram.js';

/** A SCRAM change reaches the brokers through the metadata log: a login sees it within seconds. */
export const LOGIN_WAIT_MS = 60_000;

/**
 * Every step of a Kafka SCRAM principal's rotation with the call it makes (passwords never
 * shown) and its compensation. The workflow names its steps from here and the dry run prints
 * this list. Three phases: a second principal with the same ACLs, the clients moved onto it
 * (the Connect worker restarted), the old principal removed after grace.
 */
export function kafkaScramSteps(p: KafkaScramRotationPlan, n: { oldUser: string; newUser: string }) {
  const s = p.secret;
  const m = p.mechanism;
  return {
    preflight: plannedStep(
      'preflight',
      'preflight',
      `read only: secret ${s} names User:${n.oldUser}; the broker holds its ${m} credential and its ACLs; connector ${p.connector} and its tasks RUNNING; no ${s}-pending/-backup left over`,
    ),
    // Phase 1 — a second principal.
    stage: plannedStep(
      'stage-principal',
      'staging',
      `write secret ${s}-pending {username: ${n.newUser}, password: <32 random bytes, generated on the worker, never shown>}`,
      `delete secret ${s}-pending`,
    ),
    create: plannedStep(
      'create-principal',
      'staging',
      `AlterUserScramCredentials: ${m} credential for User:${n.newUser} (salted on the worker: the broker never sees the password); CreateAcls: every ACL binding of User:${n.oldUser}, for User:${n.newUser}`,
      `DeleteAcls of User:${n.newUser}; AlterUserScramCredentials: delete its ${m} credential`,
    ),
    newLogin: plannedStep(
      'new-principal-login',
      'staging',
      `wait until a SASL login with ${s}-pending (User:${n.newUser}) is accepted (≤ ${LOGIN_WAIT_MS / 1000} s)`,
    ),
    // Phase 2 — the clients move.
    backup: plannedStep('backup', 'switching', `copy secret ${s} → ${s}-backup`),
    promote: plannedStep(
      'promote',
      'switching',
      `in ${s}: username/password ← User:${n.newUser} (from ${s}-pending; refused if ${s} changed since it was read)`,
      `copy ${s}-backup → ${s} (User:${n.oldUser} again), restart the Connect worker, wait until ${p.connector} runs, delete ${s}-backup`,
    ),
    restart: plannedStep(
      'restart-connect-worker',
      'switching',
      `restart the Kafka Connect worker (Kubernetes: a rollout restart of its workload; Strimzi: its manual-rolling-update annotation): its own clients and every connector's producer, consumer and admin re-read ${s} through the config provider and log in as User:${n.newUser}; wait until ${p.connector} and its tasks are RUNNING (≤ ${p.connectWaitSeconds} s)`,
    ),
    currentLogin: plannedStep(
      'current-login',
      'verifying',
      `a SASL login with ${s} (now User:${n.newUser}) is accepted`,
    ),
    ...canarySteps(p, {
      slot: `the connector's producer, as User:${n.newUser}, wrote it`,
      readBack: 'change events keep flowing',
    }),
    sawSwitch: plannedStep(
      'broker-saw-switch',
      'verifying',
      `the brokers' authorizer log (REKEY_KAFKA_AUTHORIZER_LOG): no request as User:${n.oldUser} since the worker restarted, and requests as User:${n.newUser}; skipped without an authorizer log`,
    ),
    grace: plannedStep(
      'grace',
      'grace',
      `hold User:${n.oldUser} valid for ${p.gracePeriod}, for clients not yet restarted (signals: cleanupNow, extendGrace, rollback)`,
    ),
    // Phase 3 — the old principal goes.
    oldIdle: plannedStep(
      'old-principal-idle',
      'cleanup',
      `the authorizer log: no request as User:${n.oldUser} since the switch (a client still using it would be cut off: the cleanup parks instead); not in compromise mode; skipped without an authorizer log`,
    ),
    removeOld: plannedStep(
      'remove-old-principal',
      'cleanup',
      `DeleteAcls of User:${n.oldUser}; AlterUserScramCredentials: delete its ${m} credential`,
    ),
    oldRefused: plannedStep(
      'old-principal-refused',
      'cleanup',
      `wait until a SASL login with ${s}-backup (User:${n.oldUser}) is refused (≤ ${LOGIN_WAIT_MS / 1000} s)`,
    ),
    newStillAccepted: plannedStep(
      'new-principal-still-accepted',
      'cleanup',
      `a SASL login with ${s} (User:${n.newUser}) is accepted`,
    ),
    removeVersions: plannedStep(
      'remove-versions',
      'cleanup',
      `delete secrets ${s}-pending, ${s}-backup and the canary row`,
    ),
  };
}

export type KafkaScramSteps = ReturnType<typeof kafkaScramSteps>;
