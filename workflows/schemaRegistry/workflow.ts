import { ApplicationFailure, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import type { AccessLogMark } from '../../activities/registryAccessLog.js';
import {
  activityOptions,
  parseIsoDuration,
  Rotation,
  type RotationResult,
  procedureActivities,
  gatePreflight,
  resolvePlanOnWorker,
  restartStamp,
  proveByCanary,
} from '../rotation/index.js';
import { alignToWindow } from '../../contracts/window.js';
import {
  lookupSubject,
  registryUserName,
  type SchemaRegistryRotationInput,
  type SchemaRegistryRotationPlan,
} from '../../contracts/input/schemaRegistry.js';
import { authAccepted, evaluateRegistryPreflight } from './preflight.js';
import { orderedRegistrySteps, type RegistrySteps, registrySteps } from './steps.js';

const { read, change, wait, undo, worker } = procedureActivities();

/** What every phase of one run works with. */
interface Run {
  r: Rotation;
  plan: SchemaRegistryRotationPlan;
  steps: RegistrySteps;
  rotationId: string;
  oldUser: string;
  newUser: string;
  /** Canary marker of this run (bytes matched in Kafka records). */
  marker: string;
  /** Waits on the registry, bounded by registryWaitSeconds (up to 900 s, above the kit's 11-minute wait). */
  registry: { wait: Activities; undo: Activities };
  /** Whether phase 1 restarted the registry (its undo restarts it again only then). */
  restartedWithNewUser: boolean;
  /** The connectors moved onto the new user: every one that authenticates as the account (runs from before the patch: plan.connector). */
  clients: string[];
  /** Where the registry's access log stood once the clients ran on the new user (null: no access log, or a run from before the proof). */
  switchedAt?: AccessLogMark | null;
}

/**
 * The runbook's "Schema Registry Credential Rotation", done with two valid users so no
 * client ever sees a 401: add the new user beside the old one, move the clients, remove the
 * old user after grace. One rotation per secret at a time (`rotate-schema-registry/<secret>`).
 */
export async function rotateSchemaRegistryCredentials(input: SchemaRegistryRotationInput): Promise<RotationResult> {
  const plan = await resolvePlanOnWorker(() => worker.resolveSchemaRegistryPlan(input));
  const { workflowId, runId } = workflowInfo();
  const r = Rotation.forPlan(plan, {
    procedure: 'schema-registry',
    lease: `connector/${plan.connector}`,
    component: 'schema_registry',
    // developer keeps the series it always had; admin and probe get their own
    metricsComponent: plan.account === 'developer' ? undefined : `schema_registry_${plan.account}`,
    details: {
      account: plan.account,
      gracePeriod: plan.gracePeriod,
      secret: plan.secret,
      connector: plan.connector,
      subjectPrefix: plan.subjectPrefix,
    },
    validation: {
      components: ['schema-registry'],
      targets: { registrySecret: plan.secret, topicPrefix: plan.subjectPrefix },
    },
    orderedAudit: true,
  });

  return r.run(async () => {
    // 1. Pre-flight: read only; nothing is changed if it fails (unless forced, with a reason).
    r.setPhase('preflight');
    const found = await r.step(
      'preflight',
      () => preflight(plan, r),
      (a) => `current user ${a.user}`,
    );
    const clients = found.clients ?? [plan.connector];
    const newUser = registryUserName(plan.userPrefix, new Date(), [found.user, found.next, found.previous]);
    [r.from, r.to] = [found.user, newUser];
    const steps = registrySteps(plan, { oldUser: found.user, newUser });
    if (plan.dryRun) return r.dryRun(orderedRegistrySteps(steps));
    const run: Run = {
      r,
      plan,
      steps,
      rotationId: `${workflowId}/${runId}`,
      oldUser: found.user,
      newUser,
      marker: `rekey-${runId}`,
      registry: registryWaits(plan),
      restartedWithNewUser: false,
      clients,
    };

    await addNewUser(run); // 2. phase 1: the registry accepts both users
    await switchClients(run); // 3. phase 2: clients use the new user; proven by auth, lookup and a canary
    // 4. the old user stays accepted; rollback works until phase 3 (compromise: no grace)
    if (plan.compromise && patched('compromise-mode'))
      r.tracker.note('grace', 'skipped', 'compromise: the old user is removed at once');
    else await r.holdGrace(graceEndingInWindow(plan));
    await removeOldUser(run); // 5. phase 3: the registry refuses the old user (a restart: inside the maintenance window)
    return 'completed';
  });
}

/**
 * Phase 3 restarts the registry, so a scheduled run's grace ends inside its maintenance
 * window (the same hours, a later day) rather than exactly gracePeriod after the switch, at
 * whatever time that is. Manual runs (no window) and runs from before the patch: gracePeriod.
 */
function graceEndingInWindow(plan: SchemaRegistryRotationPlan): number {
  const graceMs = parseIsoDuration(plan.gracePeriod)!;
  const window = plan.maintenanceWindow;
  if (!window?.opensAt || !patched('registry-cleanup-in-window')) return graceMs;
  const now = Date.now();
  return alignToWindow(now + graceMs, window) - now;
}

/** Phase 1 — add: the new user is staged, then accepted by the registry beside the old one (a restart: Apicurio reads its users at start). */
async function addNewUser(run: Run): Promise<void> {
  const { r, plan, steps, rotationId, newUser } = run;
  const ref = { secret: plan.secret, account: plan.account };
  r.setPhase('staging');
  await r.change(steps.stage, {
    run: () => change.stageRegistryUser({ ...ref, newUser, rotationId }),
    undo: () => undo.removeCredentialVersions({ secret: plan.secret, versions: ['pending'] }),
    show: (x) => `${x.secret} holds ${x.user} fp=${x.fingerprint}`,
  });
  await r.change(steps.accept, {
    run: () => change.acceptRegistryUser({ ...ref, rotationId }),
    undo: () => forgetNewUser(run),
    show: (x) => `${plan.account}-next-user ${x.user}, ${x.secret} fp=${x.fingerprint}`,
  });
  run.restartedWithNewUser = true;
  await r.step(steps.restartAdd.name, () => wait.restartRegistry({ restartedAt: restartStamp() }));
  const timeoutMs = plan.registryWaitSeconds * 1000;
  await r.wait(
    steps.newAccepted.name,
    () => run.registry.wait.waitRegistryAuth({ ...ref, slot: 'next', expectStatus: 200, timeoutMs }),
    (x) => `${x.user}: HTTP ${x.status} after ${x.waitedMs} ms`,
  );
  await r.wait(
    steps.oldAccepted.name,
    () => run.registry.wait.waitRegistryAuth({ ...ref, slot: 'current', expectStatus: 200, timeoutMs }),
    (x) => `${x.user}: HTTP ${x.status}`,
  );
  await r.step(
    steps.healAfterAdd.name,
    () => wait.restartFailedTasks({ connector: plan.connector, settleMs: clientWatchMs(plan) }),
    healed,
  );
  r.checkpoint('both-accepted');
}

/** Phase 2 — switch clients: the credential Connect reads is promoted, its tasks restarted, and the switch proven. */
async function switchClients(run: Run): Promise<void> {
  const { r, plan, steps, rotationId, newUser, marker } = run;
  const ref = { secret: plan.secret, account: plan.account };
  r.setPhase('switching');
  await r.change(steps.promote, {
    run: () => change.promoteRegistryUser({ ...ref, rotationId }),
    undo: () => switchBack(run),
    show: (x) => `${plan.account}-user now ${x.user}, ${x.previousUser} still accepted as previous`,
  });
  await r.step(
    steps.restartTasks.name,
    () => restartClients(run.clients, wait),
    () => run.clients.join(', ') || 'no connector authenticates as this account',
  );
  await r.step(
    steps.running.name,
    () => clientsRunning(run.clients, wait),
    (states) => states.join('; '),
  );
  const registrySide = patched('registry-side-proof');
  if (registrySide) run.switchedAt = await read.registryAccessLogMark();
  r.checkpoint('switch');

  r.setPhase('verifying');
  await r.wait(
    steps.newAuth.name,
    () => expectAccepted(ref, newUser),
    (x) => `${x.user}: HTTP ${x.status}`,
  );
  await r.wait(
    steps.lookup.name,
    () => lookupAs(plan, newUser),
    (x) => `${x.subject} v${x.version} (id ${x.id}) as ${x.user}`,
  );
  const sinceMs = Date.now() - 5_000;
  // rekey's own lookups above authenticate as the new user too: the converter's request is the one after this mark
  const beforeCanary = run.switchedAt ? await read.registryAccessLogMark() : null;
  await proveByCanary(r, { change, wait, undo }, { steps, path: plan, marker, sinceMs });
  if (run.switchedAt && beforeCanary)
    await r.step(
      steps.sawSwitch.name,
      () => registrySawSwitch(run, run.switchedAt!, beforeCanary),
      (x) => x,
    );
  else if (registrySide)
    r.tracker.note(steps.sawSwitch.name, 'skipped', 'no registry access log configured (REKEY_REGISTRY_ACCESS_LOG)');
}

/** The registry's side: the clients stopped authenticating as the old user, and the canary's connector authenticated as the new one. */
async function registrySawSwitch(run: Run, switchedAt: AccessLogMark, beforeCanary: AccessLogMark): Promise<string> {
  const { plan, oldUser, newUser } = run;
  const old = (await read.registryRequestsBy({ users: [oldUser], from: switchedAt })).requests[oldUser] ?? 0;
  const converter = run.clients.includes(plan.connector)
    ? ((await read.registryRequestsBy({ users: [newUser], from: beforeCanary })).requests[newUser] ?? 0)
    : undefined;
  const seen = `${old} request(s) as ${oldUser} since the switch${converter === undefined ? '' : `, ${converter} as ${newUser} while the canary passed`}`;
  if (old > 0)
    throw ApplicationFailure.nonRetryable(
      `the registry still authenticates a client as ${oldUser}: ${seen}`,
      'RegistryOldUserInUse',
    );
  if (converter === 0)
    throw ApplicationFailure.nonRetryable(
      `${plan.connector}'s converter made no request as ${newUser}: ${seen}`,
      'RegistryNewUserUnused',
    );
  return seen;
}

/** Before phase 3: nobody authenticated as the old user since the switch (run's clients, or a client rekey does not know). */
async function oldUserIdle(run: Run, switchedAt: AccessLogMark): Promise<string> {
  const { oldUser } = run;
  const used = (await undo.registryRequestsBy({ users: [oldUser], from: switchedAt })).requests[oldUser] ?? 0;
  if (used > 0)
    throw ApplicationFailure.nonRetryable(
      `${used} request(s) authenticated as ${oldUser} since the switch: a client still uses it; removing it would cut that client off`,
      'RegistryOldUserInUse',
    );
  return `no request as ${oldUser} since the switch`;
}

/** Phase 3 — remove: the old user leaves the secret, the registry restarts without it, and is proven to refuse it (401) while accepting the new one. */
async function removeOldUser(run: Run): Promise<void> {
  const { r, plan, steps, rotationId, marker } = run;
  const ref = { secret: plan.secret, account: plan.account };
  const timeoutMs = plan.registryWaitSeconds * 1000;
  await r.cleanup(async () => {
    if (run.switchedAt && !plan.compromise)
      await r.persist(
        steps.oldIdle.name,
        () => oldUserIdle(run, run.switchedAt!),
        (x) => x,
      );
    await r.persist(steps.forgetOld.name, () => undo.forgetRegistryUser({ ...ref, slot: 'previous', rotationId }));
    await r.persist(steps.restartRemove.name, () => undo.restartRegistry({ restartedAt: restartStamp() }));
    const refused = await r.persist(
      steps.oldRefused.name,
      () => run.registry.undo.waitRegistryAuth({ ...ref, slot: 'backup', expectStatus: 401, timeoutMs }),
      (x) => `${x.user}: HTTP ${x.status} after ${x.waitedMs} ms`,
    );
    if (refused)
      r.audit.record(steps.oldRefused.name, 'old_user_refused', 'success', {
        validation_status: 'passed',
        detail: `${refused.user}: HTTP ${refused.status}`,
      });
    await r.persist(
      steps.newStillAccepted.name,
      () => run.registry.undo.waitRegistryAuth({ ...ref, slot: 'current', expectStatus: 200, timeoutMs }),
      (x) => `${x.user}: HTTP ${x.status}`,
    );
    await r.persist(
      steps.healAfterRemove.name,
      () => undo.restartFailedTasks({ connector: plan.connector, settleMs: clientWatchMs(plan) }),
      healed,
    );
    await r.persist(steps.removeVersions.name, async () => {
      await undo.removeCredentialVersions({ secret: plan.secret, versions: ['pending', 'backup'] });
      await undo.removeCanary({ marker });
    });
  });
}

/** Runs recorded before the field existed carry no clientWatch: the 15 s they watched. */
const clientWatchMs = (plan: SchemaRegistryRotationPlan): number => parseIsoDuration(plan.clientWatch ?? 'PT15S')!;

/** Registry waits get a start-to-close above their own bound (registryWaitSeconds may exceed the kit's 600 s waits). */
function registryWaits(plan: SchemaRegistryRotationPlan): Run['registry'] {
  const startToCloseTimeout = `${Math.max(660, plan.registryWaitSeconds + 60)}s`;
  return {
    wait: proxyActivities<Activities>({ ...activityOptions.wait, startToCloseTimeout }),
    undo: proxyActivities<Activities>({ ...activityOptions.undo, startToCloseTimeout }),
  };
}

async function preflight(
  plan: SchemaRegistryRotationPlan,
  r: Rotation,
): Promise<{ user: string; next: string | null; previous: string | null; clients?: string[] }> {
  const ref = { secret: plan.secret, account: plan.account };
  const [account, connector, auth] = await Promise.all([
    read.describeRegistryAccount(ref),
    read.connectorStatus({ connector: plan.connector }),
    read.registryAuth({ ...ref, slot: 'current' }).catch(() => undefined),
  ]);
  const currentAuth = auth ?? { user: account.user, status: 0 };
  const subjects = authAccepted(currentAuth)
    ? (await read.registryCompatibility({ ...ref, subjectPrefix: plan.subjectPrefix })).subjects
    : null;
  // every connector that authenticates as the account is moved, not only plan.connector (the S3 sink reads probe's)
  const clients = patched('registry-every-client')
    ? await read.registryAccountClients({ ...ref, currentUser: account.user })
    : undefined;
  const checks = evaluateRegistryPreflight(
    { currentAuth, subjects, connector, account, clients },
    { ...ref, subjectPrefix: plan.subjectPrefix, lookupSubject: lookupSubject(plan) },
  );
  gatePreflight(r.audit, checks, { force: plan.force });
  return { ...account, ...(clients ? { clients: clients.clients } : {}) };
}

/** The switch: each client's tasks restarted, so its converter's config provider re-reads the secret. */
async function restartClients(clients: string[], acts: Activities): Promise<void> {
  for (const connector of clients) await acts.restartConnector({ connector, tasksOnly: true });
}

async function clientsRunning(clients: string[], acts: Activities): Promise<string[]> {
  const states: string[] = [];
  for (const connector of clients) {
    const s = await acts.waitConnectorRunning({ connector });
    states.push(`${connector} tasks ${s.tasks.map((t) => `${t.id}:${t.state}`).join(',')}`);
  }
  return states;
}

/** The registry answers the account's current user, which must be `user`, with 200. */
async function expectAccepted(ref: { secret: string; account: string }, user: string) {
  const a = await read.registryAuth({ ...ref, slot: 'current' });
  if (a.user !== user || !authAccepted(a))
    throw ApplicationFailure.nonRetryable(
      `registry answered ${ref.account}-user ${a.user} with HTTP ${a.status}; expected ${user} accepted`,
      'RegistryAuthFailed',
    );
  return a;
}

/** A client's lookup made with the new credential: the latest schema of the users table. */
async function lookupAs(plan: SchemaRegistryRotationPlan, user: string) {
  const x = await read.registryLookup({ secret: plan.secret, account: plan.account, subject: lookupSubject(plan) });
  if (x.user !== user)
    throw ApplicationFailure.nonRetryable(
      `lookup was made as ${x.user}, not the new user ${user}`,
      'RegistryLookupFailed',
    );
  return x;
}

/** accept-user's compensation: the registry accepts only the old user again. */
async function forgetNewUser(run: Run): Promise<void> {
  const { plan, rotationId } = run;
  const ref = { secret: plan.secret, account: plan.account };
  await undo.forgetRegistryUser({ ...ref, slot: 'next', rotationId });
  if (!run.restartedWithNewUser) return; // the registry never read the new user
  await undo.restartRegistry({ restartedAt: restartStamp() });
  await run.registry.undo.waitRegistryAuth({
    ...ref,
    slot: 'current',
    expectStatus: 200,
    timeoutMs: plan.registryWaitSeconds * 1000,
  });
  await undo.restartFailedTasks({ connector: plan.connector, settleMs: clientWatchMs(plan) });
}

const healed = (x: { restarted: number[] }) =>
  x.restarted.length ? `restarted failed task(s) ${x.restarted.join(',')}` : 'no task failed';

/** promote's compensation: clients back on the old user (still accepted), the backup gone. */
async function switchBack(run: Run): Promise<void> {
  const { plan, rotationId } = run;
  await undo.restoreRegistryBackup({ secret: plan.secret, rotationId });
  await restartClients(run.clients, undo);
  await clientsRunning(run.clients, undo);
  await undo.removeCredentialVersions({ secret: plan.secret, versions: ['backup'] });
}
