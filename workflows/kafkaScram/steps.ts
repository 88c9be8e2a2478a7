import { plannedStep } from '../rotation/definitions.js';
import type { KafkaScramRotationPlan } from '../../contracts/input/kafkaScram.js';

/** Verification waits (canary through the slot and Kafka), as in the other procedures. */
export const CANARY_TIMEOUT_MS = 120_000;
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
  const step = plannedStep;
  return {
    preflight: step(
      'preflight',
      'preflight',
      `read only: secret ${s} names User:${n.oldUser}; the broker holds its ${m} credential and its ACLs; connector ${p.connector} and its tasks RUNNING; no ${s}-pending/-backup left over`,
    ),
    // Phase 1 — a second principal.
    stage: step(
      'stage-principal',
      'staging',
      `write secret ${s}-pending {username: ${n.newUser}, password: <32 random bytes, generated on the worker, never shown>}`,
      `delete secret ${s}-pending`,
    ),
    create: step(
      'create-principal',
      'staging',
      `AlterUserScramCredentials: ${m} credential for User:${n.newUser} (salted on the worker: the broker never sees the password); CreateAcls: every ACL binding of User:${n.oldUser}, for User:${n.newUser}`,
      `DeleteAcls of User:${n.newUser}; AlterUserScramCredentials: delete its ${m} credential`,
    ),
    newLogin: step(
      'new-principal-login',
      'staging',
      `wait until a SASL login with ${s}-pending (User:${n.newUser}) is accepted (≤ ${LOGIN_WAIT_MS / 1000} s)`,
    ),
    // Phase 2 — the clients move.
    backup: step('backup', 'switching', `copy secret ${s} → ${s}-backup`),
    promote: step(
      'promote',
      'switching',
      `in ${s}: username/password ← User:${n.newUser} (from ${s}-pending; refused if ${s} changed since it was read)`,
      `copy ${s}-backup → ${s} (User:${n.oldUser} again), restart the Connect worker, wait until ${p.connector} runs, delete ${s}-backup`,
    ),
    restart: step(
      'restart-connect-worker',
      'switching',
      `restart the Kafka Connect worker (Kubernetes: a rollout restart of its workload; Strimzi: its manual-rolling-update annotation): its own clients and every connector's producer, consumer and admin re-read ${s} through the config provider and log in as User:${n.newUser}; wait until ${p.connector} and its tasks are RUNNING (≤ ${p.connectWaitSeconds} s)`,
    ),
    currentLogin: step('current-login', 'verifying', `a SASL login with ${s} (now User:${n.newUser}) is accepted`),
    canaryWrite: step(
      'canary-write',
      'verifying',
      `INSERT INTO public.rekey_canary (marker) VALUES ('rekey-<run>')`,
      `DELETE FROM public.rekey_canary WHERE marker = 'rekey-<run>'`,
    ),
    slotAdvanced: step(
      'slot-advanced',
      'verifying',
      `wait until ${p.slot}.confirmed_flush_lsn passes the canary's LSN (the connector's producer, as User:${n.newUser}, wrote it)`,
    ),
    canaryReadBack: step(
      'canary-read-back',
      'verifying',
      `read ${p.canaryTopic} from the switch on until a record carries the canary marker: change events keep flowing`,
    ),
    sawSwitch: step(
      'broker-saw-switch',
      'verifying',
      `the brokers' authorizer log (REKEY_KAFKA_AUTHORIZER_LOG): no request as User:${n.oldUser} since the worker restarted, and requests as User:${n.newUser}; skipped without an authorizer log`,
    ),
    grace: step(
      'grace',
      'grace',
      `hold User:${n.oldUser} valid for ${p.gracePeriod}, for clients not yet restarted (signals: cleanupNow, extendGrace, rollback)`,
    ),
    // Phase 3 — the old principal goes.
    oldIdle: step(
      'old-principal-idle',
      'cleanup',
      `the authorizer log: no request as User:${n.oldUser} since the switch (a client still using it would be cut off: the cleanup parks instead); not in compromise mode; skipped without an authorizer log`,
    ),
    removeOld: step(
      'remove-old-principal',
      'cleanup',
      `DeleteAcls of User:${n.oldUser}; AlterUserScramCredentials: delete its ${m} credential`,
    ),
    oldRefused: step(
      'old-principal-refused',
      'cleanup',
      `wait until a SASL login with ${s}-backup (User:${n.oldUser}) is refused (≤ ${LOGIN_WAIT_MS / 1000} s)`,
    ),
    newStillAccepted: step(
      'new-principal-still-accepted',
      'cleanup',
      `a SASL login with ${s} (User:${n.newUser}) is accepted`,
    ),
    removeVersions: step('remove-versions', 'cleanup', `delete secrets ${s}-pending, ${s}-backup and the canary row`),
  };
}

export type KafkaScramSteps = ReturnType<typeof kafkaScramSteps>;
