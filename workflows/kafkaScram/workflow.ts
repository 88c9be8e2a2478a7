import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import type { KafkaPrincipal } from '../../activities/kafkaPrincipals.js';
import type { LogMark } from '../../activities/logReader.js';
import {
  gatePreflight,
  parseIsoDuration,
  procedureActivities,
  resolvePlanOnWorker,
  restartStamp,
  Rotation,
  type RotationResult,
  proveByCanary,
} from '../rotation/index.js';
import { check, type CheckResult } from '../rotation/preflight.js';
import {
  kafkaPrincipalName,
  type KafkaScramRotationInput,
  type KafkaScramRotationPlan,
} from '../../contracts/input/kafkaScram.js';
import { kafkaScramSteps, type KafkaScramSteps, LOGIN_WAIT_MS } from './steps.js';

const { read, change, wait, undo, worker } = procedureActivities();

/** The secret's keys are a SCRAM principal's (username, password), not a database user's. */
const keys = 'sasl' as const;

/** What every phase of one run works with. */
interface Run {
  r: Rotation;
  plan: KafkaScramRotationPlan;
  steps: KafkaScramSteps;
  rotationId: string;
  oldUser: string;
  newUser: string;
  marker: string;
  /** Where the brokers' authorizer log stood once the worker ran on the new principal (null: no log configured). */
  switchedAt?: LogMark | null;
}

/**
 * The platform plan's KAFKA_SASL_PASSWORD, rotated with two principals so no client is ever
 * refused: a new principal with the old one's ACLs, the Connect worker restarted onto it (its
 * clients and every connector's read the secret when the worker starts), the old principal
 * removed after grace and proven refused. One rotation per secret at a time
 * (`rotate-kafka-scram/<secret>`); the lease on the connector keeps a CDC or registry switch
 * from restarting the same Connect worker meanwhile.
 */
export async function rotateKafkaScramCredentials(input: KafkaScramRotationInput): Promise<RotationResult> {
  const plan = await resolvePlanOnWorker(() => worker.resolveKafkaScramPlan(input));
  const { workflowId, runId } = workflowInfo();
  const r = Rotation.forPlan(plan, {
    procedure: 'kafka-scram',
    lease: `connector/${plan.connector}`,
    component: 'kafka_sasl',
    details: {
      secret: plan.secret,
      mechanism: plan.mechanism,
      connector: plan.connector,
      gracePeriod: plan.gracePeriod,
    },
    orderedAudit: true,
  });

  return r.run(async () => {
    // 1. Pre-flight: read only; nothing is changed if it fails (unless forced, with a reason).
    r.setPhase('preflight');
    const found = await r.step(
      'preflight',
      () => preflight(plan, r),
      (p) => `User:${p.user}, ${p.acls.length} ACL binding(s)`,
    );
    const newUser = kafkaPrincipalName(plan.userPrefix, found.user, new Date());
    [r.from, r.to] = [found.user, newUser];
    const steps = kafkaScramSteps(plan, { oldUser: found.user, newUser });
    if (plan.dryRun) return r.dryRun(Object.values(steps));
    const run: Run = {
      r,
      plan,
      steps,
      rotationId: `${workflowId}/${runId}`,
      oldUser: found.user,
      newUser,
      marker: `rekey-${runId}`,
    };

    await addPrincipal(run); // 2. phase 1: a second principal, with the same ACLs, that can log in
    await switchClients(run); // 3. phase 2: the clients log in as it; proven by a login and a canary
    // 4. the old principal stays valid; rollback works until phase 3 (compromise: no grace)
    if (plan.compromise) r.tracker.note('grace', 'skipped', 'compromise: the old principal is removed at once');
    else await r.holdGrace(parseIsoDuration(plan.gracePeriod)!);
    await removeOldPrincipal(run); // 5. phase 3: the old principal's credential and ACLs are gone
    return 'completed';
  });
}

