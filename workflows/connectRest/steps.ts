import { plannedStep } from '../rotation/definitions.js';
import type { ConnectRestRotationPlan } from '../../contracts/input/connectRest.js';

/** A worker that has just restarted answers neither 200 nor 401 for a moment. */
export const AUTH_WAIT_MS = 120_000;

/**
 * Every step of a Kafka Connect REST credential's rotation (KAFKA_CONNECT_PASSWORD) with the
 * call it makes (passwords never shown) and its compensation. Three phases as for the
 * registry: Connect accepts both users (a worker restart: Kafka's PropertyFileLoginModule reads
 * its file once per JVM), the clients move (they read the secret per request), the old user is
 * removed (another restart) and proven refused.
 */
export function connectRestSteps(p: ConnectRestRotationPlan, n: { oldUser: string; newUser: string }) {
  const s = p.secret;
  const file = `${s}'s ${p.usersKey}`;
  const restart = (why: string) =>
    `restart the Kafka Connect worker (Kubernetes: a rollout restart; its new pods mount ${s} as it is now) so the login module reads ${p.usersKey} again: ${why}; wait until every connector and task is RUNNING (≤ ${p.connectWaitSeconds} s)`;
  return {
    preflight: plannedStep(
      'preflight',
      'preflight',
      `read only: ${s} names ${n.oldUser}, whom ${p.usersKey} lists and Connect answers with HTTP 200; every connector and task RUNNING; rekey's own credential (kafkaConnect.auth.secret) is ${s} or another user; no ${s}-pending/-backup left over`,
    ),
    // Phase 1 — Connect accepts both users.
    stage: plannedStep(
      'stage-user',
      'staging',
      `write secret ${s}-pending {username: ${n.newUser}, password: <32 random bytes, generated on the worker, never shown>}`,
      `delete secret ${s}-pending`,
    ),
    backup: plannedStep('backup', 'staging', `copy ${s} (every key) to ${s}-backup`, `delete secret ${s}-backup`),
    acceptBoth: plannedStep(
      'accept-both',
      'staging',
      `add ${n.newUser}=<password> to ${file} (${n.oldUser} stays)`,
      `remove ${n.newUser} from ${file} and restart the Kafka Connect worker`,
    ),
    restartAcceptBoth: plannedStep(
      'restart-accept-both',
      'staging',
      restart(`it accepts ${n.oldUser} and ${n.newUser}`),
    ),
    bothAccepted: plannedStep(
      'both-accepted',
      'staging',
      `GET /connectors answers 200 with ${s}-pending (${n.newUser}) and with ${s} (${n.oldUser})`,
    ),
    // Phase 2 — the clients move.
    promote: plannedStep(
      'promote',
      'switching',
      `write username/password of ${s}-pending into ${s} (${p.usersKey} unchanged): rekey and every client that reads ${s} per request send ${n.newUser} from their next request`,
      `restore ${s} from ${s}-backup`,
    ),
    currentAccepted: plannedStep(
      'current-accepted',
      'verifying',
      `GET /connectors answers 200 with ${s} (now ${n.newUser}), and rekey's own client (kafkaConnect.auth.secret) is answered`,
    ),
    grace: p.compromise
      ? plannedStep('grace', 'grace', `none (compromise): ${n.oldUser} is removed at once`)
      : plannedStep(
          'grace',
          'grace',
          `durable timer for ${p.gracePeriod}: ${n.oldUser} stays accepted for clients that read ${s} at start (restart them meanwhile); signals: cleanupNow, extendGrace, rollback`,
        ),
    // Phase 3 — the old user goes.
    dropOld: plannedStep('drop-old-user', 'cleanup', `remove ${n.oldUser} from ${file} (never the last user)`),
    restartDropOld: plannedStep('restart-drop-old', 'cleanup', restart(`it accepts ${n.newUser} only`)),
    oldRefused: plannedStep(
      'old-user-refused',
      'cleanup',
      `GET /connectors answers 401 with ${s}-backup (${n.oldUser})`,
    ),
    newStillAccepted: plannedStep(
      'new-user-still-accepted',
      'cleanup',
      `GET /connectors answers 200 with ${s} (${n.newUser}); every connector and task RUNNING`,
    ),
    removeVersions: plannedStep('remove-versions', 'cleanup', `delete secrets ${s}-pending and ${s}-backup`),
  };
}

export type ConnectRestSteps = ReturnType<typeof connectRestSteps>;
