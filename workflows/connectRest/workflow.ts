import { workflowInfo } from '@temporalio/workflow';
import {
  gatePreflight,
  parseIsoDuration,
  procedureActivities,
  resolvePlanOnWorker,
  restartStamp,
  Rotation,
  type RotationResult,
} from '../rotation/index.js';
import { check, type CheckResult } from '../rotation/preflight.js';
import { datedUserName } from '../../contracts/input/fields.js';
import type { ConnectRestRotationInput, ConnectRestRotationPlan } from '../../contracts/input/connectRest.js';
import { AUTH_WAIT_MS, connectRestSteps, type ConnectRestSteps } from './steps.js';

const { read, change, wait, undo, worker } = procedureActivities();

/** The secret's username/password keys are a REST client's (username, password). */
const keys = 'sasl' as const;

/** What every phase of one run works with. */
interface Run {
  r: Rotation;
  plan: ConnectRestRotationPlan;
  steps: ConnectRestSteps;
  rotationId: string;
  oldUser: string;
  newUser: string;
}

/**
 * The platform plan's KAFKA_CONNECT_PASSWORD, rotated so no client of Connect's REST API is ever
 * refused: Connect made to accept a second user (a worker restart, since Kafka's
 * PropertyFileLoginModule caches its file per JVM), the clients moved (rekey first: it reads the
 * secret per request), the old user removed after grace (another restart) and proven refused.
 * One rotation per secret at a time (`rotate-connect-rest/<secret>`); the lease on the connector
 * keeps a CDC, registry or SCRAM switch from restarting the same Connect worker meanwhile.
 */
export async function rotateConnectRestCredentials(input: ConnectRestRotationInput): Promise<RotationResult> {
  const plan = await resolvePlanOnWorker(() => worker.resolveConnectRestPlan(input));
  const { workflowId, runId } = workflowInfo();
  const r = Rotation.forPlan(plan, {
    procedure: 'connect-rest',
    lease: `connector/${plan.connector}`,
    component: 'kafka_connect_rest',
    details: { secret: plan.secret, usersKey: plan.usersKey, connector: plan.connector, gracePeriod: plan.gracePeriod },
    orderedAudit: true,
  });

  return r.run(async () => {
    // 1. Pre-flight: read only; nothing is changed if it fails (unless forced, with a reason).
    r.setPhase('preflight');
    const found = await r.step(
      'preflight',
      () => preflight(plan, r),
      (p) => `${p.user}; ${plan.usersKey} lists ${p.users.join(', ')}`,
    );
    const newUser = datedUserName(plan.userPrefix, found.user, new Date());
    [r.from, r.to] = [found.user, newUser];
    const steps = connectRestSteps(plan, { oldUser: found.user, newUser });
    if (plan.dryRun) return r.dryRun(Object.values(steps));
    const run: Run = { r, plan, steps, rotationId: `${workflowId}/${runId}`, oldUser: found.user, newUser };

    await acceptBoth(run); // 2. phase 1: Connect accepts the old user and the new one
    await switchClients(run); // 3. phase 2: the clients send the new user
    // 4. the old user stays accepted; rollback works until phase 3 (compromise: no grace)
    if (plan.compromise) r.tracker.note('grace', 'skipped', 'compromise: the old user is removed at once');
    else await r.holdGrace(parseIsoDuration(plan.gracePeriod)!);
    await removeOldUser(run); // 5. phase 3: Connect accepts the new user only
    return 'completed';
  });
}