/** Phase 1 — a second principal: staged in the secret store, created on the broker, proven to log in. */
async function addPrincipal(run: Run): Promise<void> {
  const { r, plan, steps, rotationId, oldUser, newUser } = run;
  r.setPhase('staging');
  await r.change(steps.stage, {
    run: () => change.stagePendingCredential({ secret: plan.secret, newUser, rotationId, keys }),
    undo: () => undo.removeCredentialVersions({ secret: plan.secret, versions: ['pending'] }),
    show: (x) => `${x.secret} holds User:${x.user} fp=${x.fingerprint}`,
  });
  await r.change(steps.create, {
    run: () =>
      change.createKafkaPrincipal({ from: `${plan.secret}-pending`, likeUser: oldUser, mechanism: plan.mechanism }),
    undo: () => undo.deleteKafkaPrincipal({ user: newUser, mechanism: plan.mechanism }),
    show: (x) => `User:${x.user} with ${x.acls} ACL binding(s)`,
  });
  await r.wait(
    steps.newLogin.name,
    () => login(`${plan.secret}-pending`, plan, 'accepted', wait),
    (x) => `User:${x.user} accepted after ${x.waitedMs} ms`,
  );
}

/** Phase 2 — the clients move: the secret promoted, the Connect worker restarted, the switch proven. */
async function switchClients(run: Run): Promise<void> {
  const { r, plan, steps, rotationId, marker } = run;
  r.setPhase('switching');
  await r.step(
    steps.backup.name,
    () => change.backupCurrentCredential({ secret: plan.secret, rotationId, keys }),
    (x) => `${x.secret} holds User:${x.user}`,
  );
  await r.change(steps.promote, {
    run: () => change.promotePendingCredential({ secret: plan.secret, rotationId, keys }),
    undo: () => switchBack(run),
    show: (x) => `${x.secret} now User:${x.user} fp=${x.fingerprint}`,
  });
  await r.step(steps.restart.name, () => restartWorker(plan, wait));
  run.switchedAt = await read.kafkaAuthorizerLogMark();
  r.checkpoint('switch');

  r.setPhase('verifying');
  await r.wait(
    steps.currentLogin.name,
    () => login(plan.secret, plan, 'accepted', wait),
    (x) => `User:${x.user} accepted`,
  );
  await proveByCanary(r, { change, wait, undo }, { steps, path: plan, marker });
  if (run.switchedAt)
    await r.step(
      steps.sawSwitch.name,
      () => brokerSawSwitch(run, run.switchedAt!),
      (x) => x,
    );
  else r.tracker.note(steps.sawSwitch.name, 'skipped', 'no authorizer log configured (REKEY_KAFKA_AUTHORIZER_LOG)');
}

/** The brokers' side: since the restart, nothing logged in as the old principal, and the clients as the new one. */
async function brokerSawSwitch(run: Run, from: LogMark): Promise<string> {
  const { oldUser, newUser } = run;
  const seen = await read.kafkaRequestsBy({ users: [oldUser, newUser], from });
  const [old, now] = [seen.requests[oldUser] ?? 0, seen.requests[newUser] ?? 0];
  const text = `${old} request(s) as User:${oldUser}, ${now} as User:${newUser} since the worker restarted (${seen.source})`;
  if (old > 0)
    throw ApplicationFailure.nonRetryable(
      `a client still logs in as User:${oldUser}: ${text}`,
      'KafkaOldPrincipalInUse',
    );
  if (now === 0)
    throw ApplicationFailure.nonRetryable(`no client logged in as User:${newUser}: ${text}`, 'KafkaNewPrincipalUnused');
  return text;
}

/** Before phase 3: nobody used the old principal since the switch (a client rekey does not restart would be cut off). */
async function oldPrincipalIdle(run: Run, from: LogMark): Promise<string> {
  const seen = await undo.kafkaRequestsBy({ users: [run.oldUser], from });
  const used = seen.requests[run.oldUser] ?? 0;
  if (used > 0)
    throw ApplicationFailure.nonRetryable(
      `${used} request(s) as User:${run.oldUser} since the switch: a client still uses it; removing it would cut that client off`,
      'KafkaOldPrincipalInUse',
    );
  return `no request as User:${run.oldUser} since the switch (${seen.source})`;
}

