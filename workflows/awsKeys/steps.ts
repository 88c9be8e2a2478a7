import { type PlannedStep, plannedStep } from '../rotation/definitions.js';
import type { AwsKeysRotationPlan } from '../../contracts/input/awsKeys.js';

/** Pre-flight: an object written within this window counts as "the sink is writing"; if none, wait this long for one. */
export const RECENT_OBJECT_WINDOW_MS = 5 * 60_000;
export const PREFLIGHT_OBJECT_WAIT_MS = 120_000;
/** AWS reports a key's LastUsedDate to the minute and some time after the request: up to the kit's longest wait. */
export const KEY_USE_TIMEOUT_MS = 600_000;
/** A fresh object after a task restart or the deactivation (the sink writes every rotate.interval.ms while data flows). */
export const OBJECT_TIMEOUT_MS = 300_000;
/** IAM is eventually consistent: a deleted key may authenticate for a few seconds more. */
export const REFUSAL_TIMEOUT_MS = 300_000;
/** ... and a new or reactivated key may be refused for a while ("eventually consistent", IAM user guide: changes take time to propagate). */
export const KEY_ACCEPT_TIMEOUT_MS = 300_000;
/** The sink fails a task on a refusal and never retries it: the switch's wait restarts failed tasks this many times. */
export const FAILED_TASK_RESTARTS = 3;

/**
 * The `since` that proves a brand-new key is in use: any use reported from the minute it was
 * created on. AWS reports LastUsedDate to the minute (moto to the microsecond); nobody but the
 * sink can have used the key, because its secret exists only in the store.
 */
export function beforeReportedMinute(createDate: string): string {
  const at = Date.parse(createDate);
  return Number.isNaN(at) ? new Date(0).toISOString() : new Date(Math.floor(at / 60_000) * 60_000 - 1).toISOString();
}

/**
 * The `since` for the old key's watch after the switch: uses reported after the minute the
 * sink's tasks restarted in. AWS reports LastUsedDate to the minute, so the sink's own last
 * uses of the old key (before the restart) may be reported as late as that minute.
 */
export function afterReportedMinute(restartedAt: string): string {
  const at = Date.parse(restartedAt);
  return Number.isNaN(at) ? new Date().toISOString() : new Date(Math.ceil((at + 1) / 60_000) * 60_000).toISOString();
}

/**
 * Every step of the access-key rotation with the call it makes (secrets never shown) and its
 * compensation. The workflow names its steps from here and the dry run prints this list, so the
 * plan an operator reviews is the code that runs. AWS's own order for IAM user keys: create the
 * second key, switch the client, confirm the new key is used, watch the old one, deactivate
 * it, delete it.
 */
