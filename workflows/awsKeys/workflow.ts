import { ApplicationFailure, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import {
  activityOptions,
  describeError,
  parseIsoDuration,
  Rotation,
  procedureActivities,
  type RotationResult,
  gatePreflight,
  resolvePlanOnWorker,
} from '../rotation/index.js';
import type { AwsKeysRotationInput, AwsKeysRotationPlan } from '../../contracts/input/awsKeys.js';
import { evaluateAwsPreflight, HARD_CHECKS, inactiveKeyToDelete, sinkArchives } from './preflight.js';
import {
  type AwsKeySteps,
  awsKeySteps,
  afterReportedMinute,
  beforeReportedMinute,
  FAILED_TASK_RESTARTS,
  KEY_ACCEPT_TIMEOUT_MS,
  KEY_USE_TIMEOUT_MS,
  OBJECT_TIMEOUT_MS,
  orderedAwsKeySteps,
  PREFLIGHT_OBJECT_WAIT_MS,
  RECENT_OBJECT_WINDOW_MS,
  REFUSAL_TIMEOUT_MS,
} from './steps.js';

const { read, change, wait, undo, worker } = procedureActivities();

/** What every phase of one run works with. */
interface Run {
  r: Rotation;
  plan: AwsKeysRotationPlan;
  steps: AwsKeySteps;
  rotationId: string;
  oldKey: string;
  /** The second key's id and creation time (never its secret). */
  newKey: { accessKeyId: string; createDate: string };
  /** When the old key was deactivated (workflow time): a use reported after it is someone still using the key. */
  deactivatedAt: string;
  /** The watch may last up to 900 s, above the kit's 11-minute wait. */
  watch: Activities;
  /** Emergency rotation: no watch of the old key, no grace, deleted at once. */
  compromise?: boolean;
  /**
   * Runs started since the patch do what real IAM requires: S3 must accept a new or
   * reactivated key before the sink signs with it, failed sink tasks are restarted, and the old
   * key is watched while still Active (an Inactive key is refused, so its LastUsedDate cannot
   * move after deactivation).
   */
  asOnAws: boolean;
  /** When the sink's tasks were restarted onto the new key (workflow time). */
  restartedAt: string;
  /** The sink archives the canary topic: a canary row proves each switch, whatever the traffic (null: fresh objects do, as before). */
  canary: { marker: string; prefix: string } | null;
}

/**
 * The runbook's quarterly "Rotate AWS S3 access keys", done AWS's way for IAM users: a second
 * key, the sink switched to it and proven to use it, the old key deactivated and watched, kept
 * inactive through grace, then deleted and proven refused. One rotation per secret at a time
 * (`rotate-aws-keys/<secret>`) and per IAM user (the lease `lease/iam-user/<user>`, held until the run ends).
 */
export async function rotateAwsAccessKeys(input: AwsKeysRotationInput): Promise<RotationResult> {
  // decided before the plan's local activity: a patch marker right after one does not replay
  const sinkCanary = patched('aws-sink-canary');
  const plan = await resolvePlanOnWorker(() => worker.resolveAwsKeysPlan(input));
  const { workflowId, runId } = workflowInfo();
  const r = Rotation.forPlan(plan, {
    procedure: 'aws-keys',
    lease: `connector/${plan.connector}`,
    component: 'aws_s3',
    details: {
      user: plan.user,
      secret: plan.secret,
      connector: plan.connector,
      bucket: plan.bucket,
      gracePeriod: plan.gracePeriod,
      watchSeconds: String(plan.watchSeconds),
    },
    validation: {
      components: ['s3'],
      targets: { awsSecret: plan.secret, bucket: plan.bucket, prefix: plan.prefix, sinkConnector: plan.connector },
    },
    orderedAudit: true,
  });

  return r.run(async () => {
    // 1. Pre-flight: read only; nothing is changed if it fails (forced past only the soft checks, with a reason).
    r.setPhase('preflight');
    const canaryTopic = sinkCanary ? plan.canaryTopic : undefined;
    const found = await r.step(
      'preflight',
      () => preflight(plan, r, canaryTopic),
      (f) =>
        `${plan.user}'s key ${f.oldKey} in ${plan.secret}${f.inactiveKey ? `; Inactive ${f.inactiveKey} to delete` : ''}${f.canary ? `; the canary proves the switch (${canaryTopic})` : ''}`,
    );
    r.from = found.oldKey;
    const steps = awsKeySteps(plan, found);
    if (plan.dryRun) return r.dryRun(orderedAwsKeySteps(steps));
    const watch = proxyActivities<Activities>({
      ...activityOptions.wait,
      startToCloseTimeout: `${Math.max(660, plan.watchSeconds + 60)}s`,
    });
    const asOnAws = patched('aws-iam-eventual-consistency');
    const run: Run = {
      r,
      plan,
      steps,
      rotationId: `${workflowId}/${runId}`,
      oldKey: found.oldKey,
      newKey: { accessKeyId: '', createDate: '' },
      deactivatedAt: '',
      watch,
      asOnAws,
      restartedAt: '',
      canary: found.canary ? { marker: `rekey-${runId}`, prefix: `${plan.prefix}${plan.canaryTopic}/` } : null,
    };

    // one rotation per IAM user, whichever secret holds its key: two would fight over its two-key limit and each other's keys
    if (patched('aws-user-lease')) await r.holdUntilEnd(`iam-user/${plan.user}`, 'user-lease');
    await createSecondKey(run, found.inactiveKey); // 2. the second key, staged (its secret only in the store) and accepted by S3
    await switchSink(run); // 3. the sink signs with the new key: proven by LastUsed and a fresh object
    if (run.asOnAws) {
      await watchOldKey(run); // 4. nobody else signs with the old key while it is still Active
      await deactivateOldKey(run); // 5. the old key Inactive; the sink keeps writing
    } else await deactivateAndWatchOldKey(run);
    // 5. kept inactive; rollback reactivates it until cleanup (compromise: no grace)
    if (run.compromise) r.tracker.note('grace', 'skipped', 'compromise: the old key is deleted at once');
    else await r.holdGrace(parseIsoDuration(plan.gracePeriod)!);
    await deleteOldKey(run); // 6. deleted and proven refused
    return 'completed';
  });
}

/** Phase 2: with deleteInactiveKey an Inactive second key goes first (IAM allows two), then the new key is created into `<secret>-pending`. */
async function createSecondKey(run: Run, inactiveKey: string | null): Promise<void> {
  const { r, plan, steps, rotationId } = run;
  const ref = { user: plan.user, secret: plan.secret, rotationId };
  r.setPhase('staging');
  if (steps.deleteInactive && inactiveKey) {
    await r.change(steps.deleteInactive, {
      run: () => change.deleteAccessKey({ user: plan.user, accessKeyId: inactiveKey, onlyIf: 'Inactive' }),
      show: (x) => (x.deleted ? `deleted ${x.accessKeyId}` : `${x.accessKeyId} was already gone`),
    });
  }
  const created = await r.change(steps.create, {
    run: () => change.createStagedAccessKey(ref),
    undo: () => undo.discardStagedAccessKey(ref),
    show: (k) => `${k.accessKeyId} in ${k.secret} fp=${k.fingerprint}`,
  });
  run.newKey = { accessKeyId: created.accessKeyId, createDate: created.createDate };
  r.to = created.accessKeyId;
  if (run.asOnAws)
    await r.wait(
      steps.newKeyAccepted.name,
      () =>
        wait.waitAccessKeyAccepted({
          secret: `${plan.secret}-pending`,
          bucket: plan.bucket,
          timeoutMs: KEY_ACCEPT_TIMEOUT_MS,
        }),
      acceptedDetail,
    );
}

/** Phase 3: the secret the sink reads is promoted, its tasks restarted, and the switch proven by the new key's LastUsed and a fresh object. */
async function switchSink(run: Run): Promise<void> {
  const { r, plan, steps, rotationId } = run;
  r.setPhase('switching');
  const promoted = await r.change(steps.promote, {
    run: () => change.promoteAwsCredential({ secret: plan.secret, rotationId }),
    undo: () => switchBack(run),
    show: (x) =>
      `${plan.secret} holds ${x.accessKeyId} (fp=${x.fingerprint}); ${x.previousAccessKeyId} in ${plan.secret}-backup`,
  });
  await r.step(steps.restartTasks.name, () => wait.restartConnector({ connector: plan.connector, tasksOnly: true }));
  await r.step(
    steps.running.name,
    () =>
      wait.waitConnectorRunning({
        connector: plan.connector,
        ...(run.asOnAws ? { restartFailed: FAILED_TASK_RESTARTS } : {}),
      }),
    tasksDetail,
  );
  const restarted = new Date().toISOString();
  run.restartedAt = restarted;
  r.checkpoint('switch');

  r.setPhase('verifying');
  // the canary first: on a quiet pipeline it is what makes the sink sign with the new key at all
  if (run.canary) await canaryThroughSink(run, restarted);
  const since = beforeReportedMinute(run.newKey.createDate);
  await r.wait(
    steps.newKeyUsed.name,
    () => wait.waitAccessKeyUsedSince({ accessKeyId: promoted.accessKeyId, since, timeoutMs: KEY_USE_TIMEOUT_MS }),
    (u) => `used ${u.lastUsedDate} (${u.serviceName})`,
  );
  if (steps.freshObject)
    await r.wait(
      steps.freshObject.name,
      () =>
        wait.waitObjectSince({
          bucket: plan.bucket,
          prefix: plan.prefix,
          since: restarted,
          timeoutMs: OBJECT_TIMEOUT_MS,
        }),
      objectDetail,
    );
  r.checkpoint('switch-proven');
}

/** A canary row through PostgreSQL → Debezium → Kafka → the sink, found in the archive in an object written after `since`. */
async function canaryThroughSink(run: Run, since: string): Promise<void> {
  const { r, plan, steps } = run;
  const { marker, prefix } = run.canary!;
  await r.change(steps.canaryWrite!, {
    run: () => change.writeCanary({ marker }),
    undo: () => undo.removeCanary({ marker }),
    show: (c) => `at ${c.lsn}`,
  });
  await r.wait(
    steps.canaryArchived!.name,
    () => wait.waitCanaryArchived({ bucket: plan.bucket, prefix, marker, since, timeoutMs: OBJECT_TIMEOUT_MS }),
    objectDetail,
  );
}

/** Phase 4: for watchSeconds, nobody but the sink (now on the new key) may sign with the old key, still Active; a use is someone the runbook forgot. */
async function watchOldKey(run: Run): Promise<void> {
  const { r, plan, steps, oldKey } = run;
  const since = afterReportedMinute(run.restartedAt);
  if (plan.compromise && patched('compromise-mode'))
    r.tracker.note(steps.oldKeyUnused.name, 'skipped', 'compromise: uses of the old key are not waited out');
  else
    await r.wait(
      steps.oldKeyUnused.name,
      () => run.watch.watchOldKeyUnused({ accessKeyId: oldKey, since, watchMs: plan.watchSeconds * 1000 }),
      (w) => `no use after ${since} in ${Math.round(w.watchedMs / 1000)} s (last used ${w.lastUsedDate ?? 'never'})`,
    );
}

/** Phase 5: the old key Inactive (its undo reactivates it and waits until S3 accepts it again); the sink keeps writing. */
async function deactivateOldKey(run: Run): Promise<void> {
  const { r, plan, steps, oldKey } = run;
  const key = { user: plan.user, accessKeyId: oldKey };
  await r.change(steps.deactivate, {
    run: () => change.setAccessKeyStatus({ ...key, status: 'Inactive' }),
    undo: () => reactivateOldKey(run),
    show: (x) => `${x.accessKeyId} ${x.status}`,
  });
  run.deactivatedAt = new Date().toISOString();
  run.compromise = plan.compromise && patched('compromise-mode');
  await r.wait(steps.stillWriting.name, () => stillWriting(run, run.deactivatedAt), objectDetail);
  r.checkpoint('old-key-unused');
}

/** Before the patch 'aws-iam-eventual-consistency': deactivate, then watch (kept for runs started before it). */
async function deactivateAndWatchOldKey(run: Run): Promise<void> {
  const { r, plan, steps, oldKey } = run;
  const key = { user: plan.user, accessKeyId: oldKey };
  await r.change(steps.deactivate, {
    run: () => change.setAccessKeyStatus({ ...key, status: 'Inactive' }),
    undo: () => undo.setAccessKeyStatus({ ...key, status: 'Active' }),
    show: (x) => `${x.accessKeyId} ${x.status}`,
  });
  run.deactivatedAt = new Date().toISOString();
  const since = run.deactivatedAt;
  // compromise: a use of the old key now is the attacker's; it must not roll the rotation back (that would reactivate the key)
  run.compromise = plan.compromise && patched('compromise-mode');
  if (run.compromise)
    r.tracker.note(steps.oldKeyUnused.name, 'skipped', 'compromise: uses of the old key are not waited out');
  else
    await r.wait(
      steps.oldKeyUnused.name,
      () => run.watch.watchOldKeyUnused({ accessKeyId: oldKey, since, watchMs: plan.watchSeconds * 1000 }),
      (w) => `no use after ${since} in ${Math.round(w.watchedMs / 1000)} s (last used ${w.lastUsedDate ?? 'never'})`,
    );
  await r.wait(steps.stillWriting.name, () => stillWriting(run, since), objectDetail);
  r.checkpoint('old-key-unused');
}

async function stillWriting(run: Run, since: string) {
  await wait.waitConnectorRunning({ connector: run.plan.connector });
  if (run.canary)
    return wait.waitCanaryArchived({
      bucket: run.plan.bucket,
      prefix: run.canary.prefix,
      marker: run.canary.marker,
      since,
      timeoutMs: OBJECT_TIMEOUT_MS,
    });
  return wait.waitObjectSince({
    bucket: run.plan.bucket,
    prefix: run.plan.prefix,
    since,
    timeoutMs: OBJECT_TIMEOUT_MS,
  });
}

/** deactivate's undo: the old key Active again, and accepted by S3 (signed with it, from `<secret>-backup`) before the sink is moved back to it. */
async function reactivateOldKey(run: Run): Promise<void> {
  const { plan, oldKey } = run;
  await undo.setAccessKeyStatus({ user: plan.user, accessKeyId: oldKey, status: 'Active' });
  await undo.waitAccessKeyAccepted({
    secret: `${plan.secret}-backup`,
    bucket: plan.bucket,
    timeoutMs: KEY_ACCEPT_TIMEOUT_MS,
  });
}

/** Phase 6: after grace the old key is deleted (only if still unused and Inactive) and S3 proven to refuse it; the store keeps no old secret. */
async function deleteOldKey(run: Run): Promise<void> {
  const { r, plan, steps, oldKey } = run;
  await r.cleanup(async () => {
    if (!run.compromise)
      await r.persist(
        steps.oldKeyIdle.name,
        () => expectIdle(oldKey, run.deactivatedAt),
        (u) => `last used ${u.lastUsedDate ?? 'never'}`,
      );
    const gone = await r.persist(
      steps.deleteOld.name,
      () => undo.deleteAccessKey({ user: plan.user, accessKeyId: oldKey, onlyIf: 'Inactive' }),
      (x) => (x.deleted ? `deleted ${x.accessKeyId}` : `${x.accessKeyId} was already gone`),
    );
    if (gone) r.audit.record(steps.deleteOld.name, 'old_key_deleted', 'success', { detail: oldKey });
    const refused = await r.persist(
      steps.oldKeyRefused.name,
      () =>
        undo.waitAccessKeyRefused({
          secret: `${plan.secret}-backup`,
          bucket: plan.bucket,
          timeoutMs: REFUSAL_TIMEOUT_MS,
        }),
      (x) => `${x.accessKeyId}: ${x.code} after ${x.waitedMs} ms`,
    );
    if (refused)
      r.audit.record(steps.oldKeyRefused.name, 'old_key_refused', 'success', {
        validation_status: 'passed',
        detail: `${refused.accessKeyId}: ${refused.code}`,
      });
    await r.persist(steps.removeVersions.name, async () => {
      await undo.removeCredentialVersions({ secret: plan.secret, versions: ['pending', 'backup'] });
      if (run.canary) await undo.removeCanary({ marker: run.canary.marker });
    });
  });
}

/** `canaryTopic`: runs since the canary patch ask whether the sink archives it; when it does, no recent traffic is needed. */
async function preflight(
  plan: AwsKeysRotationPlan,
  r: Rotation,
  canaryTopic?: string,
): Promise<{ oldKey: string; inactiveKey: string | null; canary: boolean }> {
  const since = new Date(Date.now() - RECENT_OBJECT_WINDOW_MS).toISOString();
  const recent = () =>
    wait
      .waitObjectSince({ bucket: plan.bucket, prefix: plan.prefix, since, timeoutMs: PREFLIGHT_OBJECT_WAIT_MS })
      .catch((err: unknown) => ({ error: describeError(err) }));
  const [credential, keys, connector, fourth] = await Promise.all([
    read.describeAwsCredential({ secret: plan.secret }),
    read.listAccessKeys({ user: plan.user }),
    read.connectorStatus({ connector: plan.connector }),
    // runs before the canary patch scheduled the object wait here, fourth: replay needs that order
    canaryTopic ? read.connectorTopics({ connector: plan.connector }) : recent(),
  ]);
  const sinkTopics = canaryTopic ? (fourth as { topics: string[]; regex: string | null }) : null;
  const canary = canaryTopic !== undefined && sinkTopics !== null && sinkArchives(canaryTopic, sinkTopics);
  const recentObject = canaryTopic
    ? canary
      ? undefined
      : await recent()
    : (fourth as Awaited<ReturnType<typeof recent>>);
  const facts = {
    user: plan.user,
    keys,
    secretKey: credential.accessKeyId,
    connector,
    recentObject,
    deleteInactiveKey: plan.deleteInactiveKey,
    ...(canaryTopic && sinkTopics ? { canary: { topic: canaryTopic, sinkTopics } } : {}),
  };
  const checks = evaluateAwsPreflight(facts, {
    secret: plan.secret,
    bucket: plan.bucket,
    prefix: plan.prefix,
    windowMinutes: RECENT_OBJECT_WINDOW_MS / 60_000,
  });
  gatePreflight(r.audit, checks, { force: plan.force, unforceable: HARD_CHECKS });
  return { oldKey: credential.accessKeyId, inactiveKey: inactiveKeyToDelete(facts), canary };
}

/** old-key-idle: the old key reports no use since its deactivation (someone reactivated and uses it: park, never delete). */
async function expectIdle(accessKeyId: string, since: string) {
  const u = await read.accessKeyLastUsed({ accessKeyId });
  if (u.lastUsedDate !== null && Date.parse(u.lastUsedDate) > Date.parse(since)) {
    throw ApplicationFailure.nonRetryable(
      `access key ${accessKeyId} was used at ${u.lastUsedDate} (${u.serviceName}), after its deactivation at ${since}: find who uses it before it is deleted`,
      'OldKeyStillUsed',
    );
  }
  return u;
}

/** promote's compensation: the sink back on the old key, the backup gone. */
async function switchBack(run: Run): Promise<void> {
  const { plan, rotationId } = run;
  await undo.restoreAwsCredential({ secret: plan.secret, rotationId });
  await undo.restartConnector({ connector: plan.connector, tasksOnly: true });
  await undo.waitConnectorRunning({ connector: plan.connector });
  await undo.removeCredentialVersions({ secret: plan.secret, versions: ['backup'] });
}

const tasksDetail = (s: { tasks: Array<{ id: number; state: string }> }) =>
  `tasks ${s.tasks.map((t) => `${t.id}:${t.state}`).join(',')}`;
const objectDetail = (o: { key: string; lastModified: string }) => `${o.key} at ${o.lastModified}`;
const acceptedDetail = (a: { accessKeyId: string; waitedMs: number }) =>
  `S3 accepts ${a.accessKeyId} (after ${a.waitedMs} ms)`;