/** Phase 1 — a second user: staged, added to the users Connect reads, the worker restarted, both proven accepted. */
async function acceptBoth(run: Run): Promise<void> {
  const { r, plan, steps, rotationId, newUser } = run;
  const users = { secret: plan.secret, usersKey: plan.usersKey };
  r.setPhase('staging');
  await r.change(steps.stage, {
    run: () => change.stagePendingCredential({ secret: plan.secret, newUser, rotationId, keys }),
    undo: () => undo.removeCredentialVersions({ secret: plan.secret, versions: ['pending'] }),
    show: (x) => `${x.secret} holds ${x.user} fp=${x.fingerprint}`,
  });
  await r.change(steps.backup, {
    run: () => change.backupCurrentCredential({ secret: plan.secret, rotationId, keys }),
    undo: () => undo.removeCredentialVersions({ secret: plan.secret, versions: ['backup'] }),
    show: (x) => `${x.secret} holds ${x.user}`,
  });
  await r.change(steps.acceptBoth, {
    run: () => change.acceptConnectRestUser({ ...users, from: `${plan.secret}-pending` }),
    undo: async () => {
      await undo.dropConnectRestUser({ ...users, user: newUser });
      await restartWorker(plan, undo);
    },
    show: (x) => `${plan.usersKey} lists ${x.users.join(', ')}`,
  });
  await r.step(steps.restartAcceptBoth.name, () => restartWorker(plan, wait), restarted);
  await r.wait(
    steps.bothAccepted.name,
    async () => {
      const next = await auth(`${plan.secret}-pending`, 'accepted', wait);
      const current = await auth(plan.secret, 'accepted', wait);
      return `${next.user}: HTTP ${next.status}, ${current.user}: HTTP ${current.status}`;
    },
    (x) => x,
  );
}

/** Phase 2 — the clients move: the secret promoted; rekey's own client and the secret's credential proven accepted. */
async function switchClients(run: Run): Promise<void> {
  const { r, plan, steps, rotationId } = run;
  r.setPhase('switching');
  await r.change(steps.promote, {
    run: () => change.promotePendingCredential({ secret: plan.secret, rotationId, keys }),
    undo: () => undo.restoreBackupCredential({ secret: plan.secret, rotationId, keys }),
    show: (x) => `${x.secret} now ${x.user} fp=${x.fingerprint}`,
  });
  r.checkpoint('switch');
  r.setPhase('verifying');
  await r.wait(
    steps.currentAccepted.name,
    async () => {
      const current = await auth(plan.secret, 'accepted', wait);
      const all = await wait.waitAllConnectorsRunning({ timeoutMs: AUTH_WAIT_MS });
      return `${current.user}: HTTP ${current.status}; rekey's client sees ${all.connectors} connector(s), ${all.tasks} task(s) RUNNING`;
    },
    (x) => x,
  );
}

/** Phase 3 — the old user goes: removed from the file, the worker restarted, refused; the new one still accepted. */
async function removeOldUser(run: Run): Promise<void> {
  const { r, plan, steps } = run;
  await r.cleanup(async () => {
    // the switch's lease was released at grace: no other switch may restart the worker meanwhile
    await r.withLease(`connector/${plan.connector}`, 'lease', () => dropOldUser(run));
    await r.persist(steps.removeVersions.name, () =>
      undo.removeCredentialVersions({ secret: plan.secret, versions: ['pending', 'backup'] }),
    );
  });
}

/** Phase 3's body: the old user out of the file, the worker restarted, the old user refused and the new one still accepted. */
async function dropOldUser(run: Run): Promise<void> {
  const { r, plan, steps, oldUser } = run;
  await r.persist(
    steps.dropOld.name,
    () => undo.dropConnectRestUser({ secret: plan.secret, usersKey: plan.usersKey, user: oldUser }),
    (x) => `${plan.usersKey} lists ${x.users.join(', ')}`,
  );
  await r.persist(steps.restartDropOld.name, () => restartWorker(plan, undo), restarted);
  const refused = await r.persist(
    steps.oldRefused.name,
    () => auth(`${plan.secret}-backup`, 'refused', undo),
    (x) => `${x.user}: HTTP ${x.status}`,
  );
  if (refused)
    r.audit.record(steps.oldRefused.name, 'old_user_refused', 'success', {
      validation_status: 'passed',
      detail: `${refused.user}: HTTP 401`,
    });
  await r.persist(
    steps.newStillAccepted.name,
    async () => {
      const current = await auth(plan.secret, 'accepted', undo);
      const all = await undo.waitAllConnectorsRunning({ timeoutMs: AUTH_WAIT_MS });
      return `${current.user}: HTTP ${current.status}; ${all.connectors} connector(s), ${all.tasks} task(s) RUNNING`;
    },
    (x) => x,
  );
}