export function awsKeySteps(
  p: AwsKeysRotationPlan,
  n: { oldKey: string; inactiveKey: string | null; canary?: boolean },
) {
  const s = p.secret;
  const where = `s3://${p.bucket}/${p.prefix}`;
  const canaryWhere = `${where}${p.canaryTopic}/`;
  return {
    preflight: plannedStep(
      'preflight',
      'preflight',
      `read only: ${p.user} has fewer than two access keys (IAM's limit; two only with deleteInactiveKey and the other one Inactive); ${s}'s key ${n.oldKey} is one of ${p.user}'s Active keys; connector ${p.connector} and its tasks RUNNING; ${n.canary ? `the sink's topics include ${p.canaryTopic} (the canary proves the switch)` : `an object under ${where} from the last ${RECENT_OBJECT_WINDOW_MS / 60_000} min (waits ≤ ${PREFLIGHT_OBJECT_WAIT_MS / 1000} s)`}`,
    ),
    deleteInactive: n.inactiveKey
      ? plannedStep(
          'delete-inactive-key',
          'staging',
          `IAM DeleteAccessKey ${n.inactiveKey} (Inactive, not in ${s}; deleteInactiveKey) — not undone: an Inactive key serves nobody, and a deleted key cannot come back`,
        )
      : null,
    create: plannedStep(
      'create-key',
      'staging',
      `IAM CreateAccessKey for ${p.user}; the new key id and its secret access key go only to secret ${s}-pending (the secret is never shown)`,
      `IAM DeleteAccessKey of the created key (never the one ${s} holds); delete secret ${s}-pending`,
    ),
    newKeyAccepted: plannedStep(
      'new-key-accepted',
      'staging',
      `S3 ListObjectsV2 on ${p.bucket} signed with the new key (from ${s}-pending) until S3 accepts it (≤ ${KEY_ACCEPT_TIMEOUT_MS / 1000} s: IAM is eventually consistent, and the sink fails its task on a refusal)`,
    ),
    promote: plannedStep(
      'promote',
      'switching',
      `copy secret ${s} → ${s}-backup; in ${s}: access-key-id/secret-access-key ← ${s}-pending, every other key unchanged (refused if ${s} changed since it was read)`,
      `copy ${s}-backup → ${s} (${n.oldKey} current again), restart ${p.connector}'s tasks, wait RUNNING, delete ${s}-backup`,
    ),
    restartTasks: plannedStep(
      'restart-tasks',
      'switching',
      `POST /connectors/${p.connector}/tasks/<id>/restart for every task: the sink's config provider re-reads ${s}`,
    ),
    running: plannedStep(
      'running',
      'switching',
      `wait until ${p.connector} and every task are RUNNING (a FAILED task restarted up to ${FAILED_TASK_RESTARTS} times)`,
    ),
    canaryWrite: n.canary
      ? plannedStep(
          'canary-write',
          'verifying',
          `upsert a row marked with this run's id into public.rekey_canary: Debezium carries it to ${p.canaryTopic}, the sink to ${canaryWhere}`,
          'delete the canary row',
        )
      : null,
    canaryArchived: n.canary
      ? plannedStep(
          'canary-archived',
          'verifying',
          `read the newest objects under ${canaryWhere} written after the task restart until one holds the marker, writing the row again every 5 s (≤ ${OBJECT_TIMEOUT_MS / 1000} s): the sink consumed and wrote it with the new key, whatever the traffic`,
        )
      : null,
    newKeyUsed: plannedStep(
      'new-key-used',
      'verifying',
      `IAM GetAccessKeyLastUsed of the new key until it reports a use (≤ ${KEY_USE_TIMEOUT_MS / 1000} s, heartbeating): the sink signs with it`,
    ),
    freshObject: n.canary
      ? null
      : plannedStep(
          'fresh-object',
          'verifying',
          `wait until an object under ${where} is newer than the task restart (≤ ${OBJECT_TIMEOUT_MS / 1000} s): the sink writes with the new key`,
        ),
    oldKeyUnused: plannedStep(
      'old-key-unused',
      'verifying',
      `for ${p.watchSeconds} s, while ${n.oldKey} is still Active, IAM GetAccessKeyLastUsed of it every 5 s: it must not report a use after the minute the sink's tasks restarted (else OldKeyStillUsed: something besides the sink uses it; roll back). Watched before the deactivation: AWS refuses an Inactive key, so its last use cannot move after it`,
    ),
    deactivate: plannedStep(
      'deactivate-old-key',
      'verifying',
      `IAM UpdateAccessKey ${n.oldKey} Inactive`,
      `IAM UpdateAccessKey ${n.oldKey} Active, then S3 signed with it until it accepts it again`,
    ),
    stillWriting: plannedStep(
      'still-writing',
      'verifying',
      n.canary
        ? `${p.connector} and every task RUNNING, and the canary row (written again) found under ${canaryWhere} in an object newer than the deactivation (≤ ${OBJECT_TIMEOUT_MS / 1000} s)`
        : `${p.connector} and every task RUNNING, and an object under ${where} newer than the deactivation (≤ ${OBJECT_TIMEOUT_MS / 1000} s)`,
    ),
    grace: plannedStep(
      'grace',
      'grace',
      `keep ${n.oldKey} (Inactive) for ${p.gracePeriod}, so a rollback can reactivate it (signals: cleanupNow, extendGrace, rollback)`,
    ),
    oldKeyIdle: plannedStep(
      'old-key-idle',
      'cleanup',
      `IAM GetAccessKeyLastUsed of ${n.oldKey}: no use since its deactivation (else the run parks: someone uses it again)`,
    ),
    deleteOld: plannedStep('delete-old-key', 'cleanup', `IAM DeleteAccessKey ${n.oldKey}, only while it is Inactive`),
    oldKeyRefused: plannedStep(
      'old-key-refused',
      'cleanup',
      `S3 ListObjectsV2 on ${p.bucket} signed with ${n.oldKey} (its secret in ${s}-backup) until S3 answers InvalidAccessKeyId (≤ ${REFUSAL_TIMEOUT_MS / 1000} s: IAM is eventually consistent)`,
    ),
    removeVersions: plannedStep(
      'remove-versions',
      'cleanup',
      `delete secrets ${s}-pending and ${s}-backup (the old secret access key is gone everywhere)${n.canary ? '; delete the canary row' : ''}`,
    ),
    accessValidation: plannedStep(
      'access-validation',
      'cleanup',
      'the runbook checklist lines of s3 (read only); a failed line is reported in the result and the audit log, not rolled back',
    ),
  };
}

export type AwsKeySteps = ReturnType<typeof awsKeySteps>;

/** The steps in the order the rotation runs them (the dry run's plan). */
export function orderedAwsKeySteps(steps: AwsKeySteps): PlannedStep[] {
  return Object.values(steps).filter((s): s is PlannedStep => s !== null);
}
