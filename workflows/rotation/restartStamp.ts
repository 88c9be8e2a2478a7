import { patched } from '@temporalio/workflow';

/**
 * The stamp of a rollout restart (`kubectl.kubernetes.io/restartedAt`), taken from workflow
 * time when the step is scheduled: every retry of that activity carries the same stamp, so a
 * slow reassignment retried three times is one rollout, not three. Runs started before this
 * change scheduled the activity without one and replay that way (patched).
 */
export function restartStamp(): string | undefined {
  return patched('deterministic-restart') ? new Date().toISOString() : undefined;
}