const auth = (secret: string, expect: 'accepted' | 'refused', acts: typeof wait) =>
  acts.waitConnectRestAuth({ secret, expect, timeoutMs: AUTH_WAIT_MS });

const restarted = (x: { connectors: number; tasks: number }) =>
  `${x.connectors} connector(s), ${x.tasks} task(s) RUNNING`;

/** A rollout restart of the worker, then every connector and task RUNNING again. */
async function restartWorker(plan: ConnectRestRotationPlan, acts: typeof wait) {
  await acts.restartConnectWorker({
    connector: plan.connector,
    timeoutMs: plan.connectWaitSeconds * 1000,
    restartedAt: restartStamp(),
  });
  return acts.waitAllConnectorsRunning({ timeoutMs: plan.connectWaitSeconds * 1000 });
}

async function preflight(plan: ConnectRestRotationPlan, r: Rotation) {
  const [users, current, connectors, pending, backup] = await Promise.all([
    read.describeConnectRestUsers({ secret: plan.secret, usersKey: plan.usersKey }),
    read.connectRestAuth({ secret: plan.secret }),
    read.connectorsRunning(),
    read.describeCredential({ secret: `${plan.secret}-pending`, keys }).catch(() => null),
    read.describeCredential({ secret: `${plan.secret}-backup`, keys }).catch(() => null),
  ]);
  gatePreflight(r.audit, evaluateConnectRestPreflight(plan, users, current, connectors, [pending, backup]), {
    force: plan.force,
  });
  return users;
}

/** Every check of the pre-flight, each with what it saw and what it needed. */
export function evaluateConnectRestPreflight(
  plan: Pick<ConnectRestRotationPlan, 'secret' | 'usersKey'>,
  users: {
    user: string;
    users: string[];
    fileMatchesSecret: boolean;
    strangerStatus: number | string;
    rekey: { secret: string; user: string } | null;
  },
  current: { status: number | string },
  connectors: { connectors: number; tasks: number; notRunning: string[] },
  leftovers: Array<{ secret: string; user: string } | null>,
): CheckResult[] {
  const left = leftovers.filter((x): x is { secret: string; user: string } => x !== null);
  const rekeyCutOff = users.rekey !== null && users.rekey.secret !== plan.secret && users.rekey.user === users.user;
  return [
    check(
      'secret names a user',
      users.user !== '',
      users.user || 'no username',
      `username and password in ${plan.secret}`,
    ),
    check(
      'users file lists it',
      users.users.includes(users.user),
      users.users.join(', ') || 'no user',
      `${plan.usersKey} of ${plan.secret} lists ${users.user || "the secret's user"}`,
    ),
    check(
      "the file has the secret's password",
      users.fileMatchesSecret,
      users.fileMatchesSecret ? 'yes' : 'no',
      `the password ${plan.usersKey} gives ${users.user || "the secret's user"} is the secret's (else the first restart cuts off its clients)`,
    ),
    check(
      'Connect checks passwords',
      users.strangerStatus === 401,
      typeof users.strangerStatus === 'number'
        ? `HTTP ${users.strangerStatus} to an unknown user`
        : users.strangerStatus,
      'HTTP 401 to an unknown user (the basic-auth extension is installed)',
    ),
    check(
      'Connect accepts it',
      current.status === 200,
      typeof current.status === 'number' ? `HTTP ${current.status}` : current.status,
      'HTTP 200 to GET /connectors',
    ),
    check(
      'connectors running',
      connectors.notRunning.length === 0,
      connectors.notRunning.join(', ') || `${connectors.connectors} connector(s), ${connectors.tasks} task(s) RUNNING`,
      'every connector and task RUNNING',
    ),
    check(
      "rekey's own client moves with it",
      !rekeyCutOff,
      users.rekey ? `rekey sends ${users.rekey.user} from ${users.rekey.secret}` : 'rekey sends no credential',
      `kafkaConnect.auth.secret is ${plan.secret}, or names another user (else phase 3 would cut rekey off)`,
    ),
    check(
      'no rotation half-done',
      left.length === 0,
      left.map((x) => `${x.secret} (${x.user})`).join(', ') || 'none',
      `no ${plan.secret}-pending or -backup (finish or undo the earlier rotation first)`,
    ),
  ];
}