/** Phase 3 — the old principal goes, and a login with its credential is refused. */
async function removeOldPrincipal(run: Run): Promise<void> {
  const { r, plan, steps, oldUser, marker } = run;
  await r.cleanup(async () => {
    if (run.switchedAt && !plan.compromise)
      await r.persist(
        steps.oldIdle.name,
        () => oldPrincipalIdle(run, run.switchedAt!),
        (x) => x,
      );
    else
      r.tracker.note(
        steps.oldIdle.name,
        'skipped',
        plan.compromise ? 'compromise: removed at once' : 'no authorizer log configured',
      );
    await r.persist(
      steps.removeOld.name,
      () => undo.deleteKafkaPrincipal({ user: oldUser, mechanism: plan.mechanism }),
      (x) => `User:${x.user}: ${x.acls} ACL binding(s) and its credential removed`,
    );
    const refused = await r.persist(
      steps.oldRefused.name,
      () => login(`${plan.secret}-backup`, plan, 'refused', undo),
      (x) => `User:${x.user} refused after ${x.waitedMs} ms`,
    );
    if (refused)
      r.audit.record(steps.oldRefused.name, 'old_principal_refused', 'success', {
        validation_status: 'passed',
        detail: `User:${refused.user}: authentication failed`,
      });
    await r.persist(
      steps.newStillAccepted.name,
      () => login(plan.secret, plan, 'accepted', undo),
      (x) => `User:${x.user} accepted`,
    );
    await r.persist(steps.removeVersions.name, async () => {
      await undo.removeCredentialVersions({ secret: plan.secret, versions: ['pending', 'backup'] });
      await undo.removeCanary({ marker });
    });
  });
}

const login = (secret: string, plan: KafkaScramRotationPlan, expect: 'accepted' | 'refused', acts: typeof wait) =>
  acts.waitKafkaLogin({ secret, mechanism: plan.mechanism, expect, timeoutMs: LOGIN_WAIT_MS });

const restartWorker = (plan: KafkaScramRotationPlan, acts: typeof wait) =>
  acts.restartConnectWorker({
    connector: plan.connector,
    timeoutMs: plan.connectWaitSeconds * 1000,
    restartedAt: restartStamp(),
  });

/** promote's compensation: the old principal back in the secret, the worker restarted onto it, the backup gone. */
async function switchBack(run: Run): Promise<void> {
  const { plan, rotationId } = run;
  await undo.restoreBackupCredential({ secret: plan.secret, rotationId, keys });
  await restartWorker(plan, undo);
  await undo.removeCredentialVersions({ secret: plan.secret, versions: ['backup'] });
}

async function preflight(plan: KafkaScramRotationPlan, r: Rotation): Promise<KafkaPrincipal> {
  const [principal, connector, pending, backup] = await Promise.all([
    read.describeKafkaPrincipal({ secret: plan.secret, mechanism: plan.mechanism }),
    read.connectorStatus({ connector: plan.connector }),
    read.describeCredential({ secret: `${plan.secret}-pending`, keys }).catch(() => null),
    read.describeCredential({ secret: `${plan.secret}-backup`, keys }).catch(() => null),
  ]);
  gatePreflight(r.audit, evaluateKafkaScramPreflight(plan, principal, connector, [pending, backup]), {
    force: plan.force,
  });
  return principal;
}

/** Every check of the pre-flight, each with what it saw and what it needed. */
export function evaluateKafkaScramPreflight(
  plan: Pick<KafkaScramRotationPlan, 'secret' | 'mechanism'>,
  principal: KafkaPrincipal,
  connector: { state: string; tasks: Array<{ id: number; state: string }> },
  leftovers: Array<{ secret: string; user: string } | null>,
): CheckResult[] {
  const left = leftovers.filter((x): x is { secret: string; user: string } => x !== null);
  return [
    check(
      'broker holds the credential',
      principal.scram,
      principal.scram ? `User:${principal.user} has ${plan.mechanism}` : `no ${plan.mechanism} credential`,
      `a ${plan.mechanism} credential for the user in ${plan.secret}`,
    ),
    check(
      'principal has ACLs',
      principal.acls.length > 0,
      `${principal.acls.length} binding(s)`,
      'at least one (they are copied to the new principal)',
    ),
    check('connector running', connector.state === 'RUNNING', connector.state, 'RUNNING'),
    check(
      'tasks running',
      connector.tasks.length > 0 && connector.tasks.every((t) => t.state === 'RUNNING'),
      connector.tasks.map((t) => `${t.id}:${t.state}`).join(',') || 'no tasks',
      'every task RUNNING',
    ),
    check(
      'no rotation half-done',
      left.length === 0,
      left.map((x) => `${x.secret} (User:${x.user})`).join(', ') || 'none',
      `no ${plan.secret}-pending or -backup (finish or undo the earlier rotation first)`,
    ),
  ];
}
